// A minimal distribution token server (docs/spec/auth/token.md) for tests: checks basic credentials,
// issues an RS256 JWT whose x5c header carries a self-signed certificate the registry trusts via
// `auth.token.rootcertbundle`. Anonymous requests get no token (401), so pulls need credentials.
import { createSign, randomBytes, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/common/exec.js';

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  /** Tokens issued so far. */
  issued(): number;
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

export async function startTokenServer(creds: { username: string; password: string }): Promise<TokenServer> {
  const dir = mkdtempSync(join(tmpdir(), 'crius-token-'));
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=crius-test-token']);
  const key = readFileSync(join(dir, 'key.pem'), 'utf8');
  const certDer = new X509Certificate(readFileSync(join(dir, 'cert.pem'))).raw;
  const service = 'crius-test-registry';
  const issuer = 'crius-test-issuer';
  let issued = 0;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const want = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    if (url.pathname !== '/token' || req.headers.authorization !== want) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const access = url.searchParams.getAll('scope').flatMap((s) => {
      const [type, name, actions] = s.split(':');
      return type && name && actions ? [{ type, name, actions: actions.split(',') }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] };
    const claims = { iss: issuer, sub: creds.username, aud: url.searchParams.get('service') ?? service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(input).sign(key);
    issued++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${input}.${b64url(sig)}`, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    realm: `http://127.0.0.1:${port}/token`, service, issuer, certPath: join(dir, 'cert.pem'),
    issued: () => issued,
    stop: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
