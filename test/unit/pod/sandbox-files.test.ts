import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostnameFromPodName } from '../../../src/pod/sandbox-files.js';
import { checkHostname } from '../../../src/cri/validate/hostname.js';

test('a pod without a hostname gets one made from its name: RFC 1123, at most 63 characters', () => {
  assert.equal(hostnameFromPodName('web-0'), 'web-0');
  assert.equal(hostnameFromPodName('a b_c'), 'a-b-c');
  assert.equal(hostnameFromPodName('-x-.-y'), 'x.y');
  assert.equal(hostnameFromPodName('___'), 'pod');
  // critest's names are 60+ characters with a UUID.
  const critest = 'PodSandbox-for-create-test-0b9f6a52-3cbe-4d2c-9d5c-1f0e1d2c3b4a';
  const h = hostnameFromPodName(critest);
  assert.equal(h, critest.slice(0, 63));
  for (const name of [critest, 'a.'.repeat(100), `${'x'.repeat(62)}-.y`, 'ü', 'a/b', '..']) checkHostname(hostnameFromPodName(name), 'derived');
});
