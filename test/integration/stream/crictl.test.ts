// crictl (the Go client-go streaming stack: SPDY/3.1 and WebSocket) against the streaming server with the
// real backends. crictl is not part of the repo: point CRICTL at a binary (else /usr/local/bin/crictl, as
// ../shared/cri-tools/install.sh puts it, or /tmp/crictl); the test is skipped without one. A minimal CRI
// RuntimeService on a temporary unix socket answers Exec, Attach and PortForward with URLs from the
// streaming server; everything else is UNIMPLEMENTED.
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
import { silentLogger } from '../../../src/common/logger.js';
import { errorMessage } from '../../../src/common/errors.js';
import { loadCriProto } from '../../../src/cri/proto.js';
import {
  PTY_HELPER, makeTestNetns, realStreamBackends, startPodServer, startStreamContainer, streamContainerUnavailable, type StreamContainer,
} from '../../helpers/stream-container.js';

const CRICTL = [process.env['CRICTL'], '/usr/local/bin/crictl', '/tmp/crictl'].find((p) => p !== undefined && existsSync(p)) ?? '/tmp/crictl';
const skip = streamContainerUnavailable() ?? (existsSync(CRICTL) ? null : `no crictl at ${CRICTL} (set CRICTL)`);
let ctr: StreamContainer | undefined;
let stream: StreamServer | undefined;
let grpcServer: grpc.Server | undefined;
let dir = '';
let netns = '';
let cleanupNetns: (() => Promise<void>) | undefined;
let podServer: ChildProcess | undefined;
let endpoint = '';

before(async () => {
  if (skip) return;
  dir = await mkdtemp(path.join(tmpdir(), 'crius-crictl-'));
  ctr = await startStreamContainer(['sh', '-c', 'while read l; do echo "got:$l"; done; echo bye']);
  const ns = await makeTestNetns();
  netns = ns.path;
  cleanupNetns = ns.cleanup;
  podServer = await startPodServer(netns, 8080);
  const c = ctr;
  stream = await StreamServer.start({
    logger: silentLogger,
    backends: realStreamBackends(c, () => netns),
  });
  const s = stream;
  type Cb = (err: grpc.ServiceError | null, res?: { url: string }) => void;
  const answer = (f: () => string, cb: Cb): void => {
    try { cb(null, { url: f() }); } catch (err) { cb({ code: grpc.status.INVALID_ARGUMENT, details: errorMessage(err) } as grpc.ServiceError); }
  };
  grpcServer = new grpc.Server();
  grpcServer.addService(loadCriProto().runtime.v1.RuntimeService.service, {
    // crictl validates the endpoint with Version before anything else.
    Version: (_call: unknown, cb: (err: null, res: Record<string, string>) => void) =>
      cb(null, { version: '0.1.0', runtime_name: 'crius-stream-test', runtime_version: '0.1.0', runtime_api_version: 'v1' }),
    Exec: (call: { request: { container_id: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean } }, cb: Cb) =>
      answer(() => s.getExecUrl(call.request), cb),
    Attach: (call: { request: { container_id: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean } }, cb: Cb) =>
      answer(() => s.getAttachUrl(call.request), cb),
    PortForward: (call: { request: { pod_sandbox_id: string; port: number[] } }, cb: Cb) =>
      answer(() => s.getPortForwardUrl(call.request), cb),
  });
  // crictl exec also validates the image endpoint (the same socket) with ImageFsInfo.
  grpcServer.addService(loadCriProto().runtime.v1.ImageService.service, {
    ImageFsInfo: (_call: unknown, cb: (err: null, res: Record<string, unknown>) => void) => cb(null, { image_filesystems: [], container_filesystems: [] }),
  });
  endpoint = `unix://${path.join(dir, 'cri.sock')}`;
  await new Promise<void>((resolve, reject) => grpcServer!.bindAsync(endpoint, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
});

after(async () => {
  grpcServer?.forceShutdown();
  await stream?.close();
  await ctr?.cleanup();
  podServer?.kill('SIGKILL');
  await cleanupNetns?.();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function crictl(args: string[], input?: string, wrapPty = false): Promise<{ code: number; stdout: string; stderr: string }> {
  const full = ['--runtime-endpoint', endpoint, '--timeout', '20s', ...args];
  const child = wrapPty ? spawn(PTY_HELPER, ['33', '101', CRICTL, ...full]) : spawn(CRICTL, full);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString('latin1'); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  if (input !== undefined) child.stdin.end(input); else if (!wrapPty) child.stdin.end();
  return new Promise((resolve) => child.on('close', (code) => { if (wrapPty) child.stdin.end(); resolve({ code: code ?? -1, stdout, stderr }); }));
}

test('crictl exec (SPDY): output and exit code 3', { skip: skip ?? false }, async () => {
  const r = await crictl(['exec', ctr!.id, 'sh', '-c', 'echo hi; echo oops >&2; exit 3']);
  assert.equal(r.stdout, 'hi\n');
  assert.match(r.stderr, /oops/);
  // crictl exits 1 on any streaming error; "exit code 3" shows client-go read the ExitCode cause of the v4 status.
  assert.match(r.stderr, /command terminated with exit code 3/);
  assert.equal(r.code, 1);
});

test('crictl exec: 10 MB of output reach the Go client without stalling', { skip: skip ?? false }, async () => {
  const r = await crictl(['exec', ctr!.id, 'head', '-c', String(10 * 1024 * 1024), '/dev/zero']);
  assert.equal(r.code, 0);
  assert.equal(Buffer.byteLength(r.stdout, 'latin1'), 10 * 1024 * 1024);
});

test('crictl exec -i: stdin echo', { skip: skip ?? false }, async () => {
  const r = await crictl(['exec', '-i', ctr!.id, 'cat'], 'one\ntwo\n');
  assert.equal(r.stdout, 'one\ntwo\n');
  assert.equal(r.code, 0);
});

for (const transport of ['spdy', 'websocket']) {
  test(`crictl exec -i (${transport}): 32 MiB of stdin through cat come back whole (inbound flow control pauses and resumes)`, { skip: skip ?? false }, async () => {
    const input = 'x'.repeat(32 * 1024 * 1024);
    const r = await crictl(['exec', '--transport', transport, '-i', ctr!.id, 'cat'], input);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, input.length);
  });
}

test('crictl exec -it on a terminal: the terminal size reaches the container', { skip: skip ?? false }, async () => {
  const r = await crictl(['exec', '-it', ctr!.id, 'sh', '-c', 'stty size; exit 5'], undefined, true);
  assert.match(r.stdout.replace(/\r/g, ''), /33 101/);
  assert.match(r.stdout, /command terminated with exit code 5/);
});

test('crictl exec --transport websocket (v5.channel.k8s.io)', { skip: skip ?? false }, async () => {
  const r = await crictl(['exec', '--transport', 'websocket', '-i', ctr!.id, 'sh', '-c', 'cat; exit 4'], 'ws-in\n');
  assert.equal(r.stdout, 'ws-in\n');
  assert.match(r.stderr, /command terminated with exit code 4/);
  assert.equal(r.code, 1);
});

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

function request(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(payload));
    let got = '';
    s.on('data', (b: Buffer) => { got += b.toString(); });
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

for (const transport of ['spdy', 'websocket']) {
  test(`crictl port-forward (${transport}): two parallel connections into the pod netns`, { skip: skip ?? false }, async () => {
    const local = await freePort();
    const child = spawn(CRICTL, ['--runtime-endpoint', endpoint, 'port-forward', '--transport', transport, 'pod1', `${local}:8080`]);
    try {
      let out = '';
      child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
      await new Promise<void>((resolve, reject) => {
        const onOut = (b: Buffer): void => { out += b.toString(); if (out.includes('Forwarding from')) resolve(); };
        child.stdout.on('data', onOut);
        child.once('exit', () => reject(new Error(`crictl port-forward exited: ${out}`)));
      });
      const [a, b] = await Promise.all([request(local, 'a'), request(local, 'b')]);
      assert.deepEqual([a, b], ['pong:a', 'pong:b']);
    } finally {
      child.kill('SIGTERM');
    }
  });
}

test('crictl attach -i: stdin reaches the container held by conmon, output comes back', { skip: skip ?? false }, async () => {
  const r = await crictl(['attach', '-i', ctr!.id], 'hello\n');
  assert.match(r.stdout, /got:hello\n/);
  assert.equal(r.code, 0);
});
