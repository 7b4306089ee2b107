// A real OCI distribution registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1 with a
// free port and a temp storage dir, optionally behind htpasswd basic auth. Started per test file and
// stopped (process killed, dir removed) by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/common/exec.js';

const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface TestRegistry {
  /** `127.0.0.1:PORT`, the host part of image references. */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  dir: string;
  /** The storage root (pass as dataDir to serve the same content from a second registry). */
  dataDir: string;
  /** Set when started with auth. */
  credentials?: { username: string; password: string };
  stop(): Promise<void>;
}

interface RegistryOptions {
  /** Require basic auth with these credentials (htpasswd -Bbn). */
  auth?: { username: string; password: string };
  /** Require bearer tokens from this token server (see token-server.ts). */
  token?: { realm: string; service: string; issuer: string; certPath: string };
  /** Serve the storage of another registry (e.g. an open one used for pushing). */
  dataDir?: string;
}

/** Why the registry cannot run here, or undefined when it can (for t.skip). */
export function registryUnavailable(): string | undefined {
  return existsSync(REGISTRY_BIN) ? undefined : `${REGISTRY_BIN} is not installed (apt-get install docker-registry)`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'crius-registry-'));
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${opts.dataDir ?? join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: crius-test-secret',
  ];
  if (opts.auth) {
    // bcrypt is the only hash distribution's htpasswd backend accepts.
    const { stdout } = await run('htpasswd', ['-Bbn', opts.auth.username, opts.auth.password]);
    writeFileSync(join(dir, 'htpasswd'), stdout);
    lines.push('auth:', '  htpasswd:', '    realm: crius-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  if (opts.token) {
    lines.push('auth:', '  token:', `    realm: ${opts.token.realm}`, `    service: ${opts.token.service}`,
      `    issuer: ${opts.token.issuer}`, `    rootcertbundle: ${opts.token.certPath}`);
  }
  writeFileSync(join(dir, 'config.yml'), lines.join('\n') + '\n');
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => { if (stderr.length < 8192) stderr += b.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry exited at start (code ${child.exitCode}): ${stderr.slice(-2000)}`);
    }
    try {
      const res = await fetch(`${url}/v2/`);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer on ${url} within 10 s: ${stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const reg: TestRegistry = { host: `127.0.0.1:${port}`, url, port, dir, dataDir: opts.dataDir ?? join(dir, 'data'), stop };
  if (opts.auth) reg.credentials = opts.auth;
  return reg;
}
