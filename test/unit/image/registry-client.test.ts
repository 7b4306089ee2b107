// Registry client against a fake fetch: endpoints, challenges, bearer tokens from each AuthConfig form,
// credentials never sent to a mirror they were not meant for, manifest digest checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CriusError } from '../../../src/common/errors.js';
import { endpointsFor, parseChallenge, RegistryClient } from '../../../src/image/registry-client.js';
import { parseReference } from '../../../src/image/reference.js';

const manifest = Buffer.from('{"schemaVersion":2,"config":{},"layers":[]}');
const manifestDigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;

interface Call { url: string; method: string; authorization: string | undefined; body: string | undefined }

function fakeRegistry(handler: (c: Call) => Response): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const f: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    const c: Call = { url: String(input), method: init?.method ?? 'GET', authorization: headers.get('authorization') ?? undefined, body: typeof init?.body === 'string' ? init.body : undefined };
    calls.push(c);
    return handler(c);
  };
  return { fetch: f, calls };
}

test('endpoints: mirrors in order, then the host; docker.io maps to registry-1; loopback and insecure use http', () => {
  assert.deepEqual(endpointsFor('docker.io', { 'docker.io': { mirrors: ['http://127.0.0.1:5000/', 'https://m.example/v2'] } }).map((e) => e.base),
    ['http://127.0.0.1:5000', 'https://m.example', 'https://registry-1.docker.io']);
  assert.equal(endpointsFor('127.0.0.1:5000')[0]!.base, 'http://127.0.0.1:5000');
  assert.equal(endpointsFor('localhost:5000')[0]!.base, 'http://localhost:5000');
  assert.equal(endpointsFor('reg.local', { 'reg.local': { mirrors: [], insecure: true } })[0]!.base, 'http://reg.local');
  assert.equal(endpointsFor('quay.io')[0]!.base, 'https://quay.io');
});

test('challenge parsing', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'), {
    scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
  });
  assert.deepEqual(parseChallenge('Basic realm="x"'), { scheme: 'basic', params: { realm: 'x' } });
});

function tokenFlow(expectToken: string, checkTokenRequest: (c: Call) => boolean) {
  return fakeRegistry((c) => {
    if (c.url.startsWith('https://auth.example/token')) {
      return checkTokenRequest(c) ? Response.json({ token: expectToken }) : new Response('no', { status: 401 });
    }
    if (c.authorization === `Bearer ${expectToken}`) return new Response(manifest, { status: 200, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
    return new Response('', { status: 401, headers: { 'www-authenticate': 'Bearer realm="https://auth.example/token",service="reg.example",scope="repository:team/app:pull"' } });
  });
}

test('bearer token with username/password (basic to the token server), cached for the next request', async () => {
  const basic = `Basic ${Buffer.from('u:p').toString('base64')}`;
  const reg = tokenFlow('T1', (c) => c.authorization === basic && c.url.includes('service=reg.example') && c.url.includes('scope=repository%3Ateam%2Fapp%3Apull'));
  const client = new RegistryClient(parseReference('reg.example/team/app:1'), { fetch: reg.fetch, auth: { username: 'u', password: 'p' } });
  const m = await client.getManifest('1');
  assert.equal(m.digest, manifestDigest);
  await client.getManifest('1');
  assert.equal(reg.calls.filter((c) => c.url.startsWith('https://auth.example')).length, 1, 'token fetched once');
});

test('bearer token from the auth field, the identity token (OAuth refresh grant) and the registry token', async () => {
  const basic = `Basic ${Buffer.from('u:p').toString('base64')}`;
  let reg = tokenFlow('T2', (c) => c.authorization === basic);
  await new RegistryClient(parseReference('reg.example/team/app:1'), { fetch: reg.fetch, auth: { auth: Buffer.from('u:p').toString('base64') } }).getManifest('1');
  reg = tokenFlow('T3', (c) => c.method === 'POST' && (c.body ?? '').includes('grant_type=refresh_token') && (c.body ?? '').includes('refresh_token=IDT'));
  await new RegistryClient(parseReference('reg.example/team/app:1'), { fetch: reg.fetch, auth: { identity_token: 'IDT' } }).getManifest('1');
  reg = tokenFlow('RT', () => false);
  await new RegistryClient(parseReference('reg.example/team/app:1'), { fetch: reg.fetch, auth: { registry_token: 'RT' } }).getManifest('1');
  assert.ok(!reg.calls.some((c) => c.url.startsWith('https://auth.example')), 'a registry token is used as is');
});

test('anonymous bearer tokens work without credentials', async () => {
  const reg = tokenFlow('ANON', (c) => c.authorization === undefined);
  await new RegistryClient(parseReference('reg.example/team/app:1'), { fetch: reg.fetch }).getManifest('1');
});

test('credentials are not sent to a mirror unless the AuthConfig names it', async () => {
  const reg = fakeRegistry((c) => {
    if (c.url.startsWith('http://mirror.local')) return new Response('', { status: 401, headers: { 'www-authenticate': 'Basic realm="m"' } });
    if (c.authorization) return new Response(manifest, { status: 200 });
    return new Response('', { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } });
  });
  const client = new RegistryClient(parseReference('reg.example/team/app:1'), {
    fetch: reg.fetch, auth: { username: 'u', password: 'p' }, registries: { 'reg.example': { mirrors: ['http://mirror.local'] } },
  });
  await client.getManifest('1');
  assert.ok(reg.calls.filter((c) => c.url.startsWith('http://mirror.local')).every((c) => c.authorization === undefined));
  assert.ok(reg.calls.some((c) => c.url.startsWith('https://reg.example') && c.authorization));
});

test('basic challenge without credentials is PERMISSION_DENIED; a manifest not matching its digest is refused', async () => {
  const reg = fakeRegistry(() => new Response('', { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } }));
  await assert.rejects(new RegistryClient(parseReference('reg.example/a:1'), { fetch: reg.fetch }).getManifest('1'),
    (e: unknown) => e instanceof CriusError && e.code === 'PERMISSION_DENIED');
  const liar = fakeRegistry(() => new Response(manifest, { status: 200 }));
  const other = `sha256:${'0'.repeat(64)}`;
  await assert.rejects(new RegistryClient(parseReference('reg.example/a:1'), { fetch: liar.fetch }).getManifest(other),
    (e: unknown) => e instanceof CriusError && e.code === 'FAILED_PRECONDITION' && e.message.includes(other));
});

test('retries 5xx and network errors with backoff, then gives up with UNAVAILABLE', async () => {
  let n = 0;
  const reg = fakeRegistry(() => {
    n++;
    if (n === 1) throw new TypeError('fetch failed');
    if (n === 2) return new Response('', { status: 502 });
    return new Response(manifest, { status: 200 });
  });
  await new RegistryClient(parseReference('reg.example/a:1'), { fetch: reg.fetch, backoffMs: 1 }).getManifest('1');
  assert.equal(n, 3);
  const down = fakeRegistry(() => new Response('', { status: 503 }));
  await assert.rejects(new RegistryClient(parseReference('reg.example/a:1'), { fetch: down.fetch, backoffMs: 1, retries: 2 }).getManifest('1'),
    (e: unknown) => e instanceof CriusError && e.code === 'UNAVAILABLE');
  assert.equal(down.calls.length, 3);
});

test('readCapped stops an endless body at the cap, reads a small one whole, refuses a large Content-Length unread', async () => {
  const { readCapped } = await import('../../../src/image/registry-client.js');
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({ pull(c) { pulled++; c.enqueue(new Uint8Array(1024)); } });
  const tooBig = (): CriusError => new CriusError('FAILED_PRECONDITION', 'too big');
  await assert.rejects(readCapped(new Response(endless), 10_000, undefined, tooBig), /too big/);
  assert.ok(pulled <= 12, `read ${pulled} chunks for a 10 kB cap`);
  assert.equal((await readCapped(new Response('hello'), 5, undefined, tooBig)).toString(), 'hello');
  let started = false;
  const declared = new Response(new ReadableStream({ start() { started = true; } }), { headers: { 'content-length': '999999' } });
  await assert.rejects(readCapped(declared, 1000, undefined, tooBig), /too big/);
  assert.ok(started);
});

test('stall watchdog: a request that gets less than 1 KiB within the timeout is cut off, steady progress keeps it alive', async () => {
  const { RequestWatch } = await import('../../../src/image/registry-client.js');
  const w = new RequestWatch(150, () => 'fetch x');
  for (let i = 0; i < 6; i++) { await new Promise((r) => setTimeout(r, 50)); w.progress(1024); }
  assert.equal(w.signal.aborted, false, '1 KiB every 50 ms is progress');
  for (let i = 0; i < 6 && !w.signal.aborted; i++) { await new Promise((r) => setTimeout(r, 50)); w.progress(10); }
  assert.equal(w.signal.aborted, true, 'a trickle of 10 bytes is not');
  assert.equal(w.stalled?.code, 'UNAVAILABLE');
  assert.match(w.stalled?.message ?? '', /less than 1024 bytes in 0\.15 s.*images\.stall_timeout_seconds/);
  w.close();
  const caller = new AbortController();
  const w2 = new RequestWatch(10_000, () => 'fetch y', caller.signal);
  caller.abort();
  assert.equal(w2.signal.aborted, true);
  assert.equal(w2.stalled, undefined);
  w2.close();
});
