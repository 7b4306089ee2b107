// remotecommand (exec, attach) over SPDY (kubelet remotecommand/httpstream.go; client-go remotecommand
// v2.go..v4.go). The client opens one SPDY stream per channel, tagged by a `streamtype` header, in the order
// error, stdin, stdout, stderr, resize; the server accepts each, waits until all expected ones arrived,
// then runs the session and reports its outcome on the error stream.
import type { SpdyConnection, SpdyStream } from './spdy/connection.js';
import { RstStatus } from './spdy/frames.js';
import type { StreamBackends } from './backend.js';
import type { Logger } from '../common/logger.js';
import { supportsResize, type RemoteCommandProtocol } from './protocols.js';
import { ResizeQueue } from './resize-queue.js';
import { endAndWait, runStdioSession, type StdioRequest } from './session.js';
import { encodeStatus } from './status.js';

/** The kubelet gives the client 30 s to create its streams (streaming.DefaultConfig StreamCreationTimeout). */
const STREAM_CREATION_TIMEOUT_MS = 30_000;

type StreamType = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';

export async function serveRemoteCommandSpdy(
  conn: SpdyConnection,
  protocol: RemoteCommandProtocol,
  r: StdioRequest,
  backends: StreamBackends,
  log: Logger,
  creationTimeoutMs: number = STREAM_CREATION_TIMEOUT_MS,
): Promise<void> {
  const { stdin, stdout, stderr, tty } = r.req;
  const resizeWanted = tty && supportsResize(protocol);
  const expected = 1 + Number(stdin) + Number(stdout) + Number(stderr) + Number(resizeWanted);
  const streams = new Map<StreamType, SpdyStream>();

  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      log.warn('streaming client did not create its streams in time', { kind: r.kind, got: [...streams.keys()], expected });
      resolve(false);
    }, creationTimeoutMs);
    const done = (ok: boolean): void => { clearTimeout(timer); conn.off('close', onClose); resolve(ok); };
    const onClose = (): void => done(false);
    conn.on('close', onClose);
    conn.on('stream', (s: SpdyStream) => {
      const type = s.headers['streamtype'] as StreamType | undefined;
      const known = type === 'error' || type === 'stdin' || type === 'stdout' || type === 'stderr' || type === 'resize';
      if (!known || streams.has(type)) {
        log.warn('unexpected stream in remotecommand session', { streamtype: type ?? '' });
        s.reset(RstStatus.REFUSED_STREAM);
        return;
      }
      s.reply();
      s.on('error', () => { /* reset by the peer; the session sees it through the abort signal */ });
      streams.set(type, s);
      if (streams.size === expected) done(true);
    });
  });
  if (!ready) { conn.destroy(); return; }

  const abort = new AbortController();
  const onGone = (): void => abort.abort();
  conn.on('close', onGone);
  let resize: ResizeQueue | undefined;
  const resizeStream = streams.get('resize');
  if (resizeStream) {
    const q = new ResizeQueue();
    resizeStream.on('data', (b: Buffer) => q.feed(b));
    resizeStream.on('end', () => q.end());
    resizeStream.on('close', () => q.end());
    resize = q;
  }
  const outcome = await runStdioSession(r, backends, {
    stdin: streams.get('stdin'),
    stdout: streams.get('stdout'),
    stderr: streams.get('stderr'),
    resize,
    signal: abort.signal,
  }, log);
  resize?.end();
  conn.off('close', onGone);
  if (conn.isClosed()) return;

  // Output first, then the status: client-go returns once stdout/stderr hit EOF and the error stream was read to EOF.
  const outs = [streams.get('stdout'), streams.get('stderr')].filter((s): s is SpdyStream => s !== undefined);
  await Promise.all(outs.map((s) => endAndWait(s)));
  const errorStream = streams.get('error')!;
  await endAndWait(errorStream, encodeStatus(protocol, outcome) ?? undefined);
  for (const s of streams.values()) if (!s.destroyed) s.end();
  conn.close();
}
