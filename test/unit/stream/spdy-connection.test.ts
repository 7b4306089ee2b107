import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { MAX_INBOUND_FRAME, SpdyConnection, type SpdyStream } from '../../../src/stream/spdy/connection.js';
import { FLAG_FIN, FrameType, encodeControl, encodeData } from '../../../src/stream/spdy/frames.js';
import { Duplex } from 'node:stream';
import { waitFor } from '../../helpers/daemon.js';

async function pair(): Promise<{ client: SpdyConnection; server: SpdyConnection; clientSocket: net.Socket; cleanup: () => void }> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const accepted = once(srv, 'connection') as Promise<[net.Socket]>;
  const c = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  const [s] = await accepted;
  await once(c, 'connect').catch(() => undefined);
  const client = new SpdyConnection(c, { isServer: false });
  const server = new SpdyConnection(s, { isServer: true });
  return { client, server, clientSocket: c, cleanup: () => { c.destroy(); s.destroy(); srv.close(); } };
}

function collect(s: SpdyStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (b: Buffer) => chunks.push(b));
  return new Promise((resolve) => s.on('end', () => resolve(Buffer.concat(chunks))));
}

test('pings from the peer are echoed; our own pings resolve on the echo', async () => {
  const { client, server, cleanup } = await pair();
  try {
    const rtt = await client.ping();
    assert.ok(rtt >= 0);
    const rtt2 = await server.ping();
    assert.ok(rtt2 >= 0);
  } finally { cleanup(); }
});

test('a stream opens, carries data both ways, half-closes, and 8 MB pass without any WINDOW_UPDATE', async () => {
  const { client, server, cleanup } = await pair();
  try {
    server.on('stream', (s: SpdyStream) => {
      assert.equal(s.headers['streamtype'], 'stdout');
      s.reply();
      s.resume();
      s.end(Buffer.alloc(8 * 1024 * 1024, 'y'));
    });
    const s = await client.openStream({ streamtype: 'stdout' });
    assert.equal(s.id, 1);
    s.end(Buffer.from('hi'));
    const got = await collect(s);
    assert.equal(got.length, 8 * 1024 * 1024);
  } finally { cleanup(); }
});

test('SETTINGS and WINDOW_UPDATE are ignored; an unanswered stream can be refused by RST', async () => {
  const { client, server, cleanup } = await pair();
  try {
    client.sendFrame(encodeControl(FrameType.SETTINGS, 0, Buffer.alloc(4)));
    client.sendFrame(encodeControl(FrameType.WINDOW_UPDATE, 0, Buffer.alloc(8)));
    server.on('stream', (s: SpdyStream) => s.reset());
    await assert.rejects(client.openStream({ streamtype: 'x' }), /refused/);
    assert.ok((await client.ping()) >= 0);
  } finally { cleanup(); }
});

test('closing the socket aborts open streams on the other side', async () => {
  const { client, server, cleanup } = await pair();
  try {
    const accepted = new Promise<SpdyStream>((resolve) => server.on('stream', (s: SpdyStream) => { s.reply(); resolve(s); }));
    await client.openStream({ streamtype: 'stdin' });
    const s = await accepted;
    s.on('error', () => {});
    const closed = once(s, 'close');
    client.destroy();
    await closed;
    assert.equal(s.aborted, true);
  } finally { cleanup(); }
});

test('frames split across reads at every byte boundary are reassembled', async () => {
  // Frames produced by a client connection are fed to a server connection one byte per read.
  const wire: Buffer[] = [];
  const sink = new Duplex({ read() {}, write(b: Buffer, _e, cb) { wire.push(b); cb(); } });
  const client = new SpdyConnection(sink, { isServer: false });
  void client.openStream({ streamtype: 'stdin' }).catch(() => undefined);
  // The SYN_STREAM goes out once its headers are compressed (asynchronously).
  await waitFor(() => wire.length > 0, 5000, 'the SYN_STREAM frame');
  client.sendFrame(encodeData(1, 0, Buffer.from('hello ')));
  client.sendFrame(encodeData(1, FLAG_FIN, Buffer.from('world')));
  await waitFor(() => Buffer.concat(wire).includes('world'), 5000, 'both data frames');
  const bytes = Buffer.concat(wire);
  const server = new SpdyConnection(new Duplex({ read() {}, write(_b, _e, cb) { cb(); } }), { isServer: true });
  const got = new Promise<Buffer>((resolve) => server.on('stream', (st: SpdyStream) => resolve(collect(st))));
  for (let i = 0; i < bytes.length; i++) server.feed(bytes.subarray(i, i + 1));
  assert.equal((await got).toString(), 'hello world');
});

test('inbound flow control: a stream nobody reads holds the socket, buffers stay bounded, reading resumes it', async () => {
  const { client, server, cleanup } = await pair();
  try {
    const accepted = once(server, 'stream') as Promise<[SpdyStream]>;
    const c = await (async () => {
      const p = client.openStream({ streamtype: 'stdin' });
      const [s] = await accepted;
      s.reply();
      return { s, out: await p };
    })();
    const total = 32 * 1024 * 1024;
    const chunk = Buffer.alloc(256 * 1024, 'z');
    let written = 0;
    let stalled = false;
    // The client writes until its own writes stop completing: the server no longer reads the socket.
    while (written < total) {
      const done = new Promise<boolean>((resolve) => c.out.write(chunk, () => resolve(true)));
      const ok = await Promise.race([done, new Promise<boolean>((r) => setTimeout(() => r(false), 500))]);
      written += chunk.length; // queued either way: it arrives once the server reads again
      if (!ok) { stalled = true; break; }
    }
    assert.equal(stalled, true, 'the client could write 32 MiB into a stream nobody reads');
    assert.equal(server.isInputHeld(), true);
    // Bounded: the stream's high-water mark plus at most one socket read and one frame.
    assert.ok(c.s.readableLength <= 64 * 1024 + 128 * 1024, `buffered ${c.s.readableLength}`);
    let got = 0;
    c.s.on('data', (b: Buffer) => { got += b.length; });
    const ended = once(c.s, 'end');
    await once(c.out, 'drain').catch(() => undefined);
    while (written < total) { if (!c.out.write(chunk)) await once(c.out, 'drain'); written += chunk.length; }
    c.out.end();
    await ended;
    assert.equal(got, written);
    assert.equal(server.isInputHeld(), false);
  } finally { cleanup(); }
});

test('a frame larger than MAX_INBOUND_FRAME is a protocol error (GOAWAY), not a 16 MiB buffer', async () => {
  const { server, clientSocket: sock, cleanup } = await pair();
  try {
    const errored = once(server, 'error') as Promise<[Error]>;
    const header = Buffer.alloc(8);
    header.writeUInt32BE(1, 0);
    header.writeUIntBE(MAX_INBOUND_FRAME + 1, 5, 3);
    sock.write(header);
    const [err] = await errored;
    assert.match(err.message, /exceeds the limit/);
    assert.equal(server.isClosed(), true);
  } finally { cleanup(); }
});
