// ImageService handler encoding with a fake image store: CRI field shapes, validation, auth mapping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import { makeImageServiceHandlers, toCriImage } from '../../../src/cri/image-service.js';
import type { ImageInfo, ImageStore } from '../../../src/image/image-store.js';

const info: ImageInfo = {
  id: `sha256:${'c'.repeat(64)}`, repoTags: ['docker.io/library/nginx:1'], repoDigests: [`docker.io/library/nginx@sha256:${'d'.repeat(64)}`],
  size: 1234, username: 'nginx', pinned: true, manifestDigest: `sha256:${'d'.repeat(64)}`,
  config: { rootfs: { type: 'layers', diff_ids: [] }, config: { User: 'nginx' } },
};

test('toCriImage: uid as Int64Value only when numeric, username otherwise, size as a string', () => {
  assert.deepEqual(toCriImage(info), {
    id: info.id, repo_tags: info.repoTags, repo_digests: info.repoDigests, size: '1234', uid: null, username: 'nginx',
    spec: { image: info.id, annotations: {} }, pinned: true,
  });
  const numeric = { ...info, uid: 0 };
  delete (numeric as Partial<ImageInfo>).username;
  assert.deepEqual(toCriImage(numeric).uid, { value: '0' });
  assert.equal(toCriImage(numeric).username, '');
});

test('PullImage maps AuthConfig (empty fields dropped) and the call signal; empty image is INVALID_ARGUMENT', async () => {
  const seen: unknown[] = [];
  const fake: Partial<ImageStore> = { pull: async (ref, opts) => { seen.push([ref, opts]); return info; } };
  const h = makeImageServiceHandlers({ images: fake as ImageStore });
  const ac = new AbortController();
  const res = await h.PullImage({ image: { image: 'nginx:1' }, auth: { username: 'u', password: 'p', auth: '', server_address: '', identity_token: '', registry_token: '' } }, { signal: ac.signal });
  assert.deepEqual(res, { image_ref: info.id });
  assert.deepEqual(seen[0], ['nginx:1', { auth: { username: 'u', password: 'p' }, signal: ac.signal }]);
  await h.PullImage({ image: { image: 'nginx:1' }, auth: { username: '', password: '' } });
  assert.deepEqual(seen[1], ['nginx:1', {}]);
  await assert.rejects(h.PullImage({ image: { image: '' } }), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT');
  await assert.rejects(h.PullImage({}), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT');
});

test('ListImages passes the filter through; ImageStatus of an absent image is empty, not an error', async () => {
  const filters: Array<string | undefined> = [];
  const fake: Partial<ImageStore> = { list: (f) => { filters.push(f); return [info]; }, status: () => undefined };
  const h = makeImageServiceHandlers({ images: fake as ImageStore });
  await h.ListImages({});
  await h.ListImages({ filter: { image: { image: '' } } });
  await h.ListImages({ filter: { image: { image: 'nginx' } } });
  assert.deepEqual(filters, [undefined, undefined, 'nginx']);
  assert.deepEqual(await h.ImageStatus({ image: { image: 'nginx' }, verbose: true }), { image: null, info: {} });
});
