// The container domain's OciPort over the oci/ module: one OciRuntime per configured handler, conmon exit
// files in <state>/exits, persist dirs per container, the exit watcher, and the host setup (hybrid
// cgroups, cgroup base, oom_score_adj floor) decided once at start.
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { nativeBuildPath } from '../../common/install-root.js';
import { CriusError } from '../../common/errors.js';
import { runtimeHandler } from '../../oci/runtime-handlers.js';
import type { Logger } from '../../common/logger.js';
import type { Config } from '../../config/config.js';
import { createOciRuntime, type OciRuntime } from '../../oci/runtime.js';
import { readExit, ExitWatcher } from '../../oci/exit-files.js';
import { processAlive } from '../../oci/process-liveness.js';
import { recoverContainer } from '../../oci/recovery.js';
import type { OciHost } from '../../oci/host-setup.js';
import { containerCgroupPath } from '../../cgroup/host.js';
import { createAttachPrimer } from '../../cgroup/attach-primer.js';
import type { OciPort } from '../../container/ports.js';
import { loadedProfiles, type AppArmorState } from '../../oci/apparmor.js';

export interface OciAdapter extends OciPort {
  runtime(handler: string): OciRuntime;
  /** Whether containers are systemd scopes (cgroup_manager = "systemd"). */
  systemdCgroups(): boolean;
  close(): void;
}

export function createOciAdapter(config: Config, host: OciHost, logger: Logger, apparmor?: AppArmorState): OciAdapter {
  const exitDir = join(config.stateDir, 'exits');
  const persistDir = (id: string): string => join(config.stateDir, 'persist', id);
  const bundleOf = (id: string): string => join(config.stateDir, 'containers', id);
  const primer = createAttachPrimer(host.layout);
  const runtimes: OciRuntime[] = config.runtimes.map((h) => createOciRuntime({
    name: h.name,
    path: h.path,
    root: join(config.stateDir, 'runtime', h.name),
    // conmon's attach symlinks: sun_path is 108 bytes, so keep this short.
    socketDir: join(config.stateDir, 'a'),
    wrapperPath: nativeBuildPath('crius-oci-wrap'),
    hideMounts: host.hideMounts,
    execDrainMs: config.streaming.execSyncDrainSeconds * 1000,
    // conmon scopes go in system.slice (CRI-O's conmon_cgroup default): not charged to the pod.
    ...(host.driver === 'systemd' ? { systemd: { conmonSlice: 'system.slice' } } : {}),
    primeCgroupAttach: () => primer.prime(),
  }));
  const rt = (handler: string): OciRuntime => runtimeHandler(runtimes, handler);
  const watcher = new ExitWatcher(exitDir);
  const listeners: ((id: string) => void)[] = [];
  watcher.on('exit', (e: { id: string }) => { for (const l of listeners) l(e.id); });
  watcher.on('error', (err: Error) => logger.warn('exit watcher', { error: err.message }));
  // The exits dir must exist before the watch starts.
  void import('node:fs').then((fs) => { fs.mkdirSync(exitDir, { recursive: true, mode: 0o700 }); watcher.start(); });
  const ignoreGone = async (p: Promise<void>): Promise<void> => {
    try {
      await p;
    } catch (err) {
      if (!(err instanceof CriusError && err.code === 'NOT_FOUND')) throw err;
    }
  };
  return {
    runtime: rt,
    async create(handler, o) {
      const c = await rt(handler).create(o.bundle, o.id, {
        logPath: o.logPath, exitDir, persistDir: persistDir(o.id), terminal: o.terminal, stdin: o.stdin, stdinOnce: o.stdinOnce,
      });
      return { pid: c.pid, conmonPid: c.conmonPid, conmonStartTime: c.conmonStartTime };
    },
    start: (handler, id) => rt(handler).start(id),
    kill: (handler, id, signal) => ignoreGone(rt(handler).kill(id, signal)),
    delete: (handler, id) => ignoreGone(rt(handler).delete(id, { force: true })),
    async status(handler, id) {
      try {
        return (await rt(handler).state(id)).status;
      } catch (err) {
        if (err instanceof CriusError && err.code === 'NOT_FOUND') return undefined;
        throw err;
      }
    },
    async exitOf(id) {
      const e = await readExit(id, { exitDir, persistDir: persistDir(id), bundle: bundleOf(id) });
      return e && { exitCode: e.exitCode, finishedAt: e.finishedAtNs, oomKilled: e.oomKilled };
    },
    // Synchronous: one directory of at most a few thousand names (~0.2 ms), where the libuv pool may be
    // busy with an image's 20,000 files and make ListContainers wait for all of them.
    async exitsWritten() {
      try {
        return new Set(readdirSync(exitDir));
      } catch {
        return new Set<string>();
      }
    },
    alive: async (c) => (c.pid !== undefined && c.startTime !== undefined ? processAlive(c.pid, c.startTime) : false),
    async recover(id, conmon, rebooted) {
      const r = await recoverContainer(id, { exitDir, persistDir: persistDir(id), bundle: bundleOf(id) }, conmon, rebooted);
      if (r.state === 'running') return r;
      const exit = { exitCode: r.exit.exitCode, finishedAt: r.exit.finishedAtNs, oomKilled: r.exit.oomKilled };
      return r.state === 'exited' ? { state: 'exited', exit } : { state: 'lost', exit, reason: r.reason, message: r.message };
    },
    async execSync(handler, id, proc, timeout) {
      const r = await rt(handler).execSync(id, proc, timeout);
      for (const note of r.notes ?? []) logger.warn(`exec sync: ${note}`, { container_id: id });
      return r;
    },
    reopenLog: (id, logPath) => runtimes[0]!.reopenLog(bundleOf(id), logPath),
    update: (handler, id, resources) => rt(handler).update(id, resources),
    async cleanup(id) {
      watcher.forget(id);
      await rm(join(exitDir, id), { force: true });
      await rm(persistDir(id), { recursive: true, force: true });
    },
    onExit: (l) => { listeners.push(l); },
    cgroupsPath: (podParent, id) => containerCgroupPath(host, podParent, id),
    oomScoreAdjMin: () => host.oomScoreAdjFloor,
    cgroupV2: () => host.layout.mode === 'v2',
    systemdCgroups: () => host.driver === 'systemd',
    apparmor: () => (apparmor?.enabled
      ? { enabled: true, ...(apparmor.defaultProfile ? { defaultProfile: apparmor.defaultProfile } : {}), loaded: (n: string) => loadedProfiles().has(n) }
      : { enabled: false }),
    close: () => watcher.stop(),
  };
}
