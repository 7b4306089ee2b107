// The CRI ImageService handlers end to end against a local registry: the shapes the kubelet and crictl see.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriusError } from '../../../src/common/errors.js';
import { makeImageServiceHandlers } from '../../../src/cri/image-service.js';
import { ImageStore } from '../../../src/image/image-store.js';
import { openDb, type Db } from '../../../src/store/db.js';
import { busyboxImage, pushImage, type BuiltImage } from '../../helpers/build-image.js';
import { registryUnavailable, startRegistry, type TestRegistry } from '../../helpers/registry.js';

const skip = registryUnavailable() ?? (process.getuid?.() !== 0 ? 'needs root (layer unpack)' : false);

describe('CRI ImageService handlers', { skip }, () => {
  let reg: TestRegistry;
  let dir: string;
  let db: Db;
  let img: BuiltImage;
  let store: ImageStore;
  before(async () => {
    reg = await startRegistry({ auth: { username: 'kube', password: 'let-me-in' } });
    img = await busyboxImage('gzip', { User: '1000' });
    await pushImage(reg, 'apps/bb', '1.0', img);
    dir = mkdtempSync(join(tmpdir(), 'crius-cri-images-'));
    db = openDb(join(dir, 'crius.db'));
    store = new ImageStore({ root: join(dir, 'images'), db });
  });
  after(async () => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
    await reg?.stop();
  });

  test('pull, list, status, fsinfo, remove', async () => {
    const h = makeImageServiceHandlers({ images: store });
    const ref = `${reg.host}/apps/bb:1.0`;
    const fs0 = await h.ImageFsInfo();
    assert.equal(fs0.image_filesystems![0]!.used_bytes!.value, '0');

    await assert.rejects(h.PullImage({ image: { image: ref } }), (e: unknown) => e instanceof CriusError && e.code === 'PERMISSION_DENIED');
    const pulled = await h.PullImage({ image: { image: ref }, auth: { username: 'kube', password: 'let-me-in', server_address: reg.host, auth: '', identity_token: '', registry_token: '' }, sandbox_config: null });
    assert.equal(pulled.image_ref, img.configDigest);

    const all = await h.ListImages({});
    assert.equal(all.images!.length, 1);
    const one = all.images![0]!;
    assert.deepEqual({ id: one.id, repo_tags: one.repo_tags, size: one.size, uid: one.uid, username: one.username, pinned: one.pinned },
      { id: img.configDigest, repo_tags: [ref], size: String(img.config.length + img.layers[0]!.size), uid: { value: '1000' }, username: '', pinned: false });
    assert.equal((await h.ListImages({ filter: { image: { image: ref } } })).images!.length, 1);
    assert.equal((await h.ListImages({ filter: { image: { image: 'docker.io/library/other:1' } } })).images!.length, 0);

    const st = await h.ImageStatus({ image: { image: img.configDigest }, verbose: true });
    assert.equal(st.image!.id, img.configDigest);
    const info = JSON.parse(st.info!.info!) as { imageSpec: { config: { User: string } } };
    assert.equal(info.imageSpec.config.User, '1000');
    assert.deepEqual(await h.ImageStatus({ image: { image: 'docker.io/library/absent:1' } }), { image: null, info: {} });
    await assert.rejects(h.ImageStatus({ image: { image: '' } }), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT');

    const fs1 = await h.ImageFsInfo();
    const u1 = fs1.image_filesystems![0]!;
    assert.ok(Number(u1.used_bytes!.value) > 1_900_000);
    assert.ok(Number(u1.inodes_used!.value) > 40);
    assert.equal(u1.fs_id!.mountpoint, join(dir, 'images'));
    assert.ok(BigInt(String(u1.timestamp)) > 0n);

    store.markInUse(img.configDigest, 'ctr1');
    await assert.rejects(h.RemoveImage({ image: { image: ref } }), (e: unknown) => e instanceof CriusError && e.code === 'FAILED_PRECONDITION');
    store.release('ctr1');
    assert.deepEqual(await h.RemoveImage({ image: { image: ref } }), {});
    assert.deepEqual(await h.RemoveImage({ image: { image: ref } }), {}, 'idempotent');
    assert.equal((await h.ListImages({})).images!.length, 0);
    assert.equal((await h.ImageFsInfo()).image_filesystems![0]!.used_bytes!.value, '0');
  });
});
