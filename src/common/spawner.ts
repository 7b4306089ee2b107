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
  | { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: Buffer; overflow: boolean }
  | { kind: 'failed'; errno: string };

interface SpawnRequest {
  file: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  maxOutputBytes: number;
}

interface RunningCommand {
  done: Promise<SpawnOutcome>;
  /** Signals the command if it is still running (by name, e.g. 'SIGKILL'). */
  kill(signal: NodeJS.Signals): void;
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

/** One answer frame (without the length prefix) as the command's id and outcome. Pure. */
export function decodeAnswer(b: Buffer): { id: number; outcome: SpawnOutcome } {
  const kind = String.fromCharCode(b[0] ?? 0);
  const id = b.readUInt32LE(1);
  if (kind === 'F') {
    const errno = b.readInt32LE(5);
    return { id, outcome: { kind: 'failed', errno: ERRNO_NAMES.get(errno) ?? `errno ${errno}` } };
  }
  if (kind !== 'E') throw new Error(`crius-spawner answered with an unknown frame '${kind}'`);
  const code = b.readInt32LE(5);
  const sig = b.readInt32LE(9);
  const overflow = b[13] === 1;
  const outLen = b.readUInt32LE(14);
  const stdout = b.subarray(18, 18 + outLen);
  const errLen = b.readUInt32LE(18 + outLen);
  const stderr = b.subarray(22 + outLen, 22 + outLen + errLen);
  return { id, outcome: { kind: 'exited', code: code < 0 ? null : code, signal: sig > 0 ? SIGNAL_NAMES.get(sig) ?? null : null, stdout, stderr, overflow } };
}

export class Spawner {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, (o: SpawnOutcome) => void>();
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
    const done = new Promise<SpawnOutcome>((resolve) => {
      this.pending.set(id, resolve);
      this.write(encodeSpawn(id, r));
    });
    return {
      done,
      kill: (signal) => {
        if (!this.pending.has(id)) return;
        const b = Buffer.alloc(9);
        b.write('K', 0);
        b.writeUInt32LE(id, 1);
        b.writeUInt32LE(constants.signals[signal] ?? constants.signals.SIGKILL, 5);
        this.write(b);
      },
    };
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
      const { id, outcome } = decodeAnswer(frame);
      const resolve = this.pending.get(id);
      this.pending.delete(id);
      resolve?.(outcome);
    }
  }

  private die(why: string): void {
    const unexpected = !this.dead;
    this.dead = true;
    // Commands it was running are lost to us; their callers see a failure naming the spawner.
    for (const resolve of this.pending.values()) resolve({ kind: 'failed', errno: why });
    this.pending.clear();
    if (unexpected) this.onExit(why);
  }
}
