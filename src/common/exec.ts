// The one way crius runs an external command: bounded by a timeout, cancellable, stderr captured,
// failures as a typed error. Unit tests swap the Runner for a fake.
import { spawn } from 'node:child_process';

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

export const run: Runner = (file, args, opts = {}) => {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const maxOut = opts.maxOutputBytes ?? 64 * 1024 * 1024;
  const okCodes = opts.okCodes ?? [0];
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
      reject(new ExecError({
        command, code: null, signal: null, stdout: '', stderr: '', timedOut: false,
        notFound: e.code === 'ENOENT', reason: e.code === 'ENOENT' ? 'not found' : e.message,
      }));
    });
    child.on('close', (code, signal) => {
      finish();
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code !== null && okCodes.includes(code) && !overflow) {
        resolve({ stdout, stderr, code });
        return;
      }
      const reason = timedOut ? `timed out after ${timeoutMs} ms`
        : overflow ? `printed more than ${maxOut} bytes`
        : opts.signal?.aborted ? 'cancelled'
        : signal ? `killed by ${signal}`
        : `exit status ${code}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`;
      reject(new ExecError({ command, code, signal, stdout, stderr, timedOut, notFound: false, reason }));
    });
  });
};
