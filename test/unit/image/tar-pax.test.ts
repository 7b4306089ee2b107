import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extract } from 'tar-stream';
import { installBinaryPaxDecoder, xattrValueBytes } from '../../../src/image/tar-pax.js';
import { paxRecord, tarOf } from '../../helpers/build-image.js';

test('PAX xattr values survive byte for byte; paths stay UTF-8', async () => {
  installBinaryPaxDecoder();
  const value = Buffer.from([0x00, 0xff, 0x80, 0xc3, 0x28, 0x0a]);
  const tar = await tarOf([
    { path: 'PaxHeaders/x', type: 'pax-header', content: Buffer.concat([paxRecord('SCHILY.xattr.user.bin', value), paxRecord('path', Buffer.from('dír/ñame'))]) },
    { path: 'short', content: 'x' },
  ]);
  const ex = extract();
  ex.end(tar);
  const seen: Array<{ name: string; pax: Record<string, string> }> = [];
  for await (const e of ex) {
    seen.push({ name: e.header.name, pax: e.header.pax as Record<string, string> });
    e.resume();
  }
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.name, 'dír/ñame');
  assert.deepEqual(xattrValueBytes(seen[0]!.pax['SCHILY.xattr.user.bin']!), value);
});
