// The CRI streaming server (kubelet pkg/cri/streaming, as embedded by CRI-O and containerd): Exec, Attach
// and PortForward RPCs get a one-time URL from getExecUrl/getAttachUrl/getPortForwardUrl; the client
// (kubelet proxy, crictl, critest) then upgrades an HTTP request on that URL to SPDY/3.1 or WebSocket.
// Options come from the cached request, never from the URL's query.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo, Socket } from 'node:net';
// ws and the WebSocket sessions are loaded at the first WebSocket upgrade: not on the daemon's start-up path.
import type { WebSocketServer, WebSocket } from 'ws';
import type { StreamBackends } from './backend.js';
import { createLogger, type Logger } from '../common/logger.js';
import { errorMessage } from '../common/errors.js';
import { TokenCache, TOKEN_TTL_MS } from './tokens.js';
import {
  validateAttach, validateExec, validatePortForward,
  type AttachStreamRequest, type CachedRequest, type ExecStreamRequest, type PortForwardStreamRequest,
} from './requests.js';
import {
  PORTFORWARD_PROTOCOL, REMOTECOMMAND_SPDY_PROTOCOLS, WS_PORTFORWARD_SPDY_PROTOCOL, WS_REMOTECOMMAND_PROTOCOLS, negotiate, splitHeaderList, type WsRemoteCommandProtocol,
} from './protocols.js';
import { SpdyConnection } from './spdy/connection.js';
import { serveRemoteCommandSpdy } from './remotecommand-spdy.js';
import { servePortForwardSpdy } from './portforward-spdy.js';

export interface StreamServerOptions {
  backends: StreamBackends;
  /** Listen address; default 127.0.0.1 (CRI-O's stream_address default). */
  address?: string;
  /** Listen port; default 0 = ephemeral, filled in after listen. */
  port?: number;
  /** Host put into issued URLs when listening on a wildcard address (critest requires a non-empty host). */
  advertiseAddress?: string;
  logger?: Logger;
  tokenTtlMs?: number;
  /** How long the client may take to open its SPDY streams after the upgrade (kubelet: 30 s). */
  streamCreationTimeoutMs?: number;
  /** A session whose connection carries no bytes for this long is dropped (kubelet default: 4 h). */
  streamIdleTimeoutMs?: number;
}

export const STREAM_IDLE_TIMEOUT_MS = 4 * 60 * 60 * 1000;

const ROUTE = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)$/;

function rawResponse(socket: Duplex, status: number, reason: string, body: string, extra: Record<string, string> = {}): void {
  const headers = { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close', ...extra };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(`HTTP/1.1 ${status} ${reason}\r\n${lines}\r\n${body}`);
}

export class StreamServer {
  private readonly tokens: TokenCache<CachedRequest>;
  private readonly log: Logger;
  private readonly sockets = new Set<Socket>();
  /** Subprotocol chosen for each pending WebSocket upgrade, added to its 101 answer by the 'headers' hook. */
  private readonly wsChosen = new WeakMap<http.IncomingMessage, string>();
  private wss?: Promise<{ wss: WebSocketServer; sessions: typeof import('./websocket.js') }>;
  /** e.g. http://127.0.0.1:38123 */
  readonly baseUrl: string;

  private constructor(private readonly server: http.Server, private readonly opts: StreamServerOptions, baseUrl: string) {
    this.tokens = new TokenCache<CachedRequest>(opts.tokenTtlMs ?? TOKEN_TTL_MS);
    this.log = (opts.logger ?? createLogger()).child({ component: 'stream' });
    this.baseUrl = baseUrl;
    server.on('connection', (s: Socket) => { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); });
    server.on('request', (req, res) => this.onPlainRequest(req, res));
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  /** The WebSocket server (noServer: upgrades are handed to it), made at the first WebSocket upgrade. */
  private webSockets(): Promise<{ wss: WebSocketServer; sessions: typeof import('./websocket.js') }> {
    this.wss ??= Promise.all([import('ws'), import('./websocket.js')]).then(([ws, sessions]) => {
      const wss = new ws.WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: sessions.WS_MAX_MESSAGE });
      wss.on('headers', (headers: string[], req: http.IncomingMessage) => {
        const chosen = this.wsChosen.get(req);
        if (chosen !== undefined) headers.push(`Sec-WebSocket-Protocol: ${chosen}`);
      });
      return { wss, sessions };
    });
    return this.wss;
  }

  static async start(opts: StreamServerOptions): Promise<StreamServer> {
    const server = http.createServer();
    const address = opts.address ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, address, () => { server.off('error', reject); resolve(); });
    });
    const port = (server.address() as AddressInfo).port;
    const wildcard = address === '0.0.0.0' || address === '::';
    const host = opts.advertiseAddress ?? (wildcard ? '127.0.0.1' : address);
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return new StreamServer(server, opts, `http://${shownHost}:${port}`);
  }

  /** CRI Exec: validates the request and returns a one-time URL for it. Throws INVALID_ARGUMENT / RESOURCE_EXHAUSTED. */
  getExecUrl(req: ExecStreamRequest): string {
    validateExec(req);
    return `${this.baseUrl}/exec/${this.tokens.insert({ kind: 'exec', req: { ...req, cmd: [...req.cmd] } })}`;
  }

  getAttachUrl(req: AttachStreamRequest): string {
    validateAttach(req);
    return `${this.baseUrl}/attach/${this.tokens.insert({ kind: 'attach', req: { ...req } })}`;
  }

  getPortForwardUrl(req: PortForwardStreamRequest): string {
    validatePortForward(req);
    return `${this.baseUrl}/portforward/${this.tokens.insert({ kind: 'portforward', req: { ...req } })}`;
  }

  /** Stops listening and drops every open session (backends see their abort signals fire). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    const ws = await this.wss?.catch(() => undefined);
    if (ws) {
      for (const c of ws.wss.clients) c.terminate();
      ws.wss.close();
    }
    await closed;
  }

  private lookup(method: string | undefined, url: string | undefined): { ok: true; cached: CachedRequest; route: string } | { ok: false; status: number; reason: string; body: string } {
    if (method !== 'GET' && method !== 'POST') return { ok: false, status: 405, reason: 'Method Not Allowed', body: 'streaming URLs accept GET and POST\n' };
    const path = new URL(url ?? '/', 'http://x').pathname;
    const m = ROUTE.exec(path);
    if (!m) return { ok: false, status: 404, reason: 'Not Found', body: 'not found\n' };
    const cached = this.tokens.consume(m[2]!);
    if (!cached || cached.kind !== m[1]) {
      return { ok: false, status: 404, reason: 'Not Found', body: 'unknown, used or expired streaming token; call the CRI method again for a new URL\n' };
    }
    return { ok: true, cached, route: m[1]! };
  }

  private onPlainRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const r = this.lookup(req.method, req.url);
    if (!r.ok) { res.writeHead(r.status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(r.body); return; }
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end('unable to upgrade: missing upgrade headers in request\n');
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => { /* peers vanish; sessions see it as close */ });
    // client-go pings every 5 s, so only a dead peer stays silent this long.
    (socket as Socket).setTimeout?.(this.opts.streamIdleTimeoutMs ?? STREAM_IDLE_TIMEOUT_MS, () => socket.destroy());
    const r = this.lookup(req.method, req.url);
    if (!r.ok) { rawResponse(socket, r.status, r.reason, r.body); return; }
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    const connection = splitHeaderList(req.headers.connection).map((v) => v.toLowerCase());
    if (!connection.includes('upgrade')) {
      rawResponse(socket, 400, 'Bad Request', 'unable to upgrade: missing upgrade headers in request\n');
      return;
    }
    if (upgrade === 'spdy/3.1') this.upgradeSpdy(req, socket, head, r.cached);
    else if (upgrade === 'websocket') this.upgradeWebSocket(req, socket, head, r.cached);
    else rawResponse(socket, 400, 'Bad Request', `unable to upgrade: unsupported Upgrade "${req.headers.upgrade ?? ''}"; use SPDY/3.1 or websocket\n`);
  }

  private upgradeSpdy(req: http.IncomingMessage, socket: Duplex, head: Buffer, cached: CachedRequest): void {
    const offered = splitHeaderList(req.headers['x-stream-protocol-version']);
    const supported: readonly string[] = cached.kind === 'portforward' ? [PORTFORWARD_PROTOCOL] : REMOTECOMMAND_SPDY_PROTOCOLS;
    const protocol = negotiate(offered, supported);
    if (protocol === null) {
      rawResponse(socket, 403, 'Forbidden',
        `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(offered)}, server accepts ${JSON.stringify(supported)}\n`,
        { 'X-Accepted-Stream-Protocol-Versions': supported.join(', ') });
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
    (socket as Socket).setNoDelay?.(true);
    const conn = new SpdyConnection(socket, { isServer: true });
    conn.on('error', (err: Error) => this.log.debug('spdy connection error', { error: err.message }));
    const log = this.log.child({ session: cached.kind });
    const done = cached.kind === 'portforward'
      ? servePortForwardSpdy(conn, cached.req.pod_sandbox_id, this.opts.backends.portForward, log)
      : serveRemoteCommandSpdy(conn, protocol as (typeof REMOTECOMMAND_SPDY_PROTOCOLS)[number], cached, this.opts.backends, log, this.opts.streamCreationTimeoutMs);
    done.catch((err: unknown) => { log.error('streaming session crashed', { error: errorMessage(err) }); conn.destroy(); });
    conn.feed(head);
  }

  private upgradeWebSocket(req: http.IncomingMessage, socket: Duplex, head: Buffer, cached: CachedRequest): void {
    const offered = splitHeaderList(req.headers['sec-websocket-protocol']);
    const supported: readonly string[] = cached.kind === 'portforward' ? [WS_PORTFORWARD_SPDY_PROTOCOL] : WS_REMOTECOMMAND_PROTOCOLS;
    const protocol = negotiate(offered, supported);
    if (protocol === null) {
      rawResponse(socket, 403, 'Forbidden', `unable to upgrade: no supported websocket subprotocol among ${JSON.stringify(offered)}; server accepts ${JSON.stringify(supported)}\n`);
      return;
    }
    // ws rejects subprotocols that are not RFC 7230 tokens, and client-go's "SPDY/3.1+portforward.k8s.io"
    // is not one ('/' is a separator); Go's websocket library accepts it. So negotiation happens here and
    // the chosen protocol is added to the 101 answer by the 'headers' hook.
    delete req.headers['sec-websocket-protocol'];
    this.wsChosen.set(req, protocol);
    this.webSockets().then(({ wss, sessions }) => wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const log = this.log.child({ session: cached.kind, transport: 'websocket' });
      const done = cached.kind === 'portforward'
        ? sessions.servePortForwardWs(ws, cached.req.pod_sandbox_id, this.opts.backends.portForward, log)
        : sessions.serveRemoteCommandWs(ws, protocol as WsRemoteCommandProtocol, cached, this.opts.backends, log);
      done.catch((err: unknown) => { log.error('streaming session crashed', { error: errorMessage(err) }); ws.terminate(); });
    }), (err: unknown) => {
      this.log.error('cannot load the WebSocket server', { error: errorMessage(err) });
      rawResponse(socket, 500, 'Internal Server Error', `websocket upgrade failed: ${errorMessage(err)}\n`);
    });
  }
}

export function startStreamServer(opts: StreamServerOptions): Promise<StreamServer> {
  return StreamServer.start(opts);
}
