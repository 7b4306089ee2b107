// The one way crius runs an external command: bounded by a timeout, cancellable, stderr captured,
// failures as a typed error. Unit tests swap the Runner for a fake.
import { spawn } from 'node:child_process';
import type { Spawner } from './spawner.js';

interface ExecOptions {
  /** Milliseconds before the child is killed with SIGKILL. Default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Exit codes that count as success (default [0]). */
  okCodes?: number[];
  /** Cap on captured stdout bytes (default 64 MiB); more is an error. */
  maxOutputBytes?: number;
}

interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export class ExecError extends Error {
  readonly command: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly notFound: boolean;
  constructor(init: {
    command: string; code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string;
    timedOut: boolean; notFound: boolean; reason: string;
  }) {
    super(`${init.command}: ${init.reason}`);
    this.name = 'ExecError';
    this.command = init.command;
    this.code = init.code;
    this.signal = init.signal;
    this.stdout = init.stdout;
    this.stderr = init.stderr;
    this.timedOut = init.timedOut;
    this.notFound = init.notFound;
  }
}

export type Runner = (file: string, args: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

function describe(file: string, args: readonly string[]): string {
  const shown = [file, ...args].join(' ');
  return shown.length > 200 ? `${shown.slice(0, 197)}...` : shown;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

let spawner: Spawner | undefined;

/**
 * Routes run() through a crius-spawner (the daemon starts one at start-up; common/spawner.ts says why).
 * Without one, or once it has died, commands are spawned from this process as before.
 */
export function useSpawner(s: Spawner | undefined): void {
  spawner = s;
}

/** The spawner run() uses now, if any (oci/exec-sync.ts starts ExecSync's runtime from it too). */
export function currentSpawner(): Spawner | undefined {
  return spawner?.alive ? spawner : undefined;
}

export const run: Runner = (file, args, opts = {}) => {
  const s = currentSpawner();
  return s ? runViaSpawner(s, file, args, opts) : runHere(file, args, opts);
};

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  overflow: boolean;
}

/** The command's result, or the ExecError that says why it failed. */
function settle(command: string, opts: ExecOptions, e: Ended): ExecResult {
  const okCodes = opts.okCodes ?? [0];
  if (e.code !== null && okCodes.includes(e.code) && !e.overflow) return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  const reason = e.timedOut ? `timed out after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`
    : e.overflow ? `printed more than ${opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES} bytes`
    : opts.signal?.aborted ? 'cancelled'
    : e.signal ? `killed by ${e.signal}`
    : `exit status ${e.code}${e.stderr.trim() ? `: ${e.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`;
  throw new ExecError({ command, code: e.code, signal: e.signal, stdout: e.stdout, stderr: e.stderr, timedOut: e.timedOut, notFound: false, reason });
}

function notStarted(command: string, errno: string, message: string): ExecError {
  return new ExecError({
    command, code: null, signal: null, stdout: '', stderr: '', timedOut: false,
    notFound: errno === 'ENOENT', reason: errno === 'ENOENT' ? 'not found' : message,
  });
}

async function runViaSpawner(s: Spawner, file: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const command = describe(file, args);
  const c = s.run({ file, args, env: opts.env ?? process.env, ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}), ...(opts.input !== undefined ? { input: opts.input } : {}), maxOutputBytes: opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES });
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; c.kill('SIGKILL'); }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const onAbort = (): void => { c.kill('SIGKILL'); };
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  let o;
  try {
    o = await c.done;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  // Every slot of the spawner busy (it runs up to 256 commands at once): start this one from here.
  if (o.kind === 'failed' && o.errno === 'EAGAIN') return runHere(file, args, opts);
  if (o.kind === 'failed') throw notStarted(command, o.errno, `could not start: ${o.errno}`);
  return settle(command, opts, { code: o.code, signal: o.signal, stdout: o.stdout.toString('utf8'), stderr: o.stderr.toString('utf8'), timedOut, overflow: o.overflow });
}

function runHere(file: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxOut = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const command = describe(file, args);
  return new Promise<ExecResult>((resolve, reject) => {
    const child = spawn(file, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let timedOut = false;
    let overflow = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    const onAbort = (): void => { child.kill('SIGKILL'); };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (b: Buffer) => {
      outBytes += b.length;
      if (outBytes > maxOut) { overflow = true; child.kill('SIGKILL'); return; }
      out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => { if (err.length < 1024) err.push(b); });
    child.stdin.on('error', () => { /* the child may exit before reading its input */ });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
    const finish = (): void => { clearTimeout(timer); opts.signal?.removeEventListener('abort', onAbort); };
    child.on('error', (e: NodeJS.ErrnoException) => {
      finish();
      reject(notStarted(command, e.code ?? '', e.message));
    });
    child.on('close', (code, signal) => {
      finish();
      try {
        resolve(settle(command, opts, { code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut, overflow }));
      } catch (e) {
        reject(e);
      }
    });
  });
}
