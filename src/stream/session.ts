// Runs one exec or attach against its backend, independent of the transport (SPDY or WebSocket), and turns
// the result into the outcome the transport reports on the error stream.
import type { StreamBackends, SessionIo } from './backend.js';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { AttachStreamRequest, ExecStreamRequest } from './requests.js';
import { outcomeFromExitCode, type SessionOutcome } from './status.js';

export type StdioRequest =
  | { kind: 'exec'; req: ExecStreamRequest }
  | { kind: 'attach'; req: AttachStreamRequest };

export async function runStdioSession(r: StdioRequest, backends: StreamBackends, io: SessionIo, log: Logger): Promise<SessionOutcome> {
  const started = Date.now();
  try {
    if (r.kind === 'exec') {
      const { exitCode } = await backends.exec.exec({ containerId: r.req.container_id, cmd: r.req.cmd, tty: r.req.tty, ...io });
      log.info('exec finished', { containerId: r.req.container_id, exitCode, durationMs: Date.now() - started, cancelled: io.signal.aborted });
      return outcomeFromExitCode(exitCode);
    }
    await backends.attach.attach({ containerId: r.req.container_id, tty: r.req.tty, ...io });
    log.info('attach finished', { containerId: r.req.container_id, durationMs: Date.now() - started });
    return { kind: 'success' };
  } catch (err) {
    log.warn(`${r.kind} failed`, { containerId: r.req.container_id, error: errorMessage(err), cancelled: io.signal.aborted });
    return { kind: 'error', message: `${r.kind} in container ${r.req.container_id}: ${errorMessage(err)}` };
  }
}

/** Ends a writable and resolves once everything written to it was flushed (or it died). */
export function endAndWait(w: NodeJS.WritableStream & { writableFinished?: boolean; destroyed?: boolean }, data?: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (w.destroyed || w.writableFinished) { resolve(); return; }
    w.once('finish', () => resolve());
    w.once('close', () => resolve());
    w.once('error', () => resolve());
    if (data) w.end(data); else w.end();
  });
}
