// A registry served by the test itself on 127.0.0.1 (node:http), so a test controls every byte and every
// pause: it serves built images like a well-behaved registry, and any path can be taken over by a hostile
// handler (an endless chunked manifest, a trickling blob, a blob held until the test lets it go).
// Counts what it sent and which connections are still open, so a test can see the daemon hung up.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { BuiltImage } from './build-image.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HostileRegistry {
  /** `127.0.0.1:PORT`: loopback, so the daemon talks plain HTTP to it. */
  host: string;
  url: string;
  /** Serves `img` under `<host>/<repo>:<tag>` (manifest by tag and digest, config and layer blobs). */
  serveImage(repo: string, tag: string, img: BuiltImage): void;
  /** Takes over one path (`/v2/<repo>/manifests/<ref>`, `/v2/<repo>/blobs/<digest>`, `/token`, ...). */
  on(path: string, handler: Handler): void;
  /** Requests seen per path. */
  hits(path: string): number;
  /** Connections the daemon still holds open. */
  openConnections(): number;
  stop(): Promise<void>;
}

/** Writes `chunk` until the peer hangs up or `maxBytes` went out; resolves with the bytes sent. */
export async function writeUntilClosed(res: ServerResponse, chunk: Buffer, maxBytes: number): Promise<number> {
  let sent = 0;
  while (sent < maxBytes && !res.destroyed && !res.socket?.destroyed) {
    const ok = res.write(chunk);
    sent += chunk.length;
    if (!ok) {
      await new Promise<void>((resolve) => {
        const done = (): void => { res.off('drain', done); res.off('close', done); resolve(); };
        res.once('drain', done);
        res.once('close', done);
      });
    }
  }
  res.end();
  return sent;
}

/** Resolves after ms, or at once when the response was closed by the peer. */
export function pause(res: ServerResponse, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => { res.off('close', done); resolve(); }, ms);
    const done = (): void => { clearTimeout(t); resolve(); };
    res.once('close', done);
  });
}

export async function startHostileRegistry(): Promise<HostileRegistry> {
  const routes = new Map<string, Handler>();
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const h = routes.get(path);
    if (h) {
      Promise.resolve(h(req, res)).catch(() => res.destroy());
      return;
    }
    if (path === '/v2/' || path === '/v2') { res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); return; }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND"}]}');
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const blob = (type: string, body: Buffer): Handler => (_req, res) => {
    res.writeHead(200, { 'content-type': type, 'content-length': String(body.length) }).end(body);
  };
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    serveImage(repo, tag, img) {
      for (const ref of [tag, img.manifestDigest]) routes.set(`/v2/${repo}/manifests/${ref}`, blob(img.manifestMediaType, img.manifest));
      routes.set(`/v2/${repo}/blobs/${img.configDigest}`, blob('application/octet-stream', img.config));
      for (const l of img.layers) routes.set(`/v2/${repo}/blobs/${l.digest}`, blob('application/octet-stream', l.blob));
    },
    on(path, handler) { routes.set(path, handler); },
    hits(path) { return counts.get(path) ?? 0; },
    openConnections() { return sockets.size; },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The daemon's resident set size in bytes (VmRSS of /proc/<pid>/status). */
export async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}
