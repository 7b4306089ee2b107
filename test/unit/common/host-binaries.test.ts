import { test } from 'node:test';
import assert from 'node:assert/strict';
import { locateHostBinary } from '../../../src/common/host-binaries.js';

test('a runtime built into /usr/local/bin wins over the packaged one', () => {
  const present = new Set(['/usr/local/bin/crun', '/usr/bin/crun']);
  assert.equal(locateHostBinary('crun', (p) => present.has(p)), '/usr/local/bin/crun');
});

test('a packaged runtime is found where Debian puts it', () => {
  assert.equal(locateHostBinary('runc', (p) => p === '/usr/sbin/runc'), '/usr/sbin/runc');
  assert.equal(locateHostBinary('conmon', (p) => p === '/usr/bin/conmon'), '/usr/bin/conmon');
});

test('a binary found nowhere resolves to its packaged path', () => {
  assert.equal(locateHostBinary('runc', () => false), '/usr/sbin/runc');
  assert.equal(locateHostBinary('crun', () => false), '/usr/bin/crun');
});
