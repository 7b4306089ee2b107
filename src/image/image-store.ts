// The image domain: pull (registry -> content store -> unpacked layers -> metadata), lookup by name,
// digest or ID, listing, removal with garbage collection of unreferenced blobs and layers, usage
// figures for ImageFsInfo, and the in-use marks containers hold.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { nativeBuildPath } from '../common/install-root.js';
import { CriusError, failedPrecondition, notFound, wrap } from '../common/errors.js';
import type { Runner } from '../common/exec.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { Db } from '../store/db.js';
import {
  addImageUser, deleteImage, deleteLayer, getImage, getLayer, imageIdByName, imageIdsByPrefix, imageUsers, listImageRows,
  listLayers, namesOf, putImage, putLayer, removeImageUser, removeName, setPinned, type ImageRow, type LayerRef,
} from '../store/images.js';
import { ContentStore } from './content-store.js';
import {
  chainIds, hostPlatform, parseImageConfig, parseManifest, selectPlatform, userFromConfig,
  type Descriptor, type ImageConfig, type ImageManifest, type Platform,
} from './manifest.js';
import {
  digestedName, formatReference, looksLikeImageId, parseReference, taggedName, type ImageReference,
} from './reference.js';
import { RegistryClient, type RegistriesConfig, type RegistryAuth, type RegistryClientOptions } from './registry-client.js';
import { SingleFlight } from '../common/single-flight.js';
import { KeyedLock } from '../common/keyed-lock.js';
// Loaded at the first layer to unpack (tar-stream, fzstd): not on the daemon's start-up path.
import type { unpackLayer } from './unpack-layer.js';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits } from './limits.js';
import { pruneShiftedCopies, removeInterruptedCopies, shiftedCacheDir } from '../rootfs/shifted-copy.js';

export interface ImageStoreOptions {
  /** Directory holding content/ and layers/ (e.g. <rootDir>/images). */
  root: string;
  db: Db;
  registries?: RegistriesConfig;
  /** native/build/crius-fsops; defaults to the one built in this checkout. */
  fsopsPath?: string;
  runner?: Runner;
  logger?: Logger;
  platform?: Platform;
  /** Registry client knobs (retries, backoff, fetch) — tests shorten the backoff. */
  client?: Pick<RegistryClientOptions, 'retries' | 'backoffMs' | 'fetch'>;
  /** Layers downloaded and unpacked at once per pull. Default 3. */
  parallelLayers?: number;
  /** Bounds on remote data and layers (the [images] config table); defaults as there. */
  limits?: Partial<ImageLimits>;
}


interface PullOptions {
  auth?: RegistryAuth | null;
  signal?: AbortSignal;
  onProgress?: RegistryClientOptions['onProgress'];
}

/** What the container code needs to build a rootfs and a spec. */
interface ResolvedImage {
  id: string;
  config: ImageConfig;
  /** Overlay lower dirs, bottom layer first (reverse them for overlayfs `lowerdir=`, which lists top first). */
  layerDirs: string[];
}

export interface ImageInfo {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  /** Bytes of the image's blobs (compressed layers + config), as containerd reports it. */
  size: number;
  uid?: number;
  username?: string;
  pinned: boolean;
  config: ImageConfig;
  manifestDigest: string;
}

interface ImageFsUsage {
  /** Nanoseconds since the epoch. */
  timestamp: bigint;
  mountpoint: string;
  usedBytes: number;
  inodesUsed: number;
}

const DEFAULT_FSOPS = nativeBuildPath('crius-fsops');
/** The key of ImageStore.lock (the store has one lock; KeyedLock is the one shared/exclusive lock). */
export const IMAGES_LOCK = 'images';

/** Runs fn over items with at most `limit` at a time; the first failure rejects (others still settle). */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  const settled = await Promise.allSettled(workers);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return out;
}

export class ImageStore {
  readonly content: ContentStore;
  readonly layersDir: string;
  private readonly db: Db;
  private readonly log: Logger;
  private readonly fsopsPath: string;
  private readonly platform: Platform;
  private readonly pulls = new SingleFlight<ImageInfo>();
  private readonly blobs = new SingleFlight<void>();
  private readonly layers = new SingleFlight<void>();
  /**
   * One key, IMAGES_LOCK: pulls and imports hold it shared; removal (with GC) exclusive, so GC never
   * deletes a blob or layer a running pull has just decided to reuse.
   */
  readonly lock = new KeyedLock();
  readonly limits: ImageLimits;

  constructor(private readonly opts: ImageStoreOptions) {
    this.db = opts.db;
    this.log = opts.logger ?? silentLogger;
    this.fsopsPath = opts.fsopsPath ?? DEFAULT_FSOPS;
    this.platform = opts.platform ?? hostPlatform();
    this.limits = { ...DEFAULT_IMAGE_LIMITS, ...opts.limits };
    this.content = new ContentStore(opts.root);
    this.layersDir = join(opts.root, 'layers');
    mkdirSync(this.layersDir, { recursive: true, mode: 0o700 });
  }

  /** Start-up cleanup: temp blobs, half-unpacked layer dirs and half-made shifted copies from a crash are never trusted. */
  recover(): void {
    this.content.cleanIngest();
    removeInterruptedCopies(shiftedCacheDir(this.opts.root));
    for (const name of readdirSync(this.layersDir)) {
      if (name.includes('.tmp-')) rmSync(join(this.layersDir, name), { recursive: true, force: true });
    }
  }

  layerDir(chainId: string): string {
    return join(this.layersDir, chainId.slice('sha256:'.length));
  }

  /** Pulls `ref`; concurrent pulls of the same reference share one run. */
  pull(refInput: string, po: PullOptions = {}): Promise<ImageInfo> {
    const ref = parseReference(refInput);
    const key = formatReference(ref);
    // A digest names immutable content: when it is here already there is nothing to fetch.
    if (ref.digest !== undefined) {
      const have = imageIdByName(this.db, digestedName(ref, ref.digest));
      const info = have === undefined ? undefined : this.info(have);
      if (info && this.imageComplete(info.id)) return Promise.resolve(info);
    }
    // Callers with different credentials do not share a pull: one's missing secret must not fail the other.
    const flightKey = `${key}\0${po.auth ? createHash('sha256').update(JSON.stringify(po.auth)).digest('hex') : ''}`;
    // The flight's signal aborts only when every client waiting for this pull has gone.
    return this.pulls.do(flightKey, (signal) => this.lock.shared(IMAGES_LOCK, async () => {
      const started = Date.now();
      try {
        const info = await this.doPull(ref, { ...po, signal });
        this.log.info('image pulled', { image: key, id: info.id, ms: Date.now() - started });
        return info;
      } catch (err) {
        throw wrap(`pull image "${key}"`, err);
      }
    }), po.signal);
  }

  private async doPull(ref: ImageReference, po: PullOptions): Promise<ImageInfo> {
    const copts: RegistryClientOptions = {
      ...this.opts.client, logger: this.log,
      maxManifestBytes: this.limits.maxManifestBytes, stallTimeoutMs: this.limits.stallTimeoutSeconds * 1000,
    };
    if (this.opts.registries) copts.registries = this.opts.registries;
    if (po.auth) copts.auth = po.auth;
    if (po.signal) copts.signal = po.signal;
    if (po.onProgress) copts.onProgress = po.onProgress;
    const client = new RegistryClient(ref, copts);
    const what = formatReference(ref);
    const top = await client.getManifest(ref.digest ?? ref.tag ?? 'latest');
    let parsed = parseManifest(top.bytes, top.contentType, what);
    let manifestBytes = top.bytes;
    let manifestDigest = top.digest;
    let indexDigest: string | undefined;
    if (parsed.kind === 'index') {
      indexDigest = top.digest;
      await this.putBlob(top.bytes, what, top.digest);
      const pick = selectPlatform(parsed, this.platform, what);
      const m = await client.getManifest(pick.digest);
      parsed = parseManifest(m.bytes, m.contentType, what);
      if (parsed.kind !== 'manifest') throw failedPrecondition(`${what}: the index entry ${pick.digest} is itself an index; nested indexes are not supported`);
      manifestBytes = m.bytes;
      manifestDigest = m.digest;
    }
    await this.putBlob(manifestBytes, what, manifestDigest);
    const manifest = parsed;
    // The config is parsed in memory and kept in the database: its declared size is checked before any byte moves.
    const maxConfig = this.limits.maxConfigBytes;
    if (manifest.config.size > maxConfig) {
      throw failedPrecondition(`${what}: the image config ${manifest.config.digest} is declared as ${manifest.config.size} bytes, over the limit images.max_config_bytes = ${maxConfig}; refusing the image`);
    }
    await this.ensureBlob(manifest.config, (signal) => client.fetchBlob(manifest.config, this.content, `${what}: config ${manifest.config.digest}`, signal), po.signal);
    const names: Array<{ name: string; kind: 'tag' | 'digest' }> = [];
    const tag = taggedName(ref);
    if (tag !== undefined && ref.digest === undefined) names.push({ name: tag, kind: 'tag' });
    names.push({ name: digestedName(ref, indexDigest ?? manifestDigest), kind: 'digest' });
    return this.commit(what, manifest, manifestDigest, indexDigest, names,
      (layer, signal) => client.fetchBlob(layer, this.content, `${what}: layer ${layer.digest}`, signal), po.signal);
  }

  private async putBlob(bytes: Buffer, what: string, digest: string): Promise<void> {
    if (!this.content.has(digest)) await this.content.put(bytes, what, digest);
  }

  /**
   * Makes sure a blob is in the content store, fetching it once however many pulls want it. The fetch
   * gets the flight's signal, which aborts only when every pull waiting for this blob has gone.
   */
  async ensureBlob(desc: Descriptor, fetchIt: (signal: AbortSignal) => Promise<unknown>, signal?: AbortSignal): Promise<void> {
    if (this.content.has(desc.digest)) return;
    await this.blobs.do(desc.digest, async (shared) => {
      if (!this.content.has(desc.digest)) await fetchIt(shared);
    }, signal);
  }

  /**
   * Given a manifest whose config is in the content store: fetches (via `fetchLayer`) and unpacks every
   * layer, then records the image under `names`. Shared by pull and import.
   */
  async commit(
    what: string, manifest: ImageManifest, manifestDigest: string, indexDigest: string | undefined,
    names: Array<{ name: string; kind: 'tag' | 'digest' }>, fetchLayer: (d: Descriptor, signal: AbortSignal) => Promise<unknown>,
    signal?: AbortSignal,
  ): Promise<ImageInfo> {
    const configBytes = this.content.read(manifest.config.digest);
    const config = parseImageConfig(configBytes, what);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw failedPrecondition(`${what}: the manifest has ${manifest.layers.length} layers but the config lists ${diffIds.length} diff IDs`);
    }
    const chains = chainIds(diffIds);
    const layers: LayerRef[] = manifest.layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size, diffId: diffIds[i]!, chainId: chains[i]! }));
    await mapLimit(manifest.layers, this.opts.parallelLayers ?? 3, async (desc, i) => {
      const layer = layers[i]!;
      if (this.layerReady(layer.chainId)) return;
      await this.ensureBlob(desc, (shared) => fetchLayer(desc, shared), signal);
      await this.ensureLayer(what, layer, signal);
    });
    const id = manifest.config.digest;
    const row: ImageRow = {
      id, manifestDigest, configJson: configBytes.toString('utf8'), layers,
      size: manifest.config.size + manifest.layers.reduce((s, l) => s + l.size, 0), pinned: false, createdAt: Date.now(),
    };
    if (indexDigest !== undefined) row.indexDigest = indexDigest;
    putImage(this.db, row, names);
    return this.info(id)!;
  }

  private imageComplete(id: string): boolean {
    const row = getImage(this.db, id);
    return row !== undefined && row.layers.every((l) => this.layerReady(l.chainId));
  }

  private layerReady(chainId: string): boolean {
    return getLayer(this.db, chainId) !== undefined && existsSync(join(this.layerDir(chainId), 'fs'));
  }

  private async ensureLayer(what: string, layer: LayerRef, signal?: AbortSignal): Promise<void> {
    await this.layers.do(layer.chainId, async (shared) => {
      if (this.layerReady(layer.chainId)) return;
      const dest = this.layerDir(layer.chainId);
      // A layer dir without a row is from a crash between rename and insert: redo it.
      rmSync(dest, { recursive: true, force: true });
      const opts: Parameters<typeof unpackLayer>[0] = {
        blobPath: this.content.path(layer.digest), dest, expectedDiffId: layer.diffId,
        image: what, layerDigest: layer.digest, fsopsPath: this.fsopsPath, signal: shared,
        maxUnpackedBytes: this.limits.maxLayerUnpackedBytes, maxEntries: this.limits.maxLayerEntries,
      };
      if (this.opts.runner) opts.runner = this.opts.runner;
      let r: Awaited<ReturnType<typeof unpackLayer>>;
      try {
        r = await (await import('./unpack-layer.js')).unpackLayer(opts);
      } catch (err) {
        // A layer refused for what it holds (a bomb, a path escape) would be refused again: its blob goes
        // too, unless a stored image still uses it, so a refused pull leaves nothing behind.
        if (err instanceof CriusError && err.code === 'FAILED_PRECONDITION' && !listImageRows(this.db).some((i) => i.layers.some((l) => l.digest === layer.digest))) {
          this.content.delete(layer.digest);
        }
        throw err;
      }
      if (r.skippedXattrs > 0) this.log.warn('layer xattrs skipped (namespace not allowed)', { image: what, layer: layer.digest, count: r.skippedXattrs });
      putLayer(this.db, { chainId: layer.chainId, diffId: layer.diffId, blobDigest: layer.digest, usedBytes: r.usedBytes, inodes: r.inodes });
    }, signal);
  }

  /** Finds an image by ID (full, `sha256:`-less or a unique prefix of 12+ hex), tag, or repo@digest. */
  findId(refInput: string): string | undefined {
    if (looksLikeImageId(refInput)) {
      const id = refInput.startsWith('sha256:') ? refInput : `sha256:${refInput}`;
      if (getImage(this.db, id)) return id;
    }
    const hex = refInput.replace(/^sha256:/, '');
    if (/^[a-f0-9]{12,63}$/.test(hex)) {
      const ids = imageIdsByPrefix(this.db, hex);
      if (ids.length === 1) return ids[0];
    }
    let ref: ImageReference;
    try {
      ref = parseReference(refInput);
    } catch (err) {
      if (/^[a-f0-9]{12,64}$/.test(hex) || refInput.startsWith('sha256:')) return undefined;
      throw err;
    }
    if (ref.digest !== undefined) return imageIdByName(this.db, digestedName(ref, ref.digest));
    const t = taggedName(ref);
    return t === undefined ? undefined : imageIdByName(this.db, t);
  }

  info(id: string): ImageInfo | undefined {
    const row = getImage(this.db, id);
    if (!row) return undefined;
    const names = namesOf(this.db, id);
    const config = JSON.parse(row.configJson) as ImageConfig;
    return {
      id, repoTags: names.tags, repoDigests: names.digests, size: row.size, pinned: row.pinned, config,
      manifestDigest: row.manifestDigest, ...userFromConfig(config.config?.User),
    };
  }

  /** ImageStatus: undefined when the image is not present (CRI answers with an empty image, not an error). */
  status(refInput: string): ImageInfo | undefined {
    const id = this.findId(refInput);
    return id === undefined ? undefined : this.info(id);
  }

  /** ListImages; with a filter, only the image that reference names. */
  list(filter?: string): ImageInfo[] {
    if (filter) {
      const one = this.status(filter);
      return one ? [one] : [];
    }
    return listImageRows(this.db).map((r) => this.info(r.id)!);
  }

  /** The public API for containers: image config and overlay lower dirs, bottom first. */
  resolveImage(refInput: string): ResolvedImage {
    const id = this.findId(refInput);
    if (id === undefined) throw notFound(`image "${refInput}" is not present; pull it first (crius image pull ${refInput})`);
    const row = getImage(this.db, id)!;
    const layerDirs = row.layers.map((l) => join(this.layerDir(l.chainId), 'fs'));
    for (const d of layerDirs) {
      if (!existsSync(d)) throw failedPrecondition(`image "${refInput}" (${id}): layer dir ${d} is missing; remove and pull the image again`);
    }
    return { id, config: JSON.parse(row.configJson) as ImageConfig, layerDirs };
  }

  /** Marks the image as used by a container: RemoveImage refuses it until release(). */
  markInUse(imageId: string, containerId: string): void {
    if (!getImage(this.db, imageId)) throw notFound(`image ${imageId} is not present; cannot mark it in use by container ${containerId}`);
    addImageUser(this.db, imageId, containerId);
  }

  /** Drops a container's marks (all images when imageId is omitted). */
  release(containerId: string, imageId?: string): void {
    removeImageUser(this.db, containerId, imageId);
  }

  setPinned(refInput: string, pinned: boolean): void {
    const id = this.findId(refInput);
    if (id === undefined) throw notFound(`image "${refInput}" is not present`);
    setPinned(this.db, id, pinned);
  }

  /**
   * RemoveImage by tag, repo@digest or ID. A tag only untags when the image keeps other tags; otherwise
   * the image goes, with every blob and layer no other image uses. Removing an absent image succeeds
   * (CRI requires RemoveImage to be idempotent); removing one a container uses is FAILED_PRECONDITION.
   */
  async remove(refInput: string): Promise<void> {
    await this.lock.exclusive(IMAGES_LOCK, async () => {
      const id = this.findId(refInput);
      if (id === undefined) return;
      const names = namesOf(this.db, id);
      let byTag: string | undefined;
      if (!looksLikeImageId(refInput) && !/^[a-f0-9]{12,63}$/.test(refInput)) {
        const ref = parseReference(refInput);
        if (ref.digest === undefined) byTag = taggedName(ref);
      }
      if (byTag !== undefined && names.tags.length > 1) {
        removeName(this.db, byTag);
        return;
      }
      const users = imageUsers(this.db, id);
      if (users.length > 0) {
        throw new CriusError('FAILED_PRECONDITION', `image "${refInput}" (${id}) is used by container(s) ${users.map((u) => u.slice(0, 13)).join(', ')}; remove those containers first`);
      }
      deleteImage(this.db, id);
      this.gc();
      this.log.info('image removed', { image: refInput, id });
    });
  }

  /** Deletes blobs and layer dirs no image references. Call with the exclusive lock held. */
  private gc(): void {
    const blobs = new Set<string>();
    const chains = new Set<string>();
    for (const img of listImageRows(this.db)) {
      blobs.add(img.id).add(img.manifestDigest);
      if (img.indexDigest) blobs.add(img.indexDigest);
      for (const l of img.layers) { blobs.add(l.digest); chains.add(l.chainId); }
    }
    for (const l of listLayers(this.db)) {
      if (chains.has(l.chainId)) continue;
      rmSync(this.layerDir(l.chainId), { recursive: true, force: true });
      deleteLayer(this.db, l.chainId);
    }
    // Layer dirs without a row (a crash between rename and insert) go too.
    for (const name of readdirSync(this.layersDir)) {
      if (/^[a-f0-9]{64}$/.test(name) && !chains.has(`sha256:${name}`)) rmSync(join(this.layersDir, name), { recursive: true, force: true });
    }
    for (const b of this.content.list()) if (!blobs.has(b.digest)) this.content.delete(b.digest);
    const copies = pruneShiftedCopies(shiftedCacheDir(this.opts.root));
    if (copies.length > 0) this.log.info('shifted layer copies removed', { dirs: copies });
  }

  /** ImageFsInfo: real bytes (st_blocks) and inodes of the blobs and unpacked layers. */
  fsInfo(): ImageFsUsage {
    let usedBytes = 0;
    let inodesUsed = 0;
    for (const l of listLayers(this.db)) { usedBytes += l.usedBytes; inodesUsed += l.inodes; }
    for (const b of this.content.list()) {
      try {
        usedBytes += lstatSync(this.content.path(b.digest)).blocks * 512;
        inodesUsed++;
      } catch { /* removed meanwhile */ }
    }
    return { timestamp: BigInt(Date.now()) * 1_000_000n, mountpoint: this.opts.root, usedBytes, inodesUsed };
  }
}
