// The streaming server end to end over real TCP with fake backends, driven by a test client that speaks
// the client-go protocol (test/helpers/spdy-client.ts) and by the ws package for the WebSocket transport.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../helpers/daemon.js';
import net from 'node:net';
import http from 'node:http';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { StreamServer } from '../../../src/stream/server.js';
import { silentLogger } from '../../../src/common/logger.js';
import { fakeBackends, type FakeRecord } from '../../helpers/fake-stream-backends.js';
import { exitCodeOf, readAll, spdyExec, spdyUpgrade } from '../../helpers/spdy-client.js';

let server: StreamServer;
let record: FakeRecord;
let echoServer: net.Server;
let echoPort = 0;

before(async () => {
  // A TCP "pod" service: replies "pong:<data>" and closes after the client half-closes.
  echoServer = net.createServer((s) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => s.end(`pong:${Buffer.concat(chunks).toString()}`));
  });
  echoServer.listen(0, '127.0.0.1');
  await once(echoServer, 'listening');
  echoPort = (echoServer.address() as net.AddressInfo).port;
  const fakes = fakeBackends({ 80: echoPort });
  record = fakes.record;
  server = await StreamServer.start({ backends: fakes.backends, logger: silentLogger, streamCreationTimeoutMs: 2000 });
});

after(async () => {
  await server.close();
  echoServer.close();
});

const exec = (cmd: string[], o: { tty?: boolean; stdin?: boolean; stderr?: boolean } = {}): string =>
  server.getExecUrl({ container_id: 'c1', cmd, tty: o.tty ?? false, stdin: o.stdin ?? false, stdout: true, stderr: o.stderr ?? false });

test('exec without tty: stdout, stderr and Success on v4', async () => {
  const r = await spdyExec(exec(['echo', 'hello'], { stderr: true }), { stderr: true });
  assert.equal(r.protocol, 'v4.channel.k8s.io');
  assert.equal(r.stdout.toString(), 'hello\n');
  assert.equal(r.stderr.toString(), 'err\n');
  assert.equal(exitCodeOf(r.error), 0);
});

test('exec exit code 3 is reported as NonZeroExitCode', async () => {
  const r = await spdyExec(exec(['exit', '3']));
  assert.equal(exitCodeOf(r.error), 3);
});

test('exec with tty: resize messages reach the backend in order', async () => {
  const url = exec(['resize', '2'], { tty: true, stdin: true });
  const r = await spdyExec(url, { tty: true, stdin: Buffer.alloc(0), resizes: [{ Width: 80, Height: 24 }, { Width: 101, Height: 33 }] });
  assert.equal(r.stdout.toString(), '80x24\n101x33\n');
  assert.equal(exitCodeOf(r.error), 0);
  assert.equal(record.execs.at(-1)!.tty, true);
  assert.equal(record.execs.at(-1)!.stderr, undefined);
});

test('stdin is echoed and its FIN becomes EOF for the process', async () => {
  const input = Buffer.from('line one\nline two\n'.repeat(1000));
  const r = await spdyExec(exec(['cat'], { stdin: true }), { stdin: input });
  assert.deepEqual(r.stdout, input);
  assert.equal(exitCodeOf(r.error), 0);
});

test('10 MB of output arrive without stalling (no SPDY flow-control windows)', async () => {
  const size = 10 * 1024 * 1024;
  const r = await spdyExec(exec(['big', String(size)]));
  assert.equal(r.stdout.length, size);
  assert.equal(exitCodeOf(r.error), 0);
});

test('a backend failure is reported as InternalError', async () => {
  const r = await spdyExec(exec(['no-such-binary']));
  const status = JSON.parse(r.error) as { reason: string; message: string };
  assert.equal(status.reason, 'InternalError');
  assert.match(status.message, /executable file not found/);
});

test('older protocols: v2 gets text errors only on failure', async () => {
  const ok = await spdyExec(exec(['echo', 'x']), { protocols: ['v2.channel.k8s.io'] });
  assert.equal(ok.protocol, 'v2.channel.k8s.io');
  assert.equal(ok.error, '');
  const bad = await spdyExec(exec(['exit', '3']), { protocols: ['v2.channel.k8s.io'] });
  assert.match(bad.error, /exit status 3/);
});

test('a token works once: the second use gets 404, unknown tokens too', async () => {
  const url = exec(['echo', 'once']);
  await spdyExec(url);
  const again = await spdyUpgrade(url, ['v4.channel.k8s.io']);
  assert.equal(again.upgraded, false);
  if (!again.upgraded) assert.equal(again.status, 404);
  const unknown = await spdyUpgrade(`${server.baseUrl}/exec/AAAAAAAA`, ['v4.channel.k8s.io']);
  assert.equal(unknown.upgraded ? 0 : unknown.status, 404);
});

test('no common protocol gives 403 with the accepted versions; no upgrade headers give 400', async () => {
  const r = await spdyUpgrade(exec(['echo']), ['v9.channel.k8s.io']);
  assert.equal(r.upgraded, false);
  if (!r.upgraded) {
    assert.equal(r.status, 403);
    assert.match(String(r.headers['x-accepted-stream-protocol-versions']), /v4\.channel\.k8s\.io/);
  }
  const status = await new Promise<number>((resolve, reject) => {
    http.request(exec(['echo']), { method: 'POST' }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject).end();
  });
  assert.equal(status, 400);
});

test('a client disconnecting mid-stream cancels the backend', async () => {
  const up = await spdyUpgrade(exec(['hang']), ['v4.channel.k8s.io']);
  assert.ok(up.upgraded);
  if (!up.upgraded) return;
  up.conn.on('error', () => {});
  await up.conn.openStream({ streamtype: 'error' });
  await up.conn.openStream({ streamtype: 'stdout' });
  const before = record.cancelled;
  await waitFor(() => record.running === 1, 10_000, 'the backend to run the exec');
  up.socket.destroy();
  for (let i = 0; i < 100 && record.cancelled === before; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(record.cancelled, before + 1);
  assert.equal(record.running, 0);
});

test('attach relays stdin to the fake container and reports Success', async () => {
  const url = server.getAttachUrl({ container_id: 'c9', tty: false, stdin: true, stdout: true, stderr: false });
  const r = await spdyExec(url, { stdin: Buffer.from('typed\n') });
  assert.equal(r.stdout.toString(), 'attached to c9\ntyped\n');
  assert.equal(exitCodeOf(r.error), 0);
});

test('port-forward: two parallel connections to one port, and a closed port reported on the error stream', async () => {
  const up = await spdyUpgrade(server.getPortForwardUrl({ pod_sandbox_id: 'p1' }), ['portforward.k8s.io']);
  assert.ok(up.upgraded);
  if (!up.upgraded) return;
  assert.equal(up.protocol, 'portforward.k8s.io');
  const { conn } = up;
  const one = async (port: number, requestId: number, payload: string): Promise<{ data: string; error: string }> => {
    const err = await conn.openStream({ streamtype: 'error', port: String(port), requestid: String(requestId) });
    const errP = readAll(err);
    err.end();
    const data = await conn.openStream({ streamtype: 'data', port: String(port), requestid: String(requestId) });
    const dataP = readAll(data);
    data.end(payload);
    const [d, e] = await Promise.all([dataP, errP]);
    return { data: d.toString(), error: e.toString() };
  };
  const [a, b] = await Promise.all([one(80, 0, 'first'), one(80, 1, 'second')]);
  assert.deepEqual(a, { data: 'pong:first', error: '' });
  assert.deepEqual(b, { data: 'pong:second', error: '' });
  const closed = await one(81, 2, 'nobody');
  assert.equal(closed.data, '');
  assert.match(closed.error, /error forwarding port 81 to pod p1: .*connection refused/);
  conn.close();
});

test('websocket v5: stdin with CLOSE [255,0], stdout, exit status and close code 1000', async () => {
  const url = exec(['cat'], { stdin: true }).replace('http://', 'ws://');
  const ws = new WebSocket(url, ['v5.channel.k8s.io']);
  await once(ws, 'open');
  assert.equal(ws.protocol, 'v5.channel.k8s.io');
  const out: Buffer[] = [];
  let status = '';
  ws.on('message', (d: Buffer) => {
    if (d[0] === 1) out.push(d.subarray(1));
    if (d[0] === 3) status += d.subarray(1).toString();
  });
  ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('over ws\n')]));
  ws.send(Buffer.from([255, 0]));
  const [code] = (await once(ws, 'close')) as [number];
  assert.equal(code, 1000);
  assert.equal(Buffer.concat(out).toString(), 'over ws\n');
  assert.equal(exitCodeOf(status), 0);
});

test('websocket v4 base64: exit code 3', async () => {
  const ws = new WebSocket(exec(['exit', '3']).replace('http://', 'ws://'), ['v4.base64.channel.k8s.io']);
  let status = '';
  ws.on('message', (d: Buffer) => { const s = d.toString(); if (s[0] === '3') status += Buffer.from(s.slice(1), 'base64').toString(); });
  await once(ws, 'close');
  assert.equal(exitCodeOf(status), 3);
});
