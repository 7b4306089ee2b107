import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitEntryName, whiteoutOf, xattrAllowed } from '../../../src/image/tar-path.js';

test('entry names: clean components, refusals', () => {
  assert.deepEqual(splitEntryName('./a//b/./c/'), { ok: true, parts: ['a', 'b', 'c'] });
  assert.deepEqual(splitEntryName('./'), { ok: true, parts: [] });
  assert.deepEqual(splitEntryName('a..b/..c'), { ok: true, parts: ['a..b', '..c'] });
  for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'a/..', '..', 'a\0b']) assert.equal(splitEntryName(bad).ok, false, bad);
});

test('whiteouts per the OCI layer spec', () => {
  assert.deepEqual(whiteoutOf('file'), { kind: 'none' });
  assert.deepEqual(whiteoutOf('.wh..wh..opq'), { kind: 'opaque' });
  assert.deepEqual(whiteoutOf('.wh..wh.plnk'), { kind: 'meta' });
  assert.deepEqual(whiteoutOf('.wh.foo'), { kind: 'file', target: 'foo' });
  assert.equal(whiteoutOf('.wh...').kind, 'invalid');
  assert.equal(whiteoutOf('.wh..').kind, 'invalid');
  assert.equal(whiteoutOf('.wh.').kind, 'invalid');
});

test('xattr namespaces a layer may set', () => {
  assert.ok(xattrAllowed('user.foo'));
  assert.ok(xattrAllowed('security.capability'));
  assert.ok(!xattrAllowed('trusted.overlay.opaque'));
  assert.ok(!xattrAllowed('security.selinux'));
});
