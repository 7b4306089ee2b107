// A hostile registry against the real daemon, over PullImage as the kubelet calls it: a manifest and a
// token answer streamed without end, a config declared huge, a blob longer than the manifest says, a blob
// that trickles, and two clients sharing one pull where the first gives up. Each must fail with the right
// gRPC code and a message naming the limit, cost the daemon little memory, leave no temp files, and a
// normal pull must still work afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxImage, makeImage, makeLayer, type BuiltImage } from '../helpers/build-image.js';
import { CRIUSD, startTestDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';
import { pause, rssOf, startHostileRegistry, writeUntilClosed, type HostileRegistry } from '../helpers/hostile-registry.js';

const skip = process.getuid?.() !== 0 ? 'needs root (the daemon unpacks layers)' : !existsSync(CRIUSD) ? `${CRIUSD} missing` : false;

const MiB = 1024 * 1024;
/** Generous: the endless manifest took the daemon to 16 GB. */
const RSS_BOUND = 100 * MiB;
/** What the hostile handlers send at most, so a daemon without the fix cannot take the machine down. */
const SAFETY_CAP = 256 * MiB;
const STALL_SECONDS = 2;

type GrpcError = { code?: number; details?: string };
const FAILED_PRECONDITION = 9;
const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;

describe('hostile registry', { skip }, () => {
  let reg: HostileRegistry;
  let d: TestDaemon;
  let busybox: BuiltImage;

  before(async () => {
    reg = await startHostileRegistry();
    busybox = await busyboxImage('gzip');
    reg.serveImage('good/busybox', 'latest', busybox);
    d = await startTestDaemon({ config: `[images]\nstall_timeout_seconds = ${STALL_SECONDS}\n` });
  });
  after(async () => {
    await d?.cleanup();
    await reg?.stop();
  });

  const pull = (image: string, timeoutMs = 60_000): Promise<{ image_ref: string }> =>
    d.client.call<{ image_ref: string }>('image', 'PullImage', { image: { image: `${reg.host}/${image}` } }, timeoutMs);

  /** Nothing half-written stays under the image root: no ingest temp files, no half-unpacked layers. */
  function assertNoTempFiles(): void {
    const ingest = join(d.root, 'images', 'content', 'ingest');
    assert.deepEqual(readdirSync(ingest), [], 'ingest dir is empty');
    const layers = join(d.root, 'images', 'layers');
    assert.deepEqual(readdirSync(layers).filter((n) => n.includes('.tmp-')), [], 'no half-unpacked layer dirs');
  }

  async function assertNormalPullWorks(): Promise<void> {
    const r = await pull('good/busybox:latest');
    assert.equal(r.image_ref, busybox.configDigest);
    await d.client.call('image', 'RemoveImage', { image: { image: busybox.configDigest } });
  }

  test('a manifest streamed without end (chunked, no Content-Length) stops at images.max_manifest_bytes', async () => {
    let sent = 0;
    reg.on('/v2/endless/manifest/manifests/latest', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      res.write('{"schemaVersion":2,"padding":"');
      sent = await writeUntilClosed(res, Buffer.alloc(64 * 1024, 'a'), SAFETY_CAP);
    });
    const rss0 = await rssOf(d.proc.pid!);
    await assert.rejects(pull('endless/manifest:latest'), (e: GrpcError) => {
      assert.equal(e.code, FAILED_PRECONDITION, e.details);
      assert.match(e.details ?? '', /larger than 4194304 bytes/);
      assert.match(e.details ?? '', /images\.max_manifest_bytes/);
      return true;
    });
    const rss1 = await rssOf(d.proc.pid!);
    console.log(`endless manifest: daemon RSS ${(rss0 / MiB).toFixed(1)} MiB -> ${(rss1 / MiB).toFixed(1)} MiB`);
    assert.ok(rss1 - rss0 < RSS_BOUND, `RSS grew by ${((rss1 - rss0) / MiB).toFixed(1)} MiB`);
    // The daemon hung up: the registry stops writing long before its safety cap.
    await waitFor(() => sent > 0, 10_000, 'the endless manifest handler to see the hang-up');
    assert.ok(sent < 64 * MiB, `the registry got to send ${sent} bytes`);
    assertNoTempFiles();
    await assertNormalPullWorks();
  });

  test('a token answer streamed without end is cut at the token response limit', async () => {
    reg.on('/v2/endless/token/manifests/latest', (_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${reg.url}/token",service="hostile"`, 'content-type': 'application/json' }).end('{}');
    });
    reg.on('/token', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"token":"');
      await writeUntilClosed(res, Buffer.alloc(64 * 1024, 't'), SAFETY_CAP);
    });
    const rss0 = await rssOf(d.proc.pid!);
    await assert.rejects(pull('endless/token:latest'), (e: GrpcError) => {
      assert.equal(e.code, FAILED_PRECONDITION, e.details);
      assert.match(e.details ?? '', /more than 1048576 bytes \(the token response limit\)/);
      return true;
    });
    assert.ok((await rssOf(d.proc.pid!)) - rss0 < RSS_BOUND);
  });

  test('a config declared larger than images.max_config_bytes is refused before any byte of it moves', async () => {
    const layer = await makeLayer([{ path: 'x', content: 'x' }]);
    const img = makeImage([layer]);
    const manifest = JSON.parse(img.manifest.toString()) as { config: { size: number } };
    manifest.config.size = 100 * MiB;
    const bytes = Buffer.from(JSON.stringify(manifest));
    reg.on('/v2/huge/config/manifests/latest', (_req, res) => {
      res.writeHead(200, { 'content-type': img.manifestMediaType, 'content-length': String(bytes.length) }).end(bytes);
    });
    const configPath = `/v2/huge/config/blobs/${img.configDigest}`;
    reg.on(configPath, async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      await writeUntilClosed(res, Buffer.alloc(64 * 1024, ' '), SAFETY_CAP);
    });
    await assert.rejects(pull('huge/config:latest'), (e: GrpcError) => {
      assert.equal(e.code, FAILED_PRECONDITION, e.details);
      assert.match(e.details ?? '', /declared as 104857600 bytes, over the limit images\.max_config_bytes = 8388608/);
      return true;
    });
    assert.equal(reg.hits(configPath), 0, 'the config was never requested');
    assertNoTempFiles();
  });

  test('a blob that goes on past the size the manifest declares stops there', async () => {
    const layer = await makeLayer([{ path: 'y', content: 'y' }]);
    const img = makeImage([layer]);
    reg.serveImage('long/blob', 'latest', img);
    let sent = 0;
    reg.on(`/v2/long/blob/blobs/${layer.digest}`, async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(layer.blob);
      sent = await writeUntilClosed(res, Buffer.alloc(64 * 1024, 0), SAFETY_CAP);
    });
    await assert.rejects(pull('long/blob:latest'), (e: GrpcError) => {
      assert.equal(e.code, FAILED_PRECONDITION, e.details);
      assert.match(e.details ?? '', new RegExp(`more than the ${layer.size} bytes the manifest declares`));
      return true;
    });
    await waitFor(() => sent > 0, 10_000, 'the long blob handler to see the hang-up');
    assert.ok(sent < 64 * MiB, `the registry got to send ${sent} bytes`);
    assertNoTempFiles();
  });

  test('a trickling blob is cut off by images.stall_timeout_seconds instead of holding the pull', async () => {
    const layer = await makeLayer([{ path: 'big', content: randomBytes(256 * 1024) }]);
    const img = makeImage([layer]);
    reg.serveImage('trickle/blob', 'latest', img);
    let closed = false;
    reg.on(`/v2/trickle/blob/blobs/${layer.digest}`, async (_req, res) => {
      res.once('close', () => { closed = true; });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(layer.size) });
      res.write(layer.blob.subarray(0, 100));
      // One byte every 100 ms: never silent for long, yet far too slow to ever finish.
      for (let i = 100; i < layer.size && !res.destroyed; i++) {
        res.write(layer.blob.subarray(i, i + 1));
        await pause(res, 100);
      }
    });
    await assert.rejects(pull('trickle/blob:latest'), (e: GrpcError) => {
      assert.equal(e.code, UNAVAILABLE, e.details);
      assert.match(e.details ?? '', new RegExp(`less than 1024 bytes in ${STALL_SECONDS} s`));
      assert.match(e.details ?? '', /images\.stall_timeout_seconds/);
      return true;
    });
    await waitFor(() => closed, 10_000, 'the daemon to hang up on the trickling blob');
    assertNoTempFiles();
  });

  test('two clients share one pull: the first giving up does not cancel the second; the last one leaving cancels the download', async () => {
    const layer = await makeLayer([{ path: 'big', content: randomBytes(512 * 1024) }]);
    const img = makeImage([layer]);
    reg.serveImage('shared/pull', 'latest', img);
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    let releasedYet = false;
    void released.then(() => { releasedYet = true; });
    let closes = 0;
    const blobPath = `/v2/shared/pull/blobs/${layer.digest}`;
    reg.on(blobPath, async (_req, res) => {
      res.once('close', () => { closes++; });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(layer.size) });
      // Held back, but with enough progress (4 KiB every 200 ms) that the stall watchdog stays quiet.
      let off = 0;
      while (!releasedYet && !res.destroyed && off < layer.size - 8192) {
        res.write(layer.blob.subarray(off, off + 4096));
        off += 4096;
        await pause(res, 200);
      }
      if (!res.destroyed) res.end(layer.blob.subarray(off));
    });
    const first = pull('shared/pull:latest', 1500);
    const second = pull('shared/pull:latest', 60_000);
    await assert.rejects(first, (e: GrpcError) => e.code === DEADLINE_EXCEEDED);
    // Give the daemon time to (wrongly) act on the first client's cancel before the blob completes.
    await new Promise((r) => setTimeout(r, 500));
    release();
    const r = await second;
    assert.equal(r.image_ref, img.configDigest);
    assert.equal(reg.hits(blobPath), 1, 'one download served both clients');
    await d.client.call('image', 'RemoveImage', { image: { image: img.configDigest } });

    // Alone, a client that gives up takes the shared download down with it: the registry sees the hang-up.
    const lone = makeImage([await makeLayer([{ path: 'big', content: randomBytes(512 * 1024) }])]);
    reg.serveImage('lone/pull', 'latest', lone);
    let loneClosed = false;
    reg.on(`/v2/lone/pull/blobs/${lone.layers[0]!.digest}`, async (_req, res) => {
      res.once('close', () => { loneClosed = true; });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(lone.layers[0]!.size) });
      // Steady progress until the end is near, so only a cancel (not the stall watchdog) can end it early.
      const size = lone.layers[0]!.size;
      for (let off = 0; !res.destroyed && off < size - 4096; off += 4096) {
        res.write(lone.layers[0]!.blob.subarray(off, off + 4096));
        await pause(res, 200);
      }
      res.destroy();
    });
    await assert.rejects(pull('lone/pull:latest', 1500), (e: GrpcError) => e.code === DEADLINE_EXCEEDED);
    await waitFor(() => loneClosed, 10_000, 'the daemon to drop the download nobody waits for');
    await waitFor(() => readdirSync(join(d.root, 'images', 'content', 'ingest')).length === 0, 10_000, 'the ingest temp file to go');
    assertNoTempFiles();
    await assertNormalPullWorks();
  });
});
