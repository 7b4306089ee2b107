// `crius image import`: OCI image-layout tars and `docker save` tars load into the store, unpacked and named.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CriusError } from '../../../src/common/errors.js';
import { ImageStore } from '../../../src/image/image-store.js';
import { importArchive } from '../../../src/image/import.js';
import { openDb, type Db } from '../../../src/store/db.js';
import { shiftedCacheDir, shiftedLayerCopies } from '../../../src/rootfs/shifted-copy.js';
import { busyboxImage, tarOf, writeDockerSaveTar, writeOciLayoutTar, type BuiltImage } from '../../helpers/build-image.js';

describe('image import', { skip: process.getuid?.() !== 0 ? 'needs root (layer unpack)' : false }, () => {
  let dir: string;
  let db: Db;
  let img: BuiltImage;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crius-import-'));
    db = openDb(join(dir, 'crius.db'));
    img = await busyboxImage('gzip', { User: 'user' });
  });
  after(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('OCI image layout tar', async () => {
    const store = new ImageStore({ root: join(dir, 'oci'), db });
    const file = join(dir, 'oci.tar');
    await writeOciLayoutTar(file, img, 'example.com/tools/busybox:1.0');
    const [info] = await importArchive(store, file);
    assert.equal(info!.id, img.configDigest);
    assert.deepEqual(info!.repoTags, ['example.com/tools/busybox:1.0']);
    assert.equal(info!.username, 'user');
    const r = store.resolveImage('example.com/tools/busybox:1.0');
    assert.deepEqual(readFileSync(join(r.layerDirs[0]!, 'bin/busybox')), readFileSync('/bin/busybox'));
    await store.remove(info!.id);
  });

  test('docker save tar (uncompressed layers), gzipped archive, extra name', async () => {
    const store = new ImageStore({ root: join(dir, 'docker'), db });
    const file = join(dir, 'save.tar');
    await writeDockerSaveTar(file, img, ['busybox:saved']);
    writeFileSync(`${file}.gz`, gzipSync(readFileSync(file)));
    const [info] = await importArchive(store, `${file}.gz`, { names: ['local/bb:extra'] });
    assert.equal(info!.id, img.configDigest);
    assert.deepEqual(info!.repoTags.sort(), ['docker.io/library/busybox:saved', 'docker.io/local/bb:extra']);
    const r = store.resolveImage('busybox:saved');
    assert.deepEqual(readFileSync(join(r.layerDirs[0]!, 'bin/busybox')), readFileSync('/bin/busybox'));
  });

  test('an OCI layout whose blob does not match its name is refused', async () => {
    const store = new ImageStore({ root: join(dir, 'bad'), db });
    const file = join(dir, 'bad.tar');
    writeFileSync(file, await tarOf([{ path: `blobs/sha256/${'a'.repeat(64)}`, content: 'not that' }, { path: 'index.json', content: '{"manifests":[]}' }]));
    await assert.rejects(importArchive(store, file), (e: unknown) => e instanceof CriusError && e.code === 'FAILED_PRECONDITION' && e.message.includes(`sha256:${'a'.repeat(64)}`));
    const junk = join(dir, 'junk.tar');
    writeFileSync(junk, await tarOf([{ path: 'hello.txt', content: 'hi' }]));
    await assert.rejects(importArchive(store, junk), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT');
  });

  test('image GC removes the shifted layer copies ([userns] rootfs = "copy") made from the layers it removes', async () => {
    const own = openDb(join(dir, 'shifted.db')); // the other tests' images (same ID) live in the shared db
    try {
      const root = join(dir, 'shifted');
      const store = new ImageStore({ root, db: own });
      const file = join(dir, 'shift.tar');
      await writeOciLayoutTar(file, img, 'example.com/tools/shift:1.0');
      const [info] = await importArchive(store, file);
      const r = store.resolveImage('example.com/tools/shift:1.0');
      const cacheDir = shiftedCacheDir(root);
      const range = { containerId: 0, hostId: 200000, length: 65536 };
      const copies = await shiftedLayerCopies({ layers: r.layerDirs, cacheDir, map: { uid: range, gid: range } });
      assert.ok(existsSync(join(copies[0]!, 'bin/busybox')));
      // A copy of layers that still exist (another image's) stays.
      const kept = join(cacheDir, 'f'.repeat(32));
      mkdirSync(kept);
      writeFileSync(join(kept, 'layers.json'), JSON.stringify([dir]));
      await store.remove(info!.id);
      assert.deepEqual(readdirSync(cacheDir), ['f'.repeat(32)]);
    } finally {
      own.close();
    }
  });
});
