// The /metrics HTTP endpoint. [metrics] port = 0 (the default) means disabled: an ephemeral port nobody
// configured cannot be scraped, so "0" stays the off switch. The address should be loopback (the default
// 127.0.0.1): the endpoint has no authentication.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(registry: Registry | undefined, address: string, port: number, logger: Logger): Promise<MetricsServer | undefined> {
  if (port === 0) {
    logger.info('metrics endpoint disabled', { why: '[metrics] port = 0' });
    return undefined;
  }
  if (!registry) throw new Error('metrics were not collected (no registry) although [metrics] port is set');
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: crius serves only GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`collecting metrics failed: ${(err as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => { server.off('error', reject); resolve(); });
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  const url = `http://${host}:${a.port}/metrics`;
  logger.info('serving metrics', { url });
  return {
    url,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
