// The daemon's side of native/crius-spawner: a small long-lived process that forks and runs commands for
// the daemon, so that running a command no longer forks the daemon itself (Node's spawn blocks the event
// loop while the kernel copies the daemon's page tables: ~1 ms at 45 MB RSS, ~2 ms at 95 MB, ~4.5 ms at
// 246 MB; the spawner's own fork costs tens of microseconds). The frame format is described in
// native/crius-spawner.c. common/exec.ts's run() goes through the spawner once the daemon has started one
// (useSpawner); commands that need extra descriptors or a long-lived pipe (conmon, exec sessions) still
// use child_process directly.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

type SpawnOutcome =
  | { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: Buffer; overflow: boolean; cut: boolean }
  | { kind: 'failed'; errno: string };

interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type Answer = { id: number; outcome: SpawnOutcome } | { id: number; exit: ExitStatus };

interface SpawnRequest {
  file: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  maxOutputBytes: number;
  /** Cut each stream at maxOutputBytes and let the command run on (default: kill it when stdout overflows). */
  truncate?: boolean;
}

interface RunningCommand {
  /** Once it exited and its pipes closed (or were cut). */
  done: Promise<SpawnOutcome>;
  /** Once it exited, even while something it started still holds its pipes (never, if it did not start). */
  exited: Promise<ExitStatus>;
  /** Signals the command if it is still running (by name, e.g. 'SIGKILL'). */
  kill(signal: NodeJS.Signals): void;
  /** Stops reading its output: `done` then settles once it has exited, with cut set if a pipe was open. */
  cut(): void;
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));
// Where two names share a number (EAGAIN, EWOULDBLOCK) the first listed wins.
const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(constants.errno)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);

/** One spawn request frame (without the length prefix). Pure. */
export function encodeSpawn(id: number, r: SpawnRequest): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number): void => { const b = Buffer.alloc(4); b.writeUInt32LE(n); parts.push(b); };
  const str = (s: string): void => {
    if (s.includes('\0')) throw new Error(`a command argument holds a NUL byte: ${JSON.stringify(s.slice(0, 80))}`);
    parts.push(Buffer.from(`${s}\0`, 'utf8'));
  };
  parts.push(Buffer.from('S'));
  u32(id);
  u32(Math.min(r.maxOutputBytes, 0xffff_fffe));
  // Flags: 1 = truncate instead of kill; 2 = say when it exits (always asked: run() ignores it).
  parts.push(Buffer.from([(r.truncate ? 1 : 0) | 2]));
  str(r.file);
  str(r.cwd ?? '');
  const argv = [r.file, ...r.args];
  u32(argv.length);
  argv.forEach(str);
  const env = Object.entries(r.env).filter((e): e is [string, string] => e[1] !== undefined).map(([k, v]) => `${k}=${v}`);
  u32(env.length);
  env.forEach(str);
  const input = r.input === undefined ? Buffer.alloc(0) : Buffer.isBuffer(r.input) ? r.input : Buffer.from(r.input, 'utf8');
  u32(input.length);
  parts.push(input);
  return Buffer.concat(parts);
}

const exitStatus = (code: number, sig: number): ExitStatus => ({ code: code < 0 ? null : code, signal: sig > 0 ? SIGNAL_NAMES.get(sig) ?? null : null });

/** One answer frame (without the length prefix): the command's id and its outcome, or its exit so far. Pure. */
export function decodeAnswer(b: Buffer): Answer {
  const kind = String.fromCharCode(b[0] ?? 0);
  const id = b.readUInt32LE(1);
  if (kind === 'X') return { id, exit: exitStatus(b.readInt32LE(5), b.readInt32LE(9)) };
  if (kind === 'F') {
    const errno = b.readInt32LE(5);
    return { id, outcome: { kind: 'failed', errno: ERRNO_NAMES.get(errno) ?? `errno ${errno}` } };
  }
  if (kind !== 'E') throw new Error(`crius-spawner answered with an unknown frame '${kind}'`);
  const state = b[13] ?? 0;
  const outLen = b.readUInt32LE(14);
  const stdout = b.subarray(18, 18 + outLen);
  const errLen = b.readUInt32LE(18 + outLen);
  const stderr = b.subarray(22 + outLen, 22 + outLen + errLen);
  return { id, outcome: { kind: 'exited', ...exitStatus(b.readInt32LE(5), b.readInt32LE(9)), stdout, stderr, overflow: (state & 1) !== 0, cut: (state & 2) !== 0 } };
}

export class Spawner {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { done: (o: SpawnOutcome) => void; exited: (e: ExitStatus) => void }>();
  private nextId = 1;
  private buffered: Buffer = Buffer.alloc(0);
  private dead = false;

  /** Starts the spawner at path; onExit hears of its unexpected end (run() then falls back to child_process). */
  constructor(path: string, private readonly onExit: (why: string) => void = () => {}) {
    this.child = spawn(path, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdout!.on('data', (b: Buffer) => this.onData(b));
    this.child.stdin!.on('error', () => { /* its end is reported by 'exit' */ });
    this.child.on('error', (e) => this.die(`crius-spawner could not start: ${e.message}`));
    this.child.on('exit', (code, signal) => this.die(`crius-spawner exited (${signal ?? `status ${code}`})`));
  }

  get alive(): boolean {
    return !this.dead;
  }

  /** The spawner's pid (0 if it did not start). */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  run(r: SpawnRequest): RunningCommand {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_fff0 ? 1 : this.nextId + 1;
    let exited: (e: ExitStatus) => void = () => {};
    const exitedP = new Promise<ExitStatus>((resolve) => { exited = resolve; });
    const done = new Promise<SpawnOutcome>((resolve) => {
      this.pending.set(id, {
        done: (o) => {
          if (o.kind === 'exited') exited({ code: o.code, signal: o.signal });
          resolve(o);
        },
        exited,
      });
      this.write(encodeSpawn(id, r));
    });
    const control = (op: 'K' | 'C', signal?: NodeJS.Signals): void => {
      if (!this.pending.has(id)) return;
      const b = Buffer.alloc(op === 'K' ? 9 : 5);
      b.write(op, 0);
      b.writeUInt32LE(id, 1);
      if (op === 'K') b.writeUInt32LE(constants.signals[signal ?? 'SIGKILL'] ?? constants.signals.SIGKILL, 5);
      this.write(b);
    };
    return { done, exited: exitedP, kill: (signal) => control('K', signal), cut: () => control('C') };
  }

  /** Closes the spawner's stdin: it exits once it has read everything (commands it started run on). */
  close(): void {
    this.dead = true;
    this.child.stdin?.end();
  }

  private write(frame: Buffer): void {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(frame.length);
    this.child.stdin!.write(Buffer.concat([len, frame]));
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 4) {
      const n = this.buffered.readUInt32LE(0);
      if (this.buffered.length < 4 + n) break;
      const frame = this.buffered.subarray(4, 4 + n);
      this.buffered = this.buffered.subarray(4 + n);
      const answer = decodeAnswer(frame);
      const p = this.pending.get(answer.id);
      if ('exit' in answer) {
        p?.exited(answer.exit);
        continue;
      }
      this.pending.delete(answer.id);
      p?.done(answer.outcome);
    }
  }

  private die(why: string): void {
    const unexpected = !this.dead;
    this.dead = true;
    // Commands it was running are lost to us; their callers see a failure naming the spawner.
    for (const p of this.pending.values()) p.done({ kind: 'failed', errno: why });
    this.pending.clear();
    if (unexpected) this.onExit(why);
  }
}
