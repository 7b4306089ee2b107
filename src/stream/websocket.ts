// The WebSocket transport (KEP-4006; client-go remotecommand websocket.go, kubelet wsstream): every message
// is one channel byte (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize) plus payload; base64 variants send
// text messages with an ASCII digit channel and base64 payload. v5 adds the client's CLOSE message
// [255, channel] to half-close stdin. The session ends with close code 1000, which clients read as EOF.
// Port-forward over WebSocket (crictl --transport websocket) tunnels SPDY/3.1 frames inside binary messages.
// Inbound flow control: when the process does not take stdin as fast as the client sends it, the socket is
// no longer read (ws.pause()) until stdin drains, so what is buffered stays bounded whatever the client
// sends; while paused, a ping every few seconds notices a client that reset the connection.
import { Writable, PassThrough } from 'node:stream';
import { createWebSocketStream, type WebSocket, type RawData } from 'ws';
import type { StreamBackends, PortForwardBackend } from './backend.js';
import type { Logger } from '../common/logger.js';
import { ResizeQueue } from './resize-queue.js';
import { runStdioSession, type StdioRequest } from './session.js';
import { encodeStatus } from './status.js';
import { HELD_INPUT_PROBE_MS, SpdyConnection } from './spdy/connection.js';
import { servePortForwardSpdy } from './portforward-spdy.js';

// The subprotocols live in protocols.ts (the server negotiates them before it loads ws); re-exported here.
export { WS_REMOTECOMMAND_PROTOCOLS, WS_PORTFORWARD_SPDY_PROTOCOL, type WsRemoteCommandProtocol } from './protocols.js';
import type { WsRemoteCommandProtocol } from './protocols.js';

const CH = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/**
 * The largest WebSocket message accepted (ws defaults to 100 MiB, buffered whole). client-go sends stdin in
 * io.Copy's 32 KiB pieces and tunnels SPDY frames of at most 32 KiB; base64 adds a third.
 */
export const WS_MAX_MESSAGE = 1024 * 1024;

function rawToBuffer(d: RawData): Buffer {
  if (Buffer.isBuffer(d)) return d;
  if (Array.isArray(d)) return Buffer.concat(d);
  return Buffer.from(d);
}

/**
 * Inbound flow control for stdin: the returned function stops reading ws (called when a write to stdin
 * returned false) until stdin drains, pinging the peer meanwhile.
 */
function holdWhileFull(ws: WebSocket, stdin: PassThrough): () => void {
  let probe: NodeJS.Timeout | undefined;
  const release = (): void => {
    clearInterval(probe);
    probe = undefined;
    if (ws.readyState === ws.OPEN && ws.isPaused) ws.resume();
  };
  stdin.on('drain', release);
  stdin.once('close', release);
  ws.once('close', () => clearInterval(probe));
  return () => {
    if (ws.isPaused || ws.readyState !== ws.OPEN) return;
    ws.pause();
    probe = setInterval(() => { if (ws.readyState === ws.OPEN) ws.ping(); }, HELD_INPUT_PROBE_MS);
    probe.unref();
  };
}

export async function serveRemoteCommandWs(ws: WebSocket, protocol: WsRemoteCommandProtocol, r: StdioRequest, backends: StreamBackends, log: Logger): Promise<void> {
  const base64 = protocol.includes('base64');
  const send = (ch: number, data: Buffer, cb?: (err?: Error) => void): void => {
    if (ws.readyState !== ws.OPEN) { cb?.(); return; }
    if (base64) ws.send(String(ch) + data.toString('base64'), cb);
    else ws.send(Buffer.concat([Buffer.from([ch]), data]), { binary: true }, cb);
  };
  const channelWriter = (ch: number): Writable => new Writable({
    // The callback fires once ws handed the frame to the socket: that is the backpressure.
    write(chunk: Buffer, _enc, cb) { send(ch, chunk, () => cb()); },
  });
  const stdin = r.req.stdin ? new PassThrough() : undefined;
  const holdInput = stdin ? holdWhileFull(ws, stdin) : () => {};
  const resize = r.req.tty ? new ResizeQueue() : undefined;
  const abort = new AbortController();
  ws.on('close', () => { abort.abort(); stdin?.end(); resize?.end(); });
  ws.on('message', (raw: RawData, isBinary: boolean) => {
    let buf = rawToBuffer(raw);
    if (buf.length === 0) return;
    let ch: number;
    if (base64 && !isBinary) {
      ch = buf[0]! - 0x30;
      buf = Buffer.from(buf.subarray(1).toString('latin1'), 'base64');
    } else {
      ch = buf[0]!;
      buf = buf.subarray(1);
    }
    if (ch === CH.stdin) {
      if (stdin && !stdin.writableEnded && !stdin.write(buf)) holdInput();
    }
    else if (ch === CH.resize) resize?.feed(buf);
    else if (ch === CH.close && buf[0] === CH.stdin) stdin?.end();
  });
  const stdout = r.req.stdout ? channelWriter(CH.stdout) : undefined;
  const stderr = r.req.stderr && !r.req.tty ? channelWriter(CH.stderr) : undefined;
  const outcome = await runStdioSession(r, backends, { stdin, stdout, stderr, resize, signal: abort.signal }, log);
  // Nobody takes stdin any more: drop what is buffered so a held socket is read again (the close handshake
  // below needs the client's close frame).
  stdin?.resume();
  if (ws.readyState !== ws.OPEN) return;
  const v4Like = protocol === 'v5.channel.k8s.io' || protocol === 'v4.channel.k8s.io' || protocol === 'v4.base64.channel.k8s.io';
  const status = encodeStatus(v4Like ? 'v4.channel.k8s.io' : 'v3.channel.k8s.io', outcome);
  await new Promise<void>((resolve) => { if (status) send(CH.error, status, () => resolve()); else resolve(); });
  ws.close(1000);
}

export function servePortForwardWs(ws: WebSocket, podSandboxId: string, backend: PortForwardBackend, log: Logger): Promise<void> {
  const tunnel = createWebSocketStream(ws);
  tunnel.on('error', () => { /* surfaces as the SPDY connection closing */ });
  const conn = new SpdyConnection(tunnel, { isServer: true });
  return servePortForwardSpdy(conn, podSandboxId, backend, log);
}
