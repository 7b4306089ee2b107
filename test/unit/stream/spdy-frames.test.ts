import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { SPDY3_DICTIONARY } from '../../../src/stream/spdy/dictionary.js';
import {
  FLAG_FIN, FrameType, decodeControl, decodeNameValues, encodeData, encodeGoAway, encodeNameValues, encodePing,
  encodeRstStream, encodeStreamHeaders, encodeSynStream, parseFrames,
} from '../../../src/stream/spdy/frames.js';
import { HeaderCodec } from '../../../src/stream/spdy/header-codec.js';

function adler32(b: Buffer): number {
  let a = 1;
  let s = 0;
  for (const x of b) { a = (a + x) % 65521; s = (s + a) % 65521; }
  return ((s << 16) | a) >>> 0;
}

test('the SPDY/3 dictionary is the 1423-byte block with Adler-32 0xe3c6a7c2', () => {
  assert.equal(SPDY3_DICTIONARY.length, 1423);
  assert.equal(adler32(SPDY3_DICTIONARY), 0xe3c6a7c2);
});

test('frames round-trip through encode and parseFrames, including a split tail', () => {
  const block = Buffer.from('hdr');
  const wire = Buffer.concat([
    encodeSynStream(1, 0, 2, FLAG_FIN, block),
    encodeStreamHeaders(FrameType.SYN_REPLY, 1, 0, block),
    encodeData(3, FLAG_FIN, Buffer.from('payload')),
    encodeRstStream(5, 5),
    encodePing(7),
    encodeGoAway(9, 0),
  ]);
  const cut = wire.length - 3;
  const first = parseFrames(wire.subarray(0, cut));
  assert.equal(first.frames.length, 5);
  const second = parseFrames(Buffer.concat([first.rest, wire.subarray(cut)]));
  assert.equal(second.frames.length, 1);
  assert.equal(second.rest.length, 0);
  const all = [...first.frames, ...second.frames];
  const syn = all[0]!;
  assert.equal(syn.kind, 'control');
  if (syn.kind !== 'control') return;
  assert.deepEqual(decodeControl(syn), { type: 'SYN_STREAM', streamId: 1, assocId: 0, priority: 2, fin: true, block });
  const data = all[2]!;
  assert.deepEqual(data, { kind: 'data', streamId: 3, flags: FLAG_FIN, payload: Buffer.from('payload') });
  const rest = all.slice(3).map((f) => (f.kind === 'control' ? decodeControl(f) : null));
  assert.deepEqual(rest, [
    { type: 'RST_STREAM', streamId: 5, status: 5 },
    { type: 'PING', id: 7 },
    { type: 'GOAWAY', lastGoodStreamId: 9, status: 0 },
  ]);
});

test('control frames of another SPDY version are rejected', () => {
  const f = encodePing(1);
  f.writeUInt16BE(0x8002, 0);
  assert.throws(() => parseFrames(f), /version 2/);
});

test('name/value blocks round-trip, names lowercased, repeated names NUL-joined', () => {
  const nv = encodeNameValues({ StreamType: 'stdout', port: '80' });
  assert.deepEqual(decodeNameValues(nv), { streamtype: 'stdout', port: '80' });
  const dup = Buffer.concat([encodeNameValues({ a: '1' }).subarray(0, 4), encodeNameValues({ a: '1' }).subarray(4), encodeNameValues({ a: '2' }).subarray(4)]);
  dup.writeUInt32BE(2, 0);
  assert.deepEqual(decodeNameValues(dup), { a: '1\u00002' });
  assert.throws(() => decodeNameValues(nv.subarray(0, nv.length - 1)), /truncated/);
});

test('header compression keeps one zlib context per direction across frames', async () => {
  const sender = new HeaderCodec();
  const receiver = new HeaderCodec();
  const headers: Array<Record<string, string>> = [{ streamtype: 'error' }, { streamtype: 'stdin' }, { streamtype: 'stdout' }, { streamtype: 'stdout', port: '8080' }];
  const blocks = await Promise.all(headers.map((h) => sender.compress(h)));
  // Starts with the zlib header naming the SPDY dictionary (its Adler-32), as the Go peer expects.
  assert.equal(blocks[0]!.subarray(0, 6).toString('hex'), '78f9e3c6a7c2');
  for (let i = 0; i < blocks.length; i++) assert.deepEqual(await receiver.decompress(blocks[i]!), headers[i]);
  // The later blocks refer back to earlier ones: a fresh inflater cannot decode them alone.
  // (Synchronous: a streaming inflater fed a bad block may neither fail nor flush, and the test would hang.)
  assert.throws(() => zlib.inflateSync(blocks[2]!, { dictionary: SPDY3_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH }));
  sender.close();
  receiver.close();
});
