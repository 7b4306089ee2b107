// The ImageService over the daemon's gRPC socket, as crictl pull / images / inspecti / rmi / imagefsinfo
// and the kubelet use it, against a local registry configured as a docker.io mirror.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { busyboxImage, pushImage, type BuiltImage } from '../../helpers/build-image.js';
import { CRIUSD, startTestDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { registryUnavailable, startRegistry, type TestRegistry } from '../../helpers/registry.js';

const skip = registryUnavailable() ?? (process.getuid?.() !== 0 ? 'needs root' : !existsSync(CRIUSD) ? `${CRIUSD} missing` : false);

interface CriImage { id: string; repo_tags: string[]; repo_digests: string[]; size: string; uid: { value: string } | null; username: string }
interface FsUsage { timestamp: string; fs_id: { mountpoint: string }; used_bytes: { value: string }; inodes_used: { value: string } }

describe('ImageService over the daemon socket', { skip }, () => {
  let reg: TestRegistry;
  let d: TestDaemon;
  let img: BuiltImage;
  before(async () => {
    reg = await startRegistry();
    img = await busyboxImage('gzip', { User: '1000:1000' });
    await pushImage(reg, 'library/busybox', 'latest', img);
    d = await startTestDaemon({ config: `[registries."docker.io"]\nmirrors = ["${reg.url}"]\n` });
  });
  after(async () => {
    await d?.cleanup();
    await reg?.stop();
  });

  test('pull (through the docker.io mirror), images, inspecti, imagefsinfo, rmi', async () => {
    const c = d.client;
    const fs0 = await c.call<{ image_filesystems: FsUsage[] }>('image', 'ImageFsInfo', {});
    const pulled = await c.call<{ image_ref: string }>('image', 'PullImage', { image: { image: 'busybox' } });
    assert.equal(pulled.image_ref, img.configDigest);
    const list = await c.call<{ images: CriImage[] }>('image', 'ListImages', {});
    const mine = list.images.find((i) => i.id === img.configDigest);
    assert.ok(mine, JSON.stringify(list));
    assert.deepEqual(mine.repo_tags, ['docker.io/library/busybox:latest']);
    assert.equal(mine.uid?.value, '1000');
    assert.equal(mine.size, String(img.config.length + img.layers[0]!.size));
    const st = await c.call<{ image: CriImage; info: Record<string, string> }>('image', 'ImageStatus', { image: { image: 'busybox:latest' }, verbose: true });
    assert.equal(st.image.id, img.configDigest);
    assert.ok(JSON.parse(st.info.info!).imageSpec.rootfs);
    const absent = await c.call<{ image: CriImage | null }>('image', 'ImageStatus', { image: { image: 'nothere:1' } });
    assert.equal(absent.image, null);
    const fs1 = await c.call<{ image_filesystems: FsUsage[] }>('image', 'ImageFsInfo', {});
    assert.ok(BigInt(fs1.image_filesystems[0]!.used_bytes.value) > BigInt(fs0.image_filesystems[0]!.used_bytes.value) + 1_000_000n);
    assert.ok(Number(fs1.image_filesystems[0]!.inodes_used.value) > Number(fs0.image_filesystems[0]!.inodes_used.value));
    await c.call('image', 'RemoveImage', { image: { image: img.configDigest } });
    const fs2 = await c.call<{ image_filesystems: FsUsage[] }>('image', 'ImageFsInfo', {});
    assert.equal(fs2.image_filesystems[0]!.used_bytes.value, fs0.image_filesystems[0]!.used_bytes.value);
    const after = await c.call<{ images: CriImage[] }>('image', 'ListImages', {});
    assert.ok(!after.images.some((i) => i.id === img.configDigest));
    await assert.rejects(c.call('image', 'PullImage', { image: { image: 'Not A Ref' } }), (e: { code?: number; details?: string }) => e.code === 3 && /Not A Ref/.test(e.details ?? ''));
  });
});
