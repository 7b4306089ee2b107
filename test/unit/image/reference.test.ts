import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import { formatReference, looksLikeImageId, parseReference, repositoryName, taggedName } from '../../../src/image/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

test('normalises like Docker and the kubelet', () => {
  const cases: Array<[string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['foo/bar', 'docker.io/foo/bar:latest'],
    ['index.docker.io/library/busybox:1', 'docker.io/library/busybox:1'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['quay.io/a/b/c:v1', 'quay.io/a/b/c:v1'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/app:x', 'localhost:5000/app:x'],
    ['127.0.0.1:5000/a/b@' + D, `127.0.0.1:5000/a/b@${D}`],
    ['host:5000/a/b:tag@' + D, `host:5000/a/b:tag@${D}`],
    ['registry.k8s.io/pause:3.10', 'registry.k8s.io/pause:3.10'],
    ['a__b/c-d.e_f', 'docker.io/a__b/c-d.e_f:latest'],
    ['[::1]:5000/x', '[::1]:5000/x:latest'],
  ];
  for (const [input, want] of cases) assert.equal(formatReference(parseReference(input)), want, input);
});

test('parts', () => {
  const r = parseReference(`host:5000/a/b@${D}`);
  assert.deepEqual(r, { domain: 'host:5000', path: 'a/b', digest: D });
  assert.equal(repositoryName(r), 'host:5000/a/b');
  assert.equal(taggedName(r), undefined);
  assert.equal(taggedName(parseReference('busybox')), 'docker.io/library/busybox:latest');
});

test('malformed references are INVALID_ARGUMENT naming the reference', () => {
  for (const bad of ['', ' busybox', 'Busybox', 'busybox:', 'busybox:-x', 'a//b', 'a/b/', 'busybox@sha256:abc', `busybox@md5:${'a'.repeat(32)}`,
    'a:b:c', '-a', 'a..b', 'UPPER.io:x/y:z/w', `x/${'a'.repeat(260)}`, 'a'.repeat(64), 'host:port/a', 'busybox:' + 'x'.repeat(129)]) {
    assert.throws(() => parseReference(bad), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT' && e.message.includes(JSON.stringify(bad)), bad);
  }
});

test('image IDs are recognised', () => {
  assert.ok(looksLikeImageId(D));
  assert.ok(looksLikeImageId('b'.repeat(64)));
  assert.ok(!looksLikeImageId('busybox'));
});
