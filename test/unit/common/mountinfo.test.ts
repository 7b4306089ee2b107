import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountCountAt, mountsUnder, parseMountInfo } from '../../../src/common/mountinfo.js';

// Optional tags before the "-", an escaped space, and a pin stacked twice on one file.
const TEXT = [
  '26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '50 26 0:4 net:[4026532300] /run/crius/ns/p\\0401/net rw shared:7 master:2 - nsfs nsfs rw',
  '51 50 0:4 net:[4026532301] /run/crius/ns/p\\0401/net rw - nsfs nsfs rw',
  '52 26 0:40 / /run/crius/ns/p1x rw - tmpfs tmpfs rw',
  'garbage line',
].join('\n');

test('mountinfo: fields unescaped, optional tags skipped, malformed lines ignored', () => {
  const m = parseMountInfo(TEXT);
  assert.equal(m.length, 4);
  assert.deepEqual(m[1], { mountId: 50, device: '0:4', root: 'net:[4026532300]', mountPoint: '/run/crius/ns/p 1/net', fsType: 'nsfs', source: 'nsfs', superOptions: 'rw' });
  assert.equal(mountCountAt('/run/crius/ns/p 1/net', m), 2);
  assert.equal(mountCountAt('/run/crius/ns/p\\0401/net', m), 0, 'plain paths, not escaped ones');
  assert.deepEqual(mountsUnder('/run/crius/ns/p 1', m), ['/run/crius/ns/p 1/net', '/run/crius/ns/p 1/net']);
  assert.deepEqual(mountsUnder('/run/crius/ns/p1', m), [], 'a sibling with the same prefix is not below');
});
