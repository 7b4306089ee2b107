// ExecSync as the kubelet's probes need it: `<runtime> exec --process spec.json ID`, run by the daemon
// with its own stdout/stderr pipes (not through conmon, which exits on a timeout without reaping what
// it killed, leaving a zombie `sleep` that `pgrep` inside the container still finds, and which stops
// reading when the main process exits).
// - Output is collected until both pipes close, so a background child's late output is kept; a child
//   that keeps a pipe open forever is cut after `drainMs`, and the result says so.
// - On timeout every process of the exec'd tree (the runtime's pid file, then its descendants in /proc)
//   is SIGKILLed and the call returns only once the runtime has reaped the main one and the rest are
//   gone (or zombies of the container's init, which only that init can reap).
// In the daemon the runtime starts from crius-spawner (common/spawner.ts: a probe no longer forks the
// daemon); elsewhere (tests, no spawner) from this process. Both paths share the kill logic.
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { currentSpawner } from '../common/exec.js';
import type { Spawner } from '../common/spawner.js';

interface ExecSyncRun {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The pid file the runtime writes for the exec'd process (--pid-file). */
  pidFile: string;
  /** 0: no timeout. */
  timeoutMs: number;
  /** How long to keep reading after the runtime exited, for pipes a background child still holds. */
  drainMs: number;
  /** Per-stream cap; more is dropped and reported. */
  maxBytes: number;
}

interface ExecSyncOutcome {
  stdout: Buffer;
  stderr: Buffer;
  /** The runtime's exit code (the process's, as crun/runc pass it on), or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The drain bound stopped reading while a pipe was still open. */
  drainCut: boolean;
  truncated: boolean;
  /** Spawning the runtime failed (ENOENT...). */
  spawnError?: Error;
  /** The runtime wrote the pid file: the process was started (else a failure is the runtime's own). */
  started: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** pid -> ppid for every process, from /proc/<pid>/stat. */
async function parentMap(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    if (Number.isInteger(ppid)) out.set(Number(name), ppid);
  }
  return out;
}

/** `pid` and all its descendants. */
async function processTree(pid: number): Promise<number[]> {
  const parents = await parentMap();
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parents) if (parent === tree[i] && !tree.includes(child)) tree.push(child);
  }
  return tree;
}

/** Running (not gone, not a zombie). */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!stat) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

async function readPid(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const n = Number(text.trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** The runtime process of one ExecSync, however it was started. */
interface RuntimeProcess {
  exited(): boolean;
  /** SIGKILLs the runtime itself. */
  kill(): void;
}

/** Timeout: kills the exec'd tree and waits until the runtime has exited and the rest stopped running. */
async function killTree(pidFile: string, runtime: RuntimeProcess): Promise<void> {
  // The pid file appears once the runtime has started the process; until then there is nothing to kill
  // but the runtime itself, which we stop only if it never gets that far.
  let pid: number | undefined;
  for (let i = 0; i < 500 && !runtime.exited() && pid === undefined; i++) {
    pid = await readPid(pidFile);
    if (pid === undefined) await sleep(10);
  }
  const tree = pid !== undefined ? await processTree(pid) : [];
  for (const p of tree) { try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ } }
  if (pid === undefined && !runtime.exited()) runtime.kill();
  // The runtime reaps the main process and exits; the rest must stop running (or wait as zombies of
  // the container's init, out of our reach).
  for (let i = 0; i < 1000 && !runtime.exited(); i++) await sleep(10);
  if (!runtime.exited()) runtime.kill();
  for (let i = 0; i < 500; i++) {
    const alive = await Promise.all(tree.map(running));
    if (!alive.includes(true)) break;
    for (const [k, p] of tree.entries()) if (alive[k]) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    await sleep(10);
  }
}

export function runExecSync(o: ExecSyncRun): Promise<ExecSyncOutcome> {
  const s = currentSpawner();
  return s ? runViaSpawner(s, o) : runHere(o);
}

async function runViaSpawner(s: Spawner, o: ExecSyncRun): Promise<ExecSyncOutcome> {
  const c = s.run({ file: o.file, args: o.args, env: o.env, cwd: o.cwd, maxOutputBytes: o.maxBytes, truncate: true });
  let exited = false;
  let finished = false;
  let timedOut = false;
  let killing: Promise<void> | undefined;
  let drainTimer: NodeJS.Timeout | undefined;
  const timer = o.timeoutMs > 0 ? setTimeout(() => {
    if (exited) return;
    timedOut = true;
    killing = killTree(o.pidFile, { exited: () => exited, kill: () => c.kill('SIGKILL') });
  }, o.timeoutMs) : undefined;
  void c.exited.then(() => {
    exited = true;
    // A timed-out call does not wait for pipes: whatever still holds them was just killed.
    if (!finished) drainTimer = setTimeout(() => c.cut(), timedOut ? 0 : o.drainMs);
  });
  const r = await c.done;
  finished = true;
  exited = true;
  clearTimeout(timer);
  clearTimeout(drainTimer);
  if (killing) await killing;
  const started = (await readPid(o.pidFile)) !== undefined;
  if (r.kind === 'failed') {
    const spawnError = Object.assign(new Error(`spawn ${o.file} ${r.errno}`), { code: r.errno });
    return { started, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), code: null, signal: null, timedOut, drainCut: false, truncated: false, spawnError };
  }
  return { started, stdout: r.stdout, stderr: r.stderr, code: r.code, signal: r.signal, timedOut, drainCut: r.cut, truncated: r.overflow };
}

function runHere(o: ExecSyncRun): Promise<ExecSyncOutcome> {
  return new Promise((resolve) => {
    const child = spawn(o.file, o.args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const size = { out: 0, err: 0 };
    let truncated = false;
    let open = 2;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let timedOut = false;
    let killing: Promise<void> | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let finished = false;
    const collect = (which: 'out' | 'err', list: Buffer[]) => (b: Buffer): void => {
      const room = o.maxBytes - size[which];
      if (room <= 0) { truncated = true; return; }
      const part = b.length > room ? b.subarray(0, room) : b;
      if (part.length < b.length) truncated = true;
      list.push(part);
      size[which] += part.length;
    };
    const finish = async (drainCut: boolean, spawnError?: Error): Promise<void> => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(drainTimer);
      if (drainCut) { child.stdout?.destroy(); child.stderr?.destroy(); }
      if (killing) await killing;
      const started = (await readPid(o.pidFile)) !== undefined;
      resolve({
        started,
        stdout: Buffer.concat(out), stderr: Buffer.concat(err), code: exited?.code ?? null, signal: exited?.signal ?? null,
        timedOut, drainCut, truncated, ...(spawnError ? { spawnError } : {}),
      });
    };
    const closed = (): void => {
      if (--open === 0 && exited) void finish(false);
    };
    child.stdout!.on('data', collect('out', out));
    child.stderr!.on('data', collect('err', err));
    child.stdout!.on('close', closed);
    child.stderr!.on('close', closed);
    child.on('error', (e) => { exited ??= { code: null, signal: null }; void finish(false, e); });
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      if (open === 0) { void finish(false); return; }
      // A timed-out call does not wait for pipes: whatever still holds them was just killed.
      drainTimer = setTimeout(() => void finish(true), timedOut ? 0 : o.drainMs);
    });

    const timer = o.timeoutMs > 0 ? setTimeout(() => {
      if (exited) return;
      timedOut = true;
      killing = killTree(o.pidFile, { exited: () => exited !== undefined, kill: () => { child.kill('SIGKILL'); } });
    }, o.timeoutMs) : undefined;
  });
}
