// Many connections through ONE port-forward session, against a pod-side server that behaves like a web
// server: it answers as soon as the request arrives and closes its side first (the client never
// half-closes, as curl and browsers do). A pod closing its side is a normal end of that stream: nothing
// may appear on the error stream and the session must carry on (issue 12 item 6, issue 13 item 6).
// Clients: crius's own SPDY client, and crictl (client-go) over SPDY and WebSocket when crictl exists.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { StreamServer } from '../../../src/stream/server.js';
import { createNetnsPortForwardBackend } from '../../../src/stream/portforward-netns.js';
import { silentLogger } from '../../../src/common/logger.js';
import { errorMessage } from '../../../src/common/errors.js';
import { loadCriProto } from '../../../src/cri/proto.js';
import { RELAY_HELPER, makeTestNetns } from '../../helpers/stream-container.js';
import { readAll, spdyUpgrade } from '../../helpers/spdy-client.js';

const CRICTL = [process.env['CRICTL'], '/usr/local/bin/crictl', '/tmp/crictl'].find((p) => p !== undefined && existsSync(p));
const skip = process.getuid?.() !== 0 ? 'needs root' : existsSync(RELAY_HELPER) ? null : `${RELAY_HELPER} is missing (make -C native)`;
const crictlSkip = skip ?? (CRICTL ? null : 'no crictl (set CRICTL or run /work/shared/cri-tools/install.sh)');
const POD_PORT = 8080;

let stream: StreamServer | undefined;
let grpcServer: grpc.Server | undefined;
let dir = '';
let cleanupNetns: (() => Promise<void>) | undefined;
let podServer: ChildProcess | undefined;
let endpoint = '';

/** Like an HTTP server: answers "ok:<first bytes>" on the first read and closes at once. */
async function startEagerServer(netns: string): Promise<ChildProcess> {
  const script = "process.stdin.on('end',()=>process.exit(0));process.stdin.resume();" +
    "require('net').createServer(s=>{s.once('data',d=>s.end('ok:'+d));s.on('error',()=>{})})" +
    `.listen(${POD_PORT},'127.0.0.1',()=>console.log('up'))`;
  const child = spawn('nsenter', [`--net=${netns}`, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout!.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`pod server exited ${code}`)));
  });
  return child;
}

before(async () => {
  if (skip) return;
  dir = await mkdtemp(path.join(tmpdir(), 'crius-pfmany-'));
  const ns = await makeTestNetns();
  cleanupNetns = ns.cleanup;
  podServer = await startEagerServer(ns.path);
  const unused = async (): Promise<never> => { throw new Error('unused'); };
  stream = await StreamServer.start({
    logger: silentLogger,
    backends: {
      exec: { exec: unused },
      attach: { attach: unused },
      portForward: createNetnsPortForwardBackend({ relayHelper: RELAY_HELPER, netnsPath: async () => ns.path }),
    },
  });
  const s = stream;
  type Cb = (err: grpc.ServiceError | null, res?: { url: string }) => void;
  grpcServer = new grpc.Server();
  grpcServer.addService(loadCriProto().runtime.v1.RuntimeService.service, {
    Version: (_call: unknown, cb: (err: null, res: Record<string, string>) => void) =>
      cb(null, { version: '0.1.0', runtime_name: 'crius-pf-test', runtime_version: '0.1.0', runtime_api_version: 'v1' }),
    PortForward: (call: { request: { pod_sandbox_id: string; port: number[] } }, cb: Cb) => {
      try { cb(null, { url: s.getPortForwardUrl(call.request) }); } catch (err) { cb({ code: grpc.status.INVALID_ARGUMENT, details: errorMessage(err) } as grpc.ServiceError); }
    },
  });
  endpoint = `unix://${path.join(dir, 'cri.sock')}`;
  await new Promise<void>((resolve, reject) => grpcServer!.bindAsync(endpoint, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
});

after(async () => {
  grpcServer?.forceShutdown();
  await stream?.close();
  podServer?.kill('SIGKILL');
  await cleanupNetns?.();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** What a curl-like client gets: it sends a request, never half-closes, and reads until the server closes. */
function fetchLike(port: number, payload: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(payload));
    let got = '';
    s.on('data', (b: Buffer) => { got += b.toString(); });
    s.on('end', () => { s.destroy(); resolve(got); });
    s.on('error', (e) => resolve(`error: ${e.message}`));
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

test('own SPDY client: 50 sequential and 30 parallel connections through one session, pod closes first', { skip: skip ?? false }, async () => {
  const up = await spdyUpgrade(stream!.getPortForwardUrl({ pod_sandbox_id: 'p1' }), ['portforward.k8s.io']);
  assert.ok(up.upgraded);
  if (!up.upgraded) return;
  up.conn.on('error', () => {});
  let id = 0;
  const one = async (payload: string): Promise<{ data: string; error: string }> => {
    const rid = String(id++);
    const err = await up.conn.openStream({ streamtype: 'error', port: String(POD_PORT), requestid: rid });
    const errP = readAll(err);
    err.end();
    const data = await up.conn.openStream({ streamtype: 'data', port: String(POD_PORT), requestid: rid });
    const dataP = readAll(data);
    data.write(payload); // no FIN: the pod answers and closes first
    const d = await dataP;
    data.end();
    const e = await errP;
    return { data: d.toString(), error: e.toString() };
  };
  const seq: Array<{ data: string; error: string }> = [];
  for (let i = 0; i < 50; i++) seq.push(await one(`s${i}`));
  assert.deepEqual(seq, Array.from({ length: 50 }, (_, i) => ({ data: `ok:s${i}`, error: '' })));
  const par = await Promise.all(Array.from({ length: 30 }, (_, i) => one(`p${i}`)));
  assert.deepEqual(par, Array.from({ length: 30 }, (_, i) => ({ data: `ok:p${i}`, error: '' })));
  assert.equal(up.conn.isClosed(), false);
  up.conn.close();
});

for (const transport of ['spdy', 'websocket']) {
  test(`crictl port-forward (${transport}): 50 sequential, then 10 and 30 parallel connections; the session survives`, { skip: crictlSkip ?? false }, async () => {
    const local = await freePort();
    const child = spawn(CRICTL!, ['--runtime-endpoint', endpoint, 'port-forward', '--transport', transport, 'pod1', `${local}:${POD_PORT}`]);
    let out = '';
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    let exited = false;
    child.once('exit', () => { exited = true; });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (b: Buffer) => { out += b.toString(); if (out.includes('Forwarding from')) resolve(); });
        child.once('exit', () => reject(new Error(`crictl port-forward exited: ${out}`)));
      });
      const seq: string[] = [];
      for (let i = 0; i < 50; i++) seq.push(await fetchLike(local, `s${i}`));
      assert.deepEqual(seq, Array.from({ length: 50 }, (_, i) => `ok:s${i}`), out);
      for (const n of [10, 30]) {
        const par = await Promise.all(Array.from({ length: n }, (_, i) => fetchLike(local, `p${n}-${i}`)));
        assert.deepEqual(par, Array.from({ length: n }, (_, i) => `ok:p${n}-${i}`), out);
      }
      assert.equal(exited, false, out);
      assert.doesNotMatch(out, /error occurred|lost connection|Premature close/, out);
    } finally {
      child.kill('SIGTERM');
    }
  });
}
