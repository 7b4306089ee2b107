// Pulls from a real docker-registry on 127.0.0.1: by tag and digest, multi-arch index, Docker schema 2,
// zstd and plain layers, basic auth, mirrors, concurrent pulls, interrupted and corrupted downloads,
// removal while in use, ImageFsInfo before and after.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriusError } from '../../../src/common/errors.js';
import { ImageStore, type ImageStoreOptions } from '../../../src/image/image-store.js';
import { openDb, type Db } from '../../../src/store/db.js';
import { busyboxImage, makeImage, makeLayer, pushImage, pushIndex, type BuiltImage } from '../../helpers/build-image.js';
import { freePort, registryUnavailable, startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { startTokenServer, type TokenServer } from '../../helpers/token-server.js';

const skip = registryUnavailable() ?? (process.getuid?.() !== 0 ? 'needs root (layer unpack chowns and mknods)' : false);

describe('image pull from a local registry', { skip }, () => {
  let reg: TestRegistry;
  let busybox: BuiltImage;
  let manifestDigest: string;
  const dirs: string[] = [];
  const dbs: Db[] = [];

  before(async () => {
    reg = await startRegistry();
    busybox = await busyboxImage('gzip', { User: '1000:1000', WorkingDir: '/home/user' });
    manifestDigest = await pushImage(reg, 'test/busybox', 'latest', busybox);
  });
  after(async () => {
    for (const db of dbs) db.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await reg?.stop();
  });

  function newStore(extra: Partial<ImageStoreOptions> = {}): ImageStore {
    const dir = mkdtempSync(join(tmpdir(), 'crius-images-'));
    dirs.push(dir);
    const db = openDb(join(dir, 'crius.db'));
    dbs.push(db);
    return new ImageStore({ root: join(dir, 'images'), db, client: { backoffMs: 10 }, ...extra });
  }

  test('pull by tag: metadata, layer dirs, files', async () => {
    const store = newStore();
    const info = await store.pull(`${reg.host}/test/busybox`);
    assert.equal(info.id, busybox.configDigest);
    assert.deepEqual(info.repoTags, [`${reg.host}/test/busybox:latest`]);
    assert.deepEqual(info.repoDigests, [`${reg.host}/test/busybox@${manifestDigest}`]);
    assert.equal(info.uid, 1000);
    assert.equal(info.size, busybox.config.length + busybox.layers[0]!.size);
    const r = store.resolveImage(`${reg.host}/test/busybox:latest`);
    assert.equal(r.id, info.id);
    assert.equal(r.layerDirs.length, 1);
    assert.equal(r.config.config?.WorkingDir, '/home/user');
    const fs = r.layerDirs[0]!;
    assert.deepEqual(readFileSync(join(fs, 'bin/busybox')), readFileSync('/bin/busybox'));
    assert.equal(statSync(join(fs, 'bin/busybox')).mode & 0o777, 0o755);
    assert.equal(readlinkSync(join(fs, 'bin/sh')), 'busybox');
    assert.equal(statSync(join(fs, 'home/user')).uid, 1000);
    assert.equal(statSync(join(fs, 'tmp')).mode & 0o7777, 0o1777);
    // Every lookup form finds it.
    for (const name of [info.id, info.id.slice(7), info.id.slice(7, 19), `${reg.host}/test/busybox@${manifestDigest}`]) {
      assert.equal(store.status(name)?.id, info.id, name);
    }
    assert.equal(store.list().length, 1);
    assert.equal(store.list(`${reg.host}/test/busybox:latest`).length, 1);
    assert.equal(store.list(`${reg.host}/test/other:latest`).length, 0);
  });

  test('pull by digest records a repo digest and no tag; a second pull by digest needs no registry', async () => {
    let calls = 0;
    const counting: typeof fetch = async (input, init) => { calls++; return fetch(input, init); };
    const store = newStore({ client: { fetch: counting, backoffMs: 5 } });
    const info = await store.pull(`${reg.host}/test/busybox@${manifestDigest}`);
    assert.deepEqual(info.repoTags, []);
    assert.deepEqual(info.repoDigests, [`${reg.host}/test/busybox@${manifestDigest}`]);
    const before = calls;
    assert.equal((await store.pull(`${reg.host}/test/busybox@${manifestDigest}`)).id, info.id);
    assert.equal(calls, before, 'content addressed by digest is already here');
  });

  test('multi-arch index: the host platform is picked, the repo digest is the index', async () => {
    const layer = await makeLayer([{ path: 'arch', content: 'amd64' }]);
    const armLayer = await makeLayer([{ path: 'arch', content: 'arm64' }]);
    const amd = makeImage([layer], {}, { architecture: 'amd64' });
    const arm = makeImage([armLayer], {}, { architecture: 'arm64' });
    const indexDigest = await pushIndex(reg, 'test/multi', '1.0', [
      { image: arm, os: 'linux', architecture: 'arm64', variant: 'v8' },
      { image: amd, os: 'linux', architecture: 'amd64' },
    ]);
    const store = newStore({ platform: { os: 'linux', architecture: 'amd64' } });
    const info = await store.pull(`${reg.host}/test/multi:1.0`);
    assert.equal(info.id, amd.configDigest);
    assert.deepEqual(info.repoDigests, [`${reg.host}/test/multi@${indexDigest}`]);
    assert.equal(readFileSync(join(store.resolveImage(info.id).layerDirs[0]!, 'arch'), 'utf8'), 'amd64');
    const armStore = newStore({ platform: { os: 'linux', architecture: 'arm64' } });
    assert.equal((await armStore.pull(`${reg.host}/test/multi:1.0`)).id, arm.configDigest);
    const s390 = newStore({ platform: { os: 'linux', architecture: 's390x' } });
    await assert.rejects(s390.pull(`${reg.host}/test/multi:1.0`), /no manifest for linux\/s390x.*offered: linux\/arm64\/v8, linux\/amd64/);
  });

  test('Docker schema 2 manifest with gzip, zstd and plain layers stacked', async () => {
    const l1 = await makeLayer([{ path: 'a/one', content: '1' }, { path: 'gone', content: 'x' }], 'gzip');
    const l2 = await makeLayer([{ path: 'a/two', content: '2' }, { path: '.wh.gone', content: '' }], 'zstd');
    const l3 = await makeLayer([{ path: 'a/three', content: '3' }], 'none');
    const img = makeImage([l1, l2, l3], { Entrypoint: ['/bin/sh'] }, { docker: true });
    await pushImage(reg, 'test/stack', 'v1', img);
    const store = newStore();
    const info = await store.pull(`${reg.host}/test/stack:v1`);
    const dirsOut = store.resolveImage(info.id).layerDirs;
    assert.equal(dirsOut.length, 3);
    assert.equal(readFileSync(join(dirsOut[0]!, 'a/one'), 'utf8'), '1');
    assert.equal(readFileSync(join(dirsOut[1]!, 'a/two'), 'utf8'), '2');
    assert.ok(lstatSync(join(dirsOut[1]!, 'gone')).isCharacterDevice());
    assert.equal(readFileSync(join(dirsOut[2]!, 'a/three'), 'utf8'), '3');
  });

  test('a missing image is NOT_FOUND naming it; a malformed reference is INVALID_ARGUMENT', async () => {
    const store = newStore();
    await assert.rejects(store.pull(`${reg.host}/test/nope:1`), (e: unknown) => e instanceof CriusError && e.code === 'NOT_FOUND' && e.message.includes('test/nope'));
    assert.throws(() => store.resolveImage('Bad:Ref!'), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT' && e.message.includes('Bad:Ref!'));
    assert.throws(() => store.resolveImage(`${reg.host}/test/busybox:latest`), (e: unknown) => e instanceof CriusError && e.code === 'NOT_FOUND');
  });

  test('mirrors: tried in order (a dead one first), then the host', async () => {
    await pushImage(reg, 'library/mirrored', '1', busybox);
    const dead = `http://127.0.0.1:${await freePort()}`;
    const store = newStore({ registries: { 'docker.io': { mirrors: [dead, reg.url] } } });
    // docker.io itself is unreachable here: success proves the mirror served it.
    const info = await store.pull('mirrored:1');
    assert.deepEqual(info.repoTags, ['docker.io/library/mirrored:1']);
    assert.ok(store.status('docker.io/library/mirrored:1'));
  });

  test('blob redirects (as registries backed by object storage answer) are followed', async () => {
    let redirected = 0;
    const front = createServer((req, res) => {
      const path = req.url ?? '/';
      if (path.includes('/blobs/')) {
        redirected++;
        res.writeHead(307, { location: `${reg.url}${path}` }).end();
        return;
      }
      void fetch(`${reg.url}${path}`, { headers: { accept: String(req.headers.accept ?? '*/*') } }).then(async (r) => {
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? '' }).end(Buffer.from(await r.arrayBuffer()));
      });
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (front.address() as AddressInfo).port;
      const store = newStore({ registries: { 'docker.io': { mirrors: [`http://127.0.0.1:${port}`] } } });
      await pushImage(reg, 'library/redirected', 'v1', busybox);
      const info = await store.pull('redirected:v1');
      assert.equal(info.id, busybox.configDigest);
      assert.ok(redirected >= 2, 'config and layer came through redirects');
    } finally {
      await new Promise<void>((resolve) => front.close(() => resolve()));
    }
  });

  test('concurrent pulls of the same image fetch each blob once', async () => {
    const gets = new Map<string, number>();
    const counting: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.includes('/blobs/')) gets.set(url, (gets.get(url) ?? 0) + 1);
      return fetch(input, init);
    };
    const store = newStore({ client: { fetch: counting, backoffMs: 10 } });
    const results = await Promise.all(Array.from({ length: 6 }, () => store.pull(`${reg.host}/test/busybox:latest`)));
    assert.ok(results.every((r) => r.id === busybox.configDigest));
    assert.ok(gets.size >= 2);
    for (const [url, count] of gets) assert.equal(count, 1, `${url} fetched ${count} times`);
  });

  test('concurrent pulls of two images sharing a layer fetch and unpack that layer once', async () => {
    const shared = await makeLayer([{ path: 'shared/file', content: 'same bytes' }]);
    const a = makeImage([shared, await makeLayer([{ path: 'a', content: 'a' }])]);
    const b = makeImage([shared, await makeLayer([{ path: 'b', content: 'b' }])]);
    await pushImage(reg, 'test/share-a', '1', a);
    await pushImage(reg, 'test/share-b', '1', b);
    let sharedGets = 0;
    const counting: typeof fetch = async (input, init) => {
      if (String(input instanceof Request ? input.url : input).endsWith(`/blobs/${shared.digest}`)) sharedGets++;
      return fetch(input, init);
    };
    const store = newStore({ client: { fetch: counting, backoffMs: 10 } });
    const [ia, ib] = await Promise.all([store.pull(`${reg.host}/test/share-a:1`), store.pull(`${reg.host}/test/share-b:1`)]);
    assert.equal(sharedGets, 1);
    assert.equal(store.resolveImage(ia.id).layerDirs[0], store.resolveImage(ib.id).layerDirs[0], 'one layer dir for the shared chain');
  });

  /** A fetch that cuts the first `cuts` layer downloads off after 1000 bytes. */
  function cuttingFetch(layerDigest: string, cuts: number): typeof fetch {
    let left = cuts;
    return async (input, init) => {
      const res = await fetch(input, init);
      const url = String(input instanceof Request ? input.url : input);
      if (!url.endsWith(`/blobs/${layerDigest}`) || left <= 0 || !res.body) return res;
      left--;
      const reader = res.body.getReader();
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(ctl) {
          if (sent >= 1000) { await reader.cancel(); ctl.error(new TypeError('terminated: other side closed')); return; }
          const { done, value } = await reader.read();
          if (done) { ctl.close(); return; }
          const part = value.subarray(0, Math.max(0, 1000 - sent));
          sent += part.length;
          ctl.enqueue(part);
        },
      });
      return new Response(body, { status: res.status, headers: res.headers });
    };
  }

  test('a pull cut off midway keeps nothing; the retried pull succeeds', async () => {
    const layerDigest = busybox.layers[0]!.digest;
    const dir = mkdtempSync(join(tmpdir(), 'crius-images-'));
    dirs.push(dir);
    const db = openDb(join(dir, 'crius.db'));
    dbs.push(db);
    const root = join(dir, 'images');
    const failing = new ImageStore({ root, db, client: { fetch: cuttingFetch(layerDigest, 100), retries: 1, backoffMs: 10 } });
    await assert.rejects(failing.pull(`${reg.host}/test/busybox:latest`), (e: unknown) => e instanceof CriusError && e.code === 'UNAVAILABLE' && /interrupted/.test(e.message));
    assert.ok(!failing.content.has(layerDigest), 'no half blob trusted');
    assert.deepEqual(readdirSync(failing.content.ingestDir), [], 'no temp file left');
    assert.deepEqual(readdirSync(failing.layersDir), [], 'no layer dir');
    assert.equal(failing.list().length, 0);
    // The same store, retried: one more cut is absorbed by the client's retry, then it completes.
    const retried = new ImageStore({ root, db, client: { fetch: cuttingFetch(layerDigest, 1), retries: 2, backoffMs: 10 } });
    const info = await retried.pull(`${reg.host}/test/busybox:latest`);
    assert.equal(info.id, busybox.configDigest);
    assert.ok(existsSync(join(retried.resolveImage(info.id).layerDirs[0]!, 'bin/busybox')));
  });

  test('5xx answers are retried with backoff', async () => {
    let failures = 2;
    const flaky: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.includes('/manifests/') && failures-- > 0) return new Response('boom', { status: 503 });
      return fetch(input, init);
    };
    const store = newStore({ client: { fetch: flaky, retries: 3, backoffMs: 5 } });
    assert.equal((await store.pull(`${reg.host}/test/busybox:latest`)).id, busybox.configDigest);
  });

  test('a corrupted blob is refused by digest and nothing is kept', async () => {
    const layerDigest = busybox.layers[0]!.digest;
    const corrupting: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const url = String(input instanceof Request ? input.url : input);
      if (!url.endsWith(`/blobs/${layerDigest}`)) return res;
      const bytes = Buffer.from(await res.arrayBuffer());
      bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
      return new Response(bytes, { status: 200, headers: res.headers });
    };
    const store = newStore({ client: { fetch: corrupting, backoffMs: 5 } });
    await assert.rejects(store.pull(`${reg.host}/test/busybox:latest`), (e: unknown) => e instanceof CriusError && e.code === 'FAILED_PRECONDITION' && e.message.includes(layerDigest));
    assert.ok(!store.content.has(layerDigest));
    assert.deepEqual(readdirSync(store.content.ingestDir), []);
    assert.deepEqual(readdirSync(store.layersDir), []);
  });

  test('removal: refused while a container uses the image; GC frees blobs and layers; ImageFsInfo follows', async () => {
    const store = newStore();
    const empty = store.fsInfo();
    assert.equal(empty.inodesUsed, 0);
    const info = await store.pull(`${reg.host}/test/busybox:latest`);
    const full = store.fsInfo();
    assert.ok(full.usedBytes > 1_900_000, `busybox is ~2 MB unpacked plus its blob, got ${full.usedBytes}`);
    assert.ok(full.inodesUsed > 40);
    store.markInUse(info.id, 'c0ffee'.padEnd(64, '0'));
    await assert.rejects(store.remove(`${reg.host}/test/busybox:latest`), (e: unknown) => e instanceof CriusError && e.code === 'FAILED_PRECONDITION' && /c0ffee/.test(e.message));
    assert.ok(store.status(info.id));
    store.release('c0ffee'.padEnd(64, '0'));
    await store.remove(info.id);
    assert.equal(store.status(info.id), undefined);
    assert.deepEqual(store.content.list(), []);
    assert.deepEqual(readdirSync(store.layersDir), []);
    const gone = store.fsInfo();
    assert.equal(gone.usedBytes, 0);
    assert.equal(gone.inodesUsed, 0);
    await store.remove(info.id); // idempotent
  });

  test('removing one of two tags only untags; layers shared by two images survive the removal of one', async () => {
    const store = newStore();
    await pushImage(reg, 'test/busybox', 'second', busybox);
    const sibling = makeImage(busybox.layers, { Cmd: ['sleep', '1'] });
    await pushImage(reg, 'test/sibling', 'latest', sibling);
    const a = await store.pull(`${reg.host}/test/busybox:latest`);
    await store.pull(`${reg.host}/test/busybox:second`);
    const b = await store.pull(`${reg.host}/test/sibling:latest`);
    assert.deepEqual(store.status(a.id)!.repoTags.sort(), [`${reg.host}/test/busybox:latest`, `${reg.host}/test/busybox:second`]);
    await store.remove(`${reg.host}/test/busybox:second`);
    assert.deepEqual(store.status(a.id)!.repoTags, [`${reg.host}/test/busybox:latest`]);
    await store.remove(`${reg.host}/test/busybox:latest`);
    assert.equal(store.status(a.id), undefined);
    const dirsB = store.resolveImage(b.id).layerDirs;
    assert.ok(existsSync(join(dirsB[0]!, 'bin/busybox')), 'shared layer kept for the sibling');
  });
});

describe('image pull with basic auth', { skip }, () => {
  let reg: TestRegistry;
  let dir: string;
  let db: Db;
  before(async () => {
    reg = await startRegistry({ auth: { username: 'alice', password: 's3cret' } });
    await pushImage(reg, 'private/busybox', 'latest', await busyboxImage());
    dir = mkdtempSync(join(tmpdir(), 'crius-images-'));
    db = openDb(join(dir, 'crius.db'));
  });
  after(async () => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
    await reg?.stop();
  });

  test('no credentials: PERMISSION_DENIED; username/password and the auth field both work', async () => {
    const store = new ImageStore({ root: join(dir, 'images'), db, client: { backoffMs: 5 } });
    const ref = `${reg.host}/private/busybox:latest`;
    await assert.rejects(store.pull(ref), (e: unknown) => e instanceof CriusError && e.code === 'PERMISSION_DENIED' && /credentials/.test(e.message));
    await assert.rejects(store.pull(ref, { auth: { username: 'alice', password: 'wrong' } }), (e: unknown) => e instanceof CriusError && e.code === 'PERMISSION_DENIED');
    const info = await store.pull(ref, { auth: { username: 'alice', password: 's3cret' } });
    assert.deepEqual(info.repoTags, [ref]);
    await store.remove(ref);
    const again = await store.pull(ref, { auth: { auth: Buffer.from('alice:s3cret').toString('base64') } });
    assert.equal(again.id, info.id);
  });
});

describe('image pull with bearer-token auth (htpasswd-style credentials at a token server)', { skip }, () => {
  let open: TestRegistry;
  let secured: TestRegistry;
  let tokens: TokenServer;
  let dir: string;
  let db: Db;
  before(async () => {
    open = await startRegistry();
    await pushImage(open, 'private/tok', 'latest', await busyboxImage());
    tokens = await startTokenServer({ username: 'bob', password: 'hunter2' });
    secured = await startRegistry({ dataDir: open.dataDir, token: tokens });
    dir = mkdtempSync(join(tmpdir(), 'crius-images-'));
    db = openDb(join(dir, 'crius.db'));
  });
  after(async () => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
    await secured?.stop();
    await open?.stop();
    await tokens?.stop();
  });

  test('the registry demands a token; crius gets one with the credentials and pulls', async () => {
    const store = new ImageStore({ root: join(dir, 'images'), db, client: { backoffMs: 5 } });
    const ref = `${secured.host}/private/tok:latest`;
    await assert.rejects(store.pull(ref), (e: unknown) => e instanceof CriusError && e.code === 'PERMISSION_DENIED' && /token/.test(e.message));
    const info = await store.pull(ref, { auth: { username: 'bob', password: 'hunter2' } });
    assert.deepEqual(info.repoTags, [ref]);
    assert.ok(tokens.issued() >= 1);
    assert.ok(existsSync(join(store.resolveImage(ref).layerDirs[0]!, 'bin/busybox')));
  });
});
