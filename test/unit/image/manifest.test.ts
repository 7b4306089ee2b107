import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CriusError } from '../../../src/common/errors.js';
import { chainIds, parseImageConfig, parseManifest, selectPlatform, userFromConfig, type ImageIndex } from '../../../src/image/manifest.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;

test('chain IDs follow the image-spec formula', () => {
  const ids = chainIds([d('a'), d('b'), d('c')]);
  assert.equal(ids[0], d('a'));
  const c1 = `sha256:${createHash('sha256').update(`${d('a')} ${d('b')}`).digest('hex')}`;
  assert.equal(ids[1], c1);
  assert.equal(ids[2], `sha256:${createHash('sha256').update(`${c1} ${d('c')}`).digest('hex')}`);
  assert.deepEqual(chainIds([]), []);
});

test('parses OCI and Docker manifests and indexes; rejects schema 1 and junk', () => {
  const m = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { digest: d('c'), size: 10 }, layers: [{ digest: d('1'), size: 5, mediaType: 'x' }] })), '', 'img');
  assert.equal(m.kind, 'manifest');
  const i = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ digest: d('1'), size: 5, platform: { os: 'linux', architecture: 'amd64' } }] })), 'application/vnd.oci.image.index.v1+json', 'img');
  assert.equal(i.kind, 'index');
  const fp = (e: unknown): boolean => e instanceof CriusError && e.code === 'FAILED_PRECONDITION';
  assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":1}'), '', 'img'), fp);
  assert.throws(() => parseManifest(Buffer.from('nope'), '', 'img'), fp);
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ config: { digest: 'sha256:short', size: 1 }, layers: [] })), '', 'img'), fp);
  assert.throws(() => parseImageConfig(Buffer.from('{"rootfs":{"diff_ids":["x"]}}'), 'img'), fp);
});

test('platform selection', () => {
  const idx: ImageIndex = { kind: 'index', manifests: [
    { mediaType: '', digest: d('1'), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { mediaType: '', digest: d('2'), size: 1, platform: { os: 'windows', architecture: 'amd64' } },
    { mediaType: '', digest: d('3'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: '', digest: d('4'), size: 1 },
  ] };
  assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'amd64' }, 'i').digest, d('3'));
  assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'arm', variant: 'v7' }, 'i').digest, d('1'));
  assert.throws(() => selectPlatform(idx, { os: 'linux', architecture: 'arm', variant: 'v6' }, 'i'), /no manifest for linux\/arm/);
});

test('uid / username from the config User', () => {
  assert.deepEqual(userFromConfig(undefined), {});
  assert.deepEqual(userFromConfig(''), {});
  assert.deepEqual(userFromConfig('1000'), { uid: 1000 });
  assert.deepEqual(userFromConfig('0:0'), { uid: 0 });
  assert.deepEqual(userFromConfig('nginx'), { username: 'nginx' });
  assert.deepEqual(userFromConfig('app:staff'), { username: 'app' });
});
