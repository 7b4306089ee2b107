// The gRPC wire format's pure parts: framing across arbitrary chunk boundaries, the size limit read from
// the prefix, grpc-timeout, and grpc-message percent-encoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeGrpcMessage, frameMessage, MessageReader, parseGrpcTimeout } from '../../../src/grpc/wire.js';
import { GrpcStatusError, Status } from '../../../src/grpc/status.js';

test('messages framed back to back come out whole, whatever the chunking', () => {
  const payloads = [Buffer.from('a'), Buffer.alloc(0), Buffer.from('hello world'), Buffer.alloc(70_000, 7)];
  const body = Buffer.concat(payloads.map(frameMessage));
  for (const size of [1, 3, 5, 6, 1000, body.length]) {
    const reader = new MessageReader(1 << 20);
    const got: Buffer[] = [];
    for (let i = 0; i < body.length; i += size) for (const m of reader.push(body.subarray(i, i + size))) got.push(m.payload);
    assert.deepEqual(got.map((b) => b.toString('hex')), payloads.map((b) => b.toString('hex')), `chunks of ${size}`);
    assert.equal(reader.pending(), 0);
  }
});

test('a partial message is pending; a compressed flag is reported', () => {
  const reader = new MessageReader(100);
  const framed = frameMessage(Buffer.from('xyz'));
  assert.deepEqual(reader.push(framed.subarray(0, 6)), []);
  assert.equal(reader.pending(), 6);
  const compressed = Buffer.from(framed);
  compressed[0] = 1;
  const r2 = new MessageReader(100);
  assert.equal(r2.push(compressed)[0]!.compressed, true);
});

test('a message over the limit is refused from its prefix alone, RESOURCE_EXHAUSTED', () => {
  const reader = new MessageReader(10);
  const prefix = Buffer.from([0, 0, 0, 0, 11]);
  assert.throws(() => reader.push(prefix), (e: unknown) => e instanceof GrpcStatusError && e.code === Status.RESOURCE_EXHAUSTED && /11 vs\. 10/.test(e.message));
  assert.throws(() => new MessageReader(10).push(Buffer.from([2, 0, 0, 0, 1, 0])), (e: unknown) => e instanceof GrpcStatusError && e.code === Status.INTERNAL);
});

test('grpc-timeout in every unit; absent is no deadline; malformed is refused', () => {
  assert.equal(parseGrpcTimeout(undefined), undefined);
  assert.equal(parseGrpcTimeout('2H'), 7_200_000);
  assert.equal(parseGrpcTimeout('3M'), 180_000);
  assert.equal(parseGrpcTimeout('5S'), 5000);
  assert.equal(parseGrpcTimeout('250m'), 250);
  assert.equal(parseGrpcTimeout('1500u'), 1.5);
  assert.equal(parseGrpcTimeout('99999999n'), 99.999999);
  for (const bad of ['', '5', 'S', '123456789S', '5s', '-1S', '1.5S']) {
    assert.throws(() => parseGrpcTimeout(bad), GrpcStatusError, bad);
  }
});

test('grpc-message: printable ASCII as is, everything else (and %) percent-encoded UTF-8', () => {
  assert.equal(encodeGrpcMessage('pod "web" not found'), 'pod "web" not found');
  assert.equal(encodeGrpcMessage('100% done'), '100%25 done');
  assert.equal(encodeGrpcMessage('line\nnext'), 'line%0Anext');
  assert.equal(encodeGrpcMessage('héllo'), 'h%C3%A9llo');
  assert.equal(decodeURIComponent(encodeGrpcMessage('ünïcødé 100% \t ok')), 'ünïcødé 100% \t ok');
});
