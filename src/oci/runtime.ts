// One OCI runtime handler (crun or runc) driven the way CRI-O drives it (internal/oci/runtime_oci.go;
// docs/ARCHITECTURE.md, "Containers under conmon"): every container is
// created through its own conmon, which supervises it, writes its CRI log and its exit file, and
// outlives the daemon; start/kill/state/delete/update are direct runtime calls; ExecSync is a short
// `<runtime> exec` run by the daemon (exec-sync.ts). On hybrid cgroup hosts every runtime call, including the ones conmon makes, goes
// through native/crius-oci-wrap with the cgroup2 mount hidden (see cgroup/mode.ts).
import { constants } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CriusError, failedPrecondition, internal, notFound, wrap } from '../common/errors.js';
import { ExecError, run, type Runner } from '../common/exec.js';
import { conmonCreateArgv, spawnConmon, type RuntimeInvocation } from './conmon.js';
import { runExecSync } from './exec-sync.js';
import { processStartTime } from './process-liveness.js';
import { locateHostBinary } from '../common/host-binaries.js';
import { conmonScope } from '../cgroup/driver.js';

interface OciHandlerConfig {
  /** Handler name (RuntimeClass handler), e.g. "crun". */
  name: string;
  /** The runtime binary (crun or runc). */
  path: string;
  /** The runtime's state dir (--root), e.g. /run/crius/runtime/crun. */
  root: string;
  /** Where conmon puts its attach-socket symlinks (--socket-dir-path); keep it short (sun_path is 108 bytes). */
  socketDir: string;
  /** Scratch dir for ExecSync files. Default: <root>/exec. */
  execDir?: string;
  conmonPath?: string;
  /** native/build/crius-oci-wrap; required when hideMounts is not empty. */
  wrapperPath?: string;
  /** Mounts to hide from the runtime (cgroup/mode.ts runtimeHiddenMounts). */
  hideMounts?: string[];
  /** ExecSync: how long to keep reading output a background child writes after the command exited. */
  execDrainMs?: number;
  /**
   * The systemd cgroup driver (cgroup/driver.ts): the runtime gets --systemd-cgroup (containers become
   * transient scopes), and each conmon starts in its own scope in `conmonSlice` through systemd-run, so
   * neither is in the daemon's cgroup and `systemctl restart crius` leaves both running.
   */
  systemd?: { conmonSlice: string; systemdRun?: string };
  /**
   * Called just before a runtime call that moves a process into a cgroup (create, exec), so the kernel's
   * wait before that move overlaps the runtime's start-up (cgroup/attach-primer.ts).
   */
  primeCgroupAttach?: () => void;
}

const DEFAULT_EXEC_DRAIN_MS = 3000;
/** ExecSync output kept per stream (CRI-O's limit); the kubelet's probes need far less. */
const EXEC_SYNC_MAX_BYTES = 16 * 1024 * 1024;

interface CreateContainerOptions {
  /** The CRI log file (k8s-file format). */
  logPath: string;
  /** conmon writes <exitDir>/<id> with the exit status. */
  exitDir: string;
  /** conmon writes `exit` and `oom` here (kept per container, survives the exits-dir file). */
  persistDir: string;
  terminal?: boolean;
  stdin?: boolean;
  stdinOnce?: boolean;
  /** Container name for conmon's diagnostics. */
  name?: string;
  /** Bytes; conmon truncates (not rotates) past it, so the kubelet's rotation is preferred (default off). */
  logSizeMax?: number;
  timeoutMs?: number;
}

export interface CreatedContainer {
  /** The container's init pid (host pid namespace). */
  pid: number;
  /** The daemonized conmon supervising it. */
  conmonPid: number;
  /** conmon's /proc/<pid>/stat start time, for liveness checks after a daemon restart. */
  conmonStartTime: string | undefined;
}

type RuntimeStatus = 'creating' | 'created' | 'running' | 'stopped' | 'paused';

interface RuntimeState {
  id: string;
  status: RuntimeStatus;
  pid: number;
  bundle: string;
  created?: string;
}

interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  /** The exec'd process's exit code (a timeout is a DEADLINE_EXCEEDED error instead). */
  exitCode: number;
  timedOut: boolean;
  /** What cut the output short, for the daemon's log. */
  notes?: string[];
}

export interface OciRuntime {
  readonly name: string;
  readonly config: OciHandlerConfig;
  /** How to run `<runtime> <args>` by hand (wrapper and --root included), e.g. for streaming exec. */
  command(args: readonly string[]): { file: string; args: string[] };
  /** The `-r` binary and --runtime-arg list conmon gets. */
  invocation(): RuntimeInvocation;
  create(bundle: string, id: string, o: CreateContainerOptions): Promise<CreatedContainer>;
  start(id: string): Promise<void>;
  /** Sends a signal (name like "SIGTERM" or "KILL", or a number). NOT_FOUND if the container is gone or not running. */
  kill(id: string, signal: string | number, o?: { all?: boolean }): Promise<void>;
  state(id: string): Promise<RuntimeState>;
  /** Deletes the runtime's state (and its cgroup). NOT_FOUND if unknown; with force, also a running one. */
  delete(id: string, o?: { force?: boolean }): Promise<void>;
  /** Runs process (an OCI `process` object) in the container; timeoutSec 0 = no timeout. */
  execSync(id: string, processSpec: object, timeoutSec: number): Promise<ExecSyncResult>;
  /**
   * Makes conmon reopen the log (after the kubelet renamed it) and waits until the new file exists.
   * NOT_FOUND when conmon is gone. The CRI wants an error for a container that is not running: the
   * caller checks its own state first (conmon outlives its container by a moment).
   */
  reopenLog(bundle: string, logPath: string, timeoutMs?: number): Promise<void>;
  /** `update --resources`: an OCI LinuxResources object. */
  update(id: string, resources: object): Promise<void>;
}

const NOT_FOUND_PATTERNS = [
  /does not exist/i, /no such process/i, /container not running/i, /not running/i,
  /no such file or directory/i, /container .* not found/i, /stopped container/i,
];

/**
 * Maps a failed runtime command to a CriusError: "does not exist", "no such process", "not running" and
 * a missing state file become NOT_FOUND (as CRI-O runtimeCmd does); the rest INTERNAL with stderr. Pure.
 */
export function mapRuntimeError(what: string, err: unknown): CriusError {
  if (err instanceof CriusError) return wrap(what, err);
  if (err instanceof ExecError) {
    const text = `${err.stderr}\n${err.stdout}`.trim();
    if (err.notFound) return failedPrecondition(`${what}: ${err.command.split(' ')[0]} is missing; install it or fix the handler's path`);
    if (!err.timedOut && NOT_FOUND_PATTERNS.some((re) => re.test(text))) {
      return notFound(`${what}: ${lastLines(text)}`);
    }
    return internal(`${what}: ${err.timedOut ? 'timed out' : lastLines(text) || err.message}`, err);
  }
  return internal(`${what}: ${err instanceof Error ? err.message : String(err)}`, err);
}

function lastLines(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '').slice(-3).join(' | ');
}

function signalArg(signal: string | number): string {
  if (typeof signal === 'number') return String(signal);
  const s = signal.trim().toUpperCase();
  return /^\d+$/.test(s) ? s : s.replace(/^SIG/, '');
}

// conmon and the runtime it runs get PATH only (CRI-O's monitor_env): nothing of the daemon's own
// environment (NOTIFY_SOCKET, LISTEN_FDS, proxies) leaks into how containers are created.
function conmonEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
}

async function waitForFile(file: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await stat(file);
      return true;
    } catch { /* not yet */ }
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * How conmon is started for a container. systemd driver: in crius-conmon-<id>.scope from its first
 * instruction (systemd-run --scope creates the scope, then execs conmon in place, keeping the sync and
 * start pipes), so its daemonized child stays there, out of the daemon's cgroup; the scope goes away
 * with conmon. Pure.
 */
export function conmonCommand(conmon: string, argv: readonly string[], id: string, systemd?: OciHandlerConfig['systemd']): [string, string[]] {
  if (!systemd) return [conmon, [...argv]];
  return [systemd.systemdRun ?? '/usr/bin/systemd-run', [
    '--scope', '--quiet', '--collect', `--unit=${conmonScope(id)}`, `--slice=${systemd.conmonSlice}`, conmon, ...argv,
  ]];
}

export function createOciRuntime(cfg: OciHandlerConfig, runner: Runner = run): OciRuntime {
  const conmon = cfg.conmonPath ?? locateHostBinary('conmon');
  const hide = cfg.hideMounts ?? [];
  if (hide.length > 0 && !cfg.wrapperPath) {
    throw failedPrecondition(`OCI handler "${cfg.name}": mounts ${hide.join(', ')} must be hidden from the runtime but no wrapper (crius-oci-wrap) is configured; build it with make -C native`);
  }
  const globalArgs = [`--root=${cfg.root}`, ...(cfg.systemd ? ['--systemd-cgroup'] : [])];
  const invocation = (): RuntimeInvocation => hide.length === 0
    ? { file: cfg.path, globalArgs }
    : { file: cfg.wrapperPath ?? '', globalArgs: [...hide.flatMap((h) => ['--hide', h]), cfg.path, ...globalArgs] };
  const command = (args: readonly string[]): { file: string; args: string[] } => {
    const inv = invocation();
    return { file: inv.file, args: [...inv.globalArgs, ...args] };
  };
  const runtime = async (what: string, args: readonly string[], timeoutMs = 30_000): Promise<string> => {
    const c = command(args);
    try {
      return (await runner(c.file, c.args, { timeoutMs })).stdout;
    } catch (err) {
      throw mapRuntimeError(what, err);
    }
  };
  const execDir = cfg.execDir ?? path.join(cfg.root, 'exec');

  return {
    name: cfg.name,
    config: cfg,
    command,
    invocation,

    async create(bundle, id, o) {
      const what = `create container ${id} with ${cfg.name}`;
      await mkdir(cfg.root, { recursive: true, mode: 0o700 });
      await mkdir(cfg.socketDir, { recursive: true, mode: 0o700 });
      await mkdir(o.exitDir, { recursive: true, mode: 0o700 });
      await mkdir(o.persistDir, { recursive: true, mode: 0o700 });
      await mkdir(path.dirname(o.logPath), { recursive: true });
      const conmonPidFile = path.join(bundle, 'conmon.pid');
      const argv = conmonCreateArgv({
        id, bundle, runtime: invocation(), logPath: o.logPath, exitDir: o.exitDir, persistDir: o.persistDir,
        socketDir: cfg.socketDir, conmonPidFile, containerPidFile: path.join(bundle, 'pidfile'),
        ...(o.name !== undefined ? { name: o.name } : {}),
        ...(o.terminal !== undefined ? { terminal: o.terminal } : {}),
        ...(o.stdin !== undefined ? { stdin: o.stdin } : {}),
        ...(o.stdinOnce !== undefined ? { stdinOnce: o.stdinOnce } : {}),
        ...(o.logSizeMax !== undefined ? { logSizeMax: o.logSizeMax } : {}),
      });
      const [file, args] = conmonCommand(conmon, argv, id, cfg.systemd);
      cfg.primeCgroupAttach?.();
      let r;
      try {
        r = await spawnConmon(file, args, { cwd: bundle, env: conmonEnv(), timeoutMs: o.timeoutMs ?? 60_000 });
      } catch (err) {
        // conmon hung or died (its process group was killed): do not leave a created container behind.
        await runtime('cleanup', ['delete', '--force', id]).catch(() => undefined);
        throw wrap(what, err);
      }
      const pid = r.message.pid;
      if (pid === undefined || pid <= 0) {
        // conmon already exited; the runtime may have left a half-created container behind.
        await runtime('cleanup', ['delete', '--force', id]).catch(() => undefined);
        const msg = (r.message.message ?? 'no message').trim();
        throw internal(`${what}: the runtime failed: ${msg}`);
      }
      let conmonPid = 0;
      try {
        conmonPid = Number((await readFile(conmonPidFile, 'utf8')).trim());
        // conmon writes it 0644 in the bundle, which the pod's users may traverse: keep it root's.
        await chmod(conmonPidFile, 0o600);
      } catch { /* reported below as unknown */ }
      return { pid, conmonPid, conmonStartTime: await processStartTime(conmonPid) };
    },

    async start(id) {
      await runtime(`start container ${id}`, ['start', id]);
    },

    async kill(id, signal, o = {}) {
      await runtime(`signal container ${id} (${signalArg(signal)})`, ['kill', ...(o.all ? ['--all'] : []), id, signalArg(signal)]);
    },

    async state(id) {
      const out = await runtime(`state of container ${id}`, ['state', id]);
      let v: Record<string, unknown>;
      try {
        v = JSON.parse(out) as Record<string, unknown>;
      } catch {
        throw internal(`state of container ${id}: ${cfg.name} printed no JSON: ${out.slice(0, 200)}`);
      }
      const status = String(v['status'] ?? '') as RuntimeStatus;
      const created = typeof v['created'] === 'string' ? v['created'] : undefined;
      return {
        id: String(v['id'] ?? id), status, pid: Number(v['pid'] ?? 0), bundle: String(v['bundle'] ?? ''),
        ...(created !== undefined ? { created } : {}),
      };
    },

    async delete(id, o = {}) {
      await runtime(`delete container ${id}`, ['delete', ...(o.force ? ['--force'] : []), id]);
    },

    async execSync(id, processSpec, timeoutSec) {
      const what = `exec in container ${id}`;
      await mkdir(execDir, { recursive: true, mode: 0o700 });
      const dir = await mkdtemp(path.join(execDir, 'x-'));
      try {
        const specFile = path.join(dir, 'process.json');
        const pidFile = path.join(dir, 'pid');
        // ExecSync has no tty in the CRI: output comes back through our pipes.
        await writeFile(specFile, JSON.stringify({ ...processSpec, terminal: false }), { mode: 0o600 });
        const c = command(['exec', '--process', specFile, '--pid-file', pidFile, id]);
        cfg.primeCgroupAttach?.();
        const r = await runExecSync({
          file: c.file, args: c.args, env: conmonEnv(), cwd: dir, pidFile,
          timeoutMs: timeoutSec > 0 ? timeoutSec * 1000 : 0,
          drainMs: cfg.execDrainMs ?? DEFAULT_EXEC_DRAIN_MS, maxBytes: EXEC_SYNC_MAX_BYTES,
        });
        if (r.spawnError) throw mapRuntimeError(what, new ExecError({ command: c.file, code: null, signal: null, stdout: '', stderr: '', timedOut: false, notFound: (r.spawnError as NodeJS.ErrnoException).code === 'ENOENT', reason: r.spawnError.message }));
        if (r.timedOut) {
          // The kubelet's exec probes read DeadlineExceeded as "probe timed out".
          throw new CriusError('DEADLINE_EXCEEDED', `${what}: the command timed out after ${timeoutSec} s; it and its children were killed`);
        }
        if (r.code === null) throw internal(`${what}: the runtime was killed by ${r.signal ?? 'a signal'}`);
        if (!r.started && r.code !== 0) {
          // The runtime failed before starting anything (container gone or stopped, bad spec): its error.
          throw mapRuntimeError(what, new ExecError({ command: c.file, code: r.code, signal: null, stdout: '', stderr: r.stderr.toString(), timedOut: false, notFound: false, reason: `exit status ${r.code}` }));
        }
        const notes = [
          r.drainCut ? `output after the command exited was cut: a background process kept its stdout/stderr open past ${cfg.execDrainMs ?? DEFAULT_EXEC_DRAIN_MS} ms` : '',
          r.truncated ? `output beyond ${EXEC_SYNC_MAX_BYTES} bytes per stream was dropped` : '',
        ].filter(Boolean);
        return { stdout: r.stdout, stderr: r.stderr, exitCode: r.code, timedOut: false, notes };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },

    async reopenLog(bundle, logPath, timeoutMs = 5000) {
      const what = `reopen the log of the container in ${bundle}`;
      let fh;
      try {
        // O_NONBLOCK: with no reader (conmon gone) the open fails with ENXIO instead of hanging; no O_CREAT,
        // so a missing fifo is not replaced by a regular file.
        fh = await open(path.join(bundle, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENXIO') throw notFound(`${what}: its conmon is not running (ctl fifo ${code}); the container must be running`);
        throw internal(`${what}: ${err instanceof Error ? err.message : String(err)}`, err);
      }
      try {
        await fh.write('2 0 0\n');
      } finally {
        await fh.close();
      }
      if (!await waitForFile(logPath, timeoutMs)) {
        throw internal(`${what}: conmon did not recreate ${logPath} within ${timeoutMs} ms`);
      }
    },

    async update(id, resources) {
      await mkdir(execDir, { recursive: true, mode: 0o700 });
      const dir = await mkdtemp(path.join(execDir, 'u-'));
      try {
        const file = path.join(dir, 'resources.json');
        await writeFile(file, JSON.stringify(resources), { mode: 0o600 });
        await runtime(`update resources of container ${id}`, ['update', `--resources=${file}`, id]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
