// The daemon's gRPC transport (src/grpc/server.ts) against the clients that speak to it: grpc-js (what
// the CLI and tests use; the kubelet's and crictl's grpc-go speak the same protocol) and raw HTTP/2 for
// what a well-behaved client never sends. A JSON codec stands in for protobuf: the transport never looks
// inside a message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http2 from 'node:http2';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { listenGrpc, type GrpcMethod, type GrpcServer } from '../../../src/grpc/server.js';
import { GrpcStatusError, Status } from '../../../src/grpc/status.js';
import { frameMessage } from '../../../src/grpc/wire.js';

const json = {
  decodeRequest: (b: Buffer): object => {
    const v: unknown = JSON.parse(b.toString() || '{}');
    if (typeof v !== 'object' || v === null) throw new Error('not an object');
    return v;
  },
  encodeResponse: (m: object): Uint8Array => Buffer.from(JSON.stringify(m)),
};
const ser = (v: object): Buffer => Buffer.from(JSON.stringify(v));
const de = (b: Buffer): any => JSON.parse(b.toString());

class Refused extends Error {
  constructor(readonly code: number, message: string) { super(message); }
}

interface Fixture {
  socket: string;
  server: GrpcServer;
  client: grpc.Client;
  /** Signals of the calls handled so far, by the request's `id`. */
  signals: Map<string, AbortSignal>;
  close(): Promise<void>;
}

async function fixture(extra: Record<string, GrpcMethod> = {}): Promise<Fixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'crius-grpc-'));
  const socket = path.join(dir, 's.sock');
  const signals = new Map<string, AbortSignal>();
  const methods = new Map<string, GrpcMethod>(Object.entries({
    '/t.S/Echo': { kind: 'unary', ...json, handle: async (req: any) => ({ echo: req }) },
    '/t.S/Fail': { kind: 'unary', ...json, handle: async (req: any) => { throw new Refused(req.code, req.message); } },
    '/t.S/Wait': {
      kind: 'unary', ...json,
      handle: (req: any, info) => new Promise((_resolve, reject) => {
        signals.set(req.id, info.signal);
        info.signal.addEventListener('abort', () => reject(info.signal.reason));
      }),
    },
    '/t.S/Big': { kind: 'unary', ...json, handle: async (req: any) => ({ data: 'x'.repeat(req.n) }) },
    '/t.S/Count': {
      kind: 'server-stream', ...json,
      handle: async (req: any, call) => {
        for (let i = 0; i < req.n; i++) call.write({ i });
        if (req.failAfter) throw new Refused(Status.NOT_FOUND, 'gone after the messages');
      },
    },
    '/t.S/Forever': {
      kind: 'server-stream', ...json,
      handle: (req: any, call, info) => new Promise<void>((resolve) => {
        signals.set(req.id, info.signal);
        call.sendHeaders();
        call.on('cancelled', () => resolve());
      }),
    },
    ...extra,
  }));
  const server = await listenGrpc(socket, {
    methods,
    maxReceiveBytes: 64 * 1024,
    maxSendBytes: 64 * 1024,
    statusOf: (err) => (err instanceof Refused ? { code: err.code as any, message: err.message } : { code: Status.INTERNAL, message: String(err) }),
    unknownMethod: (p) => ({ code: Status.UNIMPLEMENTED, message: `no method ${p}` }),
  });
  const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
  return {
    socket, server, client, signals,
    close: async () => { client.close(); await server.close(1000); await rm(dir, { recursive: true, force: true }); },
  };
}

function unary(f: Fixture, method: string, req: object, options: grpc.CallOptions = {}): Promise<any> {
  return new Promise((resolve, reject) => {
    f.client.makeUnaryRequest(method, ser, de, req, new grpc.Metadata(), options, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function status(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as grpc.ServiceError;
    return { code: err.code, details: err.details };
  }
  throw new Error('the call succeeded');
}

/** A raw HTTP/2 request on a fresh connection: the response headers, data and trailers. */
async function raw(socket: string, headers: http2.OutgoingHttpHeaders, body: Buffer): Promise<{ headers: http2.IncomingHttpHeaders; data: Buffer; trailers: http2.IncomingHttpHeaders }> {
  const session = http2.connect('http://localhost', { createConnection: () => net.connect(socket) });
  session.on('error', () => undefined);
  try {
    const req = session.request({ ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers', ...headers });
    req.end(body);
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => { head = h; });
    req.on('trailers', (h) => { trailers = h; });
    req.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve) => { req.on('close', () => resolve()); req.on('error', () => resolve()); });
    return { headers: head, data: Buffer.concat(chunks), trailers };
  } finally {
    session.destroy();
  }
}

test('unary: the response; an error\'s code and message arrive whole (non-ASCII and % included)', async () => {
  const f = await fixture();
  try {
    assert.deepEqual(await unary(f, '/t.S/Echo', { a: 1 }), { echo: { a: 1 } });
    const message = 'pod "wéb" 100% not found\nsecond line';
    assert.deepEqual(await status(unary(f, '/t.S/Fail', { code: Status.NOT_FOUND, message })), { code: Status.NOT_FOUND, details: message });
  } finally {
    await f.close();
  }
});

test('the client\'s deadline: DEADLINE_EXCEEDED from the server, the handler\'s signal aborted with that reason', async () => {
  const f = await fixture();
  try {
    // grpc-js keeps the deadline itself too (it resets the stream when it passes): the handler is told either way.
    const st = await status(unary(f, '/t.S/Wait', { id: 'd' }, { deadline: Date.now() + 150 }));
    assert.equal(st.code, Status.DEADLINE_EXCEEDED);
    const signal = f.signals.get('d')!;
    for (let i = 0; i < 200 && !signal.aborted; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(signal.aborted, true);
    // A client that leaves the deadline to the server (grpc-timeout only) gets the server's own status.
    const r = await raw(f.socket, { ':path': '/t.S/Wait', 'grpc-timeout': '100m' }, frameMessage(ser({ id: 'r' })));
    assert.equal(r.headers['grpc-status'], String(Status.DEADLINE_EXCEEDED));
    assert.equal((f.signals.get('r')!.reason as GrpcStatusError).code, Status.DEADLINE_EXCEEDED);
  } finally {
    await f.close();
  }
});

test('a client that cancels: the handler\'s signal is aborted CANCELLED; the server serves on', async () => {
  const f = await fixture();
  try {
    const call = f.client.makeUnaryRequest('/t.S/Wait', ser, de, { id: 'c' }, () => undefined);
    for (let i = 0; i < 200 && !f.signals.has('c'); i++) await new Promise((r) => setTimeout(r, 5));
    call.cancel();
    const signal = f.signals.get('c')!;
    for (let i = 0; i < 200 && !signal.aborted; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal((signal.reason as GrpcStatusError).code, Status.CANCELLED);
    assert.deepEqual(await unary(f, '/t.S/Echo', { after: true }), { echo: { after: true } });
  } finally {
    await f.close();
  }
});

test('an unknown method is UNIMPLEMENTED naming it', async () => {
  const f = await fixture();
  try {
    assert.deepEqual(await status(unary(f, '/t.S/Nope', {})), { code: Status.UNIMPLEMENTED, details: 'no method /t.S/Nope' });
  } finally {
    await f.close();
  }
});

test('sizes: a request or a response over the limit is RESOURCE_EXHAUSTED, and the connection serves on', async () => {
  const f = await fixture();
  try {
    const big = await status(unary(f, '/t.S/Echo', { pad: 'y'.repeat(100 * 1024) }));
    assert.equal(big.code, Status.RESOURCE_EXHAUSTED);
    assert.match(big.details, /larger than max/);
    const bigOut = await status(unary(f, '/t.S/Big', { n: 100 * 1024 }));
    assert.equal(bigOut.code, Status.RESOURCE_EXHAUSTED);
    assert.match(bigOut.details, /response message larger than max/);
    assert.equal((await unary(f, '/t.S/Big', { n: 10 })).data, 'x'.repeat(10));
  } finally {
    await f.close();
  }
});

test('what no gRPC client sends: bad bytes, two messages, unknown compression, malformed timeout, not POST, not gRPC', async () => {
  const f = await fixture();
  try {
    const bad = await raw(f.socket, { ':path': '/t.S/Echo' }, frameMessage(Buffer.from('[not json')));
    assert.equal(bad.headers['grpc-status'], String(Status.INVALID_ARGUMENT));
    assert.match(decodeURIComponent(String(bad.headers['grpc-message'])), /not a valid \/t\.S\/Echo request/);
    const two = await raw(f.socket, { ':path': '/t.S/Echo' }, Buffer.concat([frameMessage(ser({})), frameMessage(ser({}))]));
    assert.equal(two.headers['grpc-status'], String(Status.INTERNAL));
    const gz = Buffer.from(frameMessage(gzipSync(ser({ z: 1 }))));
    gz[0] = 1;
    const zipped = await raw(f.socket, { ':path': '/t.S/Echo', 'grpc-encoding': 'gzip' }, gz);
    assert.equal(zipped.trailers['grpc-status'], '0');
    assert.deepEqual(de(zipped.data.subarray(5)), { echo: { z: 1 } });
    const snappy = await raw(f.socket, { ':path': '/t.S/Echo', 'grpc-encoding': 'snappy' }, gz);
    assert.equal(snappy.headers['grpc-status'], String(Status.UNIMPLEMENTED));
    const timeout = await raw(f.socket, { ':path': '/t.S/Echo', 'grpc-timeout': 'soon' }, frameMessage(ser({})));
    assert.equal(timeout.headers['grpc-status'], String(Status.INTERNAL));
    assert.equal((await raw(f.socket, { ':path': '/t.S/Echo', ':method': 'PUT' }, Buffer.alloc(0))).headers[':status'], 405);
    assert.equal((await raw(f.socket, { ':path': '/t.S/Echo', 'content-type': 'text/plain' }, Buffer.alloc(0))).headers[':status'], 415);
  } finally {
    await f.close();
  }
});

test('server streams: messages in order then OK; an error after messages arrives after them', async () => {
  const f = await fixture();
  try {
    const read = (req: object): Promise<{ got: number[]; code: number }> => new Promise((resolve) => {
      const got: number[] = [];
      const s = f.client.makeServerStreamRequest('/t.S/Count', ser, de, req);
      s.on('data', (m: { i: number }) => got.push(m.i));
      s.on('error', (e: grpc.ServiceError) => resolve({ got, code: e.code }));
      s.on('status', (st: grpc.StatusObject) => { if (st.code === 0) resolve({ got, code: 0 }); });
    });
    assert.deepEqual(await read({ n: 500 }), { got: [...Array(500).keys()], code: 0 });
    assert.deepEqual(await read({ n: 2, failAfter: true }), { got: [0, 1], code: Status.NOT_FOUND });
    assert.deepEqual(await read({ n: 0 }), { got: [], code: 0 });
  } finally {
    await f.close();
  }
});

test('close: an open stream is cut after the grace period and its handler told; close resolves', async () => {
  const f = await fixture();
  const s = f.client.makeServerStreamRequest('/t.S/Forever', ser, de, { id: 'forever' });
  s.on('error', () => undefined);
  s.on('data', () => undefined);
  for (let i = 0; i < 200 && !f.signals.has('forever'); i++) await new Promise((r) => setTimeout(r, 5));
  const t0 = Date.now();
  await f.server.close(200);
  assert.ok(Date.now() - t0 < 5000);
  assert.equal(f.signals.get('forever')!.aborted, true);
  f.client.close();
});
