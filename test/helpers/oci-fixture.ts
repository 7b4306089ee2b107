// Real containers for oci/ and pod/ integration tests: a temp state dir, an OciRuntime for crun or runc
// (through crius-oci-wrap on hybrid hosts), containers from a busybox rootfs and a minimal spec, cgroups
// beneath our own, and a cleanup that proves nothing leaked.
import { CONMON, CRUN, RUNC } from './host-binaries.js';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  cgroupParentFor, containerCgroupsPath, detectCgroupBase, detectCgroupLayout, removeCgroup, runtimeHiddenMounts,
  cgroupExists, type CgroupLayout,
} from '../../src/cgroup/mode.js';
import { createOciRuntime, type OciRuntime, type CreatedContainer } from '../../src/oci/runtime.js';
import { readExit, type ContainerExit } from '../../src/oci/exit-files.js';
import { makeBusyboxRootfs } from './busybox-rootfs.js';
import { minimalSpec, type MinimalSpecOptions } from './minimal-spec.js';
import { nativeBuildPath } from '../../src/common/install-root.js';

export const OCI_WRAP_BIN = nativeBuildPath('crius-oci-wrap');
export const PAUSE_BIN = nativeBuildPath('crius-pause');
export const HANDLERS = [
  { name: 'crun', path: CRUN },
  { name: 'runc', path: RUNC },
];

export function ociUnavailable(runtimePath: string): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const f of [runtimePath, CONMON, '/bin/busybox', OCI_WRAP_BIN]) {
    if (!existsSync(f)) return `${f} is missing (native helpers: make -C native)`;
  }
  return null;
}

interface TestContainer {
  id: string;
  bundle: string;
  logPath: string;
  persistDir: string;
  created: CreatedContainer;
}

export interface OciFixture {
  dir: string;
  runtime: OciRuntime;
  layout: CgroupLayout;
  cgroupBase: string;
  podId: string;
  podParent: string;
  exitDir: string;
  /** Writes a bundle (busybox rootfs + minimal spec with cgroupsPath under the pod); cleanup deletes it. */
  prepare(spec: MinimalSpecOptions, o?: { id?: string; rootfs?: (dir: string) => Promise<void>; noCgroup?: boolean }): Promise<Omit<TestContainer, 'created'>>;
  /** prepare() and create it through conmon. */
  create(spec: MinimalSpecOptions, o?: { id?: string; rootfs?: (dir: string) => Promise<void>; noCgroup?: boolean }): Promise<TestContainer>;
  waitExit(c: Omit<TestContainer, 'created'>, timeoutMs?: number): Promise<ContainerExit>;
  /** Deletes every container, removes the pod cgroup, kills stray conmons and removes the dir; returns leaks. */
  cleanup(): Promise<string[]>;
}

async function conmonPidsMentioning(text: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.startsWith(`${CONMON}\0`) && cmd.includes(text)) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}


export async function createOciFixture(handler: { name: string; path: string }): Promise<OciFixture> {
  const dir = await mkdtemp('/tmp/crius-oci-');
  const layout = await detectCgroupLayout();
  const cgroupBase = await detectCgroupBase(layout);
  const podId = `p${randomBytes(6).toString('hex')}`;
  const podParent = cgroupParentFor(cgroupBase, podId);
  const exitDir = path.join(dir, 'exits');
  const runtime = createOciRuntime({
    name: handler.name, path: handler.path, root: path.join(dir, 'root'), socketDir: path.join(dir, 's'),
    wrapperPath: OCI_WRAP_BIN, hideMounts: runtimeHiddenMounts(layout),
  });
  const containers: Omit<TestContainer, 'created'>[] = [];
  const fx: OciFixture = {
    dir, runtime, layout, cgroupBase, podId, podParent, exitDir,
    async prepare(spec, o = {}) {
      const id = o.id ?? `c${randomBytes(6).toString('hex')}`;
      const bundle = path.join(dir, 'b', id);
      const rootfs = path.join(bundle, 'rootfs');
      await mkdir(bundle, { recursive: true });
      if (o.rootfs) await o.rootfs(rootfs);
      else await makeBusyboxRootfs(rootfs);
      const full = minimalSpec(o.noCgroup ? spec : { cgroupsPath: containerCgroupsPath(podParent, id), ...spec });
      await writeFile(path.join(bundle, 'config.json'), JSON.stringify(full));
      const logPath = path.join(dir, 'logs', `${id}.log`);
      const persistDir = path.join(dir, 'persist', id);
      await mkdir(persistDir, { recursive: true });
      const c = { id, bundle, logPath, persistDir };
      containers.push(c);
      return c;
    },
    async create(spec, o = {}) {
      const c = await fx.prepare(spec, o);
      const created = await runtime.create(c.bundle, c.id, { logPath: c.logPath, exitDir, persistDir: c.persistDir, terminal: spec.terminal ?? false });
      return { ...c, created };
    },
    async waitExit(c: Omit<TestContainer, 'created'>, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const e = await readExit(c.id, { exitDir, persistDir: c.persistDir, bundle: c.bundle });
        if (e) return e;
        if (Date.now() > deadline) throw new Error(`container ${c.id} did not exit within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async cleanup() {
      const leaks: string[] = [];
      for (const c of containers) {
        await runtime.delete(c.id, { force: true }).catch(() => undefined);
      }
      // conmon exits right after its container; give it a moment, then anything left is a leak.
      for (let i = 0; i < 50 && (await conmonPidsMentioning(dir)).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
      for (const pid of await conmonPidsMentioning(dir)) {
        leaks.push(`conmon ${pid} still running`);
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
      const { left } = await removeCgroup(layout, podParent, cgroupBase);
      leaks.push(...left.map((l) => `cgroup ${l}`));
      leaks.push(...(await cgroupExists(layout, podParent)).map((d) => `cgroup ${d} still exists`));
      const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(dir));
      leaks.push(...mounts.map((m) => `mount ${m}`));
      await rm(dir, { recursive: true, force: true });
      return leaks;
    },
  };
  return fx;
}
