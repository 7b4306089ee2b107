// portforward.k8s.io over SPDY (kubelet portforward/httpstream.go; client-go tools/portforward). Per local
// TCP connection the client opens an error stream and a data stream, both tagged `port` and `requestid`;
// the server dials the port inside the pod and pipes the data stream to it. Errors go to the error stream
// as text, which client-go prints ("an error occurred forwarding ...") and then closes the whole session
// (client-go portforward.go handleConnection: any error-stream text -> streamConn.Close()). So only a failed
// dial goes there; once connected, the pod closing or resetting its side ends that one data stream, and the
// session carries on with its other connections.
import { setMaxListeners } from 'node:events';
import type { Duplex } from 'node:stream';
import type { SpdyConnection, SpdyStream } from './spdy/connection.js';
import { RstStatus } from './spdy/frames.js';
import type { PortForwardBackend } from './backend.js';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';

interface Pair {
  error?: SpdyStream;
  data?: SpdyStream;
  started: boolean;
}

function parsePort(value: string | undefined): number | null {
  if (value === undefined || !/^[0-9]{1,5}$/.test(value)) return null;
  const p = Number(value);
  return p >= 1 && p <= 65535 ? p : null;
}

/** Serves port-forward pairs on conn until the client closes it. */
export function servePortForwardSpdy(conn: SpdyConnection, podSandboxId: string, backend: PortForwardBackend, log: Logger): Promise<void> {
  const pairs = new Map<string, Pair>();
  const abort = new AbortController();
  // One listener per open forwarded connection (each dial's relay process is killed with the session).
  setMaxListeners(0, abort.signal);
  return new Promise((resolve) => {
    conn.on('close', () => { abort.abort(); resolve(); });
    conn.on('stream', (s: SpdyStream) => {
      const type = s.headers['streamtype'];
      const port = parsePort(s.headers['port']);
      if ((type !== 'error' && type !== 'data') || port === null) {
        log.warn('port-forward stream refused', { podSandboxId, streamtype: type ?? '', port: s.headers['port'] ?? '' });
        s.reset(RstStatus.REFUSED_STREAM);
        return;
      }
      // Old clients send no requestid: the error stream then pairs with the data stream opened right after it.
      const key = s.headers['requestid'] ?? String(type === 'error' ? s.id : s.id - 2);
      const pair = pairs.get(key) ?? { started: false };
      pairs.set(key, pair);
      if (pair[type]) { s.reset(RstStatus.PROTOCOL_ERROR); return; }
      pair[type] = s;
      s.reply();
      s.on('error', () => { /* reset by the peer */ });
      if (type === 'error') s.resume(); // the client FINs it at once; nothing to read
      if (pair.error && pair.data && !pair.started) {
        pair.started = true;
        pairs.delete(key);
        void forward(pair.error, pair.data, port, podSandboxId, backend, abort.signal, log);
      }
    });
  });
}

async function forward(
  errorStream: SpdyStream, data: SpdyStream, port: number, podSandboxId: string,
  backend: PortForwardBackend, signal: AbortSignal, log: Logger,
): Promise<void> {
  let target: Duplex;
  try {
    target = await backend.dial({ podSandboxId, port, signal });
  } catch (err) {
    const msg = `error forwarding port ${port} to pod ${podSandboxId}: ${errorMessage(err)}`;
    log.info('port-forward dial failed', { podSandboxId, port, error: errorMessage(err) });
    errorStream.end(Buffer.from(msg));
    data.reset(RstStatus.CANCEL);
    return;
  }
  target.on('error', (err: Error) => {
    // A reset from the pod: cut this data stream (the client sees its end), keep the error stream clean.
    log.debug('port-forward connection to the pod failed', { podSandboxId, port, error: err.message });
    data.reset(RstStatus.CANCEL);
  });
  // Half-closes travel both ways: client FIN -> target end(); target EOF -> DATA FIN.
  data.pipe(target);
  target.pipe(data);
  data.on('close', () => target.destroy());
  target.on('close', () => {
    if (!errorStream.destroyed && !errorStream.writableEnded) errorStream.end();
  });
}
