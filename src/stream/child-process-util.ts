// Small helpers shared by the real streaming backends. Streaming sessions spawn their helpers directly
// instead of through common/exec.ts run(): run() buffers output until exit, while a session must relay
// stdio live for as long as the client stays connected. Cancellation and error typing follow run()'s rules.
import { constants as osConstants } from 'node:os';
import type { ChildProcess } from 'node:child_process';

/** The exit code a shell would report: the status, or 128 + signal number. */
function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) return 128 + (osConstants.signals[signal] ?? 0);
  return 255;
}

/** Resolves with the exit code once the child exited and all its stdio closed; rejects if it could not start. */
export function waitClose(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve(exitCodeOf(code, signal)));
  });
}

/** Keeps the last `max` bytes of a stream for error messages. */
export function tail(stream: NodeJS.ReadableStream | null | undefined, max = 4096): () => string {
  let buf = Buffer.alloc(0);
  stream?.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    if (buf.length > max) buf = buf.subarray(buf.length - max);
  });
  return () => buf.toString('utf8').trim();
}
