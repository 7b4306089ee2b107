// `crius image import FILE`: loads an OCI image-layout tar or a `docker save` tar (optionally gzipped)
// into the image store. Every file is streamed into the content store under its computed digest (OCI
// blobs are verified against their names); then each image is committed like a pull: layers unpacked
// and verified against the config's diff IDs, names recorded.
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { failedPrecondition, invalidArgument, notFound, wrap } from '../common/errors.js';
import { IMAGES_LOCK, type ImageInfo, type ImageStore } from './image-store.js';
import { MediaType, parseManifest, selectPlatform, hostPlatform, type Descriptor, type ImageManifest, type Platform } from './manifest.js';
import { parseReference, taggedName } from './reference.js';
import { splitEntryName } from './tar-path.js';
import { compressionOf } from './unpack-layer.js';

interface ImportOptions {
  /** Names to give the imported image(s) when the archive carries none (or in addition). */
  names?: string[];
  platform?: Platform;
}

const SMALL_JSON_LIMIT = 4 * 1024 * 1024;

function tagNames(names: readonly string[]): Array<{ name: string; kind: 'tag' }> {
  const out: Array<{ name: string; kind: 'tag' }> = [];
  for (const n of names) {
    const t = taggedName(parseReference(n));
    if (t !== undefined) out.push({ name: t, kind: 'tag' });
  }
  return out;
}

export async function importArchive(store: ImageStore, file: string, opts: ImportOptions = {}): Promise<ImageInfo[]> {
  try {
    return await store.lock.shared(IMAGES_LOCK, () => doImport(store, file, opts));
  } catch (err) {
    throw wrap(`import image archive ${file}`, err);
  }
}

async function doImport(store: ImageStore, file: string, opts: ImportOptions): Promise<ImageInfo[]> {
  const files = new Map<string, { digest: string; size: number }>();
  const json = new Map<string, Buffer>();
  const ex = extract();
  const src = createReadStream(file, { highWaterMark: 256 * 1024 });
  const gz = compressionOf(file) === 'gzip';
  const consume = (async () => {
    for await (const entry of ex) {
      const h = entry.header;
      const split = splitEntryName(h.name);
      if (h.type !== 'file' || !split.ok) { entry.resume(); continue; }
      const name = split.parts.join('/');
      const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
      const expected = m ? { digest: `sha256:${m[1]!}`, size: h.size } : { size: h.size };
      const keep = name.endsWith('.json') && h.size <= SMALL_JSON_LIMIT;
      const chunks: Buffer[] = [];
      // The entry's body yields Buffers (tar-stream's typings say unknown); small JSON files are kept too.
      const tee = (async function* () {
        for await (const c of entry) {
          const b = c as Buffer;
          if (keep) chunks.push(b);
          yield b;
        }
      })();
      const info = await store.content.ingest(expected, tee, `archive entry "${name}"`);
      files.set(name, info);
      if (keep) json.set(name, Buffer.concat(chunks));
    }
  })();
  const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream | NodeJS.ReadWriteStream> = gz ? [src, createGunzip(), ex] : [src, ex];
  await Promise.all([consume, pipeline(stages)]);

  const platform = opts.platform ?? hostPlatform();
  const extra = tagNames(opts.names ?? []);
  const results: ImageInfo[] = [];
  const missing = (d: Descriptor): Promise<never> => Promise.reject(notFound(`layer blob ${d.digest} is not in the archive`));

  const indexJson = json.get('index.json');
  const dockerManifest = json.get('manifest.json');
  if (indexJson) {
    const index = parseManifest(indexJson, MediaType.ociIndex, `${file}: index.json`);
    if (index.kind !== 'index') throw failedPrecondition(`${file}: index.json is not an image index`);
    for (const desc of index.manifests) {
      if (!store.content.has(desc.digest)) throw notFound(`${file}: manifest ${desc.digest} named in index.json is not in the archive`);
      let manifestDigest = desc.digest;
      let indexDigest: string | undefined;
      let parsed = parseManifest(store.content.read(desc.digest), desc.mediaType, `${file}: ${desc.digest}`);
      if (parsed.kind === 'index') {
        indexDigest = desc.digest;
        manifestDigest = selectPlatform(parsed, platform, `${file}: ${desc.digest}`).digest;
        if (!store.content.has(manifestDigest)) throw notFound(`${file}: manifest ${manifestDigest} for ${platform.os}/${platform.architecture} is not in the archive`);
        parsed = parseManifest(store.content.read(manifestDigest), '', `${file}: ${manifestDigest}`);
      }
      if (parsed.kind !== 'manifest') throw failedPrecondition(`${file}: ${manifestDigest} is a nested index; not supported`);
      if (!store.content.has(parsed.config.digest)) throw notFound(`${file}: image config ${parsed.config.digest} is not in the archive`);
      const ann = desc.annotations ?? {};
      // containerd writes the full name in io.containerd.image.name; ref.name may be only a tag.
      // A ref.name without "/" or ":" is a bare tag ("latest"), which names no repository.
      const refName = ann['org.opencontainers.image.ref.name'];
      const full = ann['io.containerd.image.name'] ?? (refName !== undefined && /[/:]/.test(refName) ? refName : undefined);
      const named = full !== undefined ? tagNames([full]) : [];
      results.push(await store.commit(`${file}: ${full ?? manifestDigest}`, parsed, manifestDigest, indexDigest, [...named, ...extra], missing));
    }
  } else if (dockerManifest) {
    let entries: Array<{ Config?: string; RepoTags?: string[] | null; Layers?: string[] }>;
    try {
      entries = JSON.parse(dockerManifest.toString('utf8')) as typeof entries;
    } catch {
      throw failedPrecondition(`${file}: manifest.json is not valid JSON`);
    }
    if (!Array.isArray(entries)) throw failedPrecondition(`${file}: manifest.json is not a list`);
    for (const e of entries) {
      const clean = (p: string): string => { const s = splitEntryName(p); if (!s.ok) throw failedPrecondition(`${file}: path "${p}" in manifest.json: ${s.reason}`); return s.parts.join('/'); };
      const cfg = files.get(clean(e.Config ?? ''));
      if (!cfg) throw notFound(`${file}: config "${e.Config}" named in manifest.json is not in the archive`);
      const layers: Descriptor[] = (e.Layers ?? []).map((l) => {
        const f = files.get(clean(l));
        if (!f) throw notFound(`${file}: layer "${l}" named in manifest.json is not in the archive`);
        const c = compressionOf(store.content.path(f.digest));
        const mediaType = c === 'gzip' ? MediaType.ociLayerGzip : c === 'zstd' ? MediaType.ociLayerZstd : MediaType.ociLayerTar;
        return { mediaType, digest: f.digest, size: f.size };
      });
      const manifest: ImageManifest = { kind: 'manifest', config: { mediaType: MediaType.ociConfig, digest: cfg.digest, size: cfg.size }, layers };
      // docker save carries no manifest: synthesise the OCI one so the image has a manifest digest.
      const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: manifest.config, layers }));
      const put = await store.content.put(bytes, `${file}: synthesised manifest`);
      results.push(await store.commit(`${file}: ${(e.RepoTags ?? [])[0] ?? cfg.digest}`, manifest, put.digest, undefined, [...tagNames(e.RepoTags ?? []), ...extra], missing));
    }
  } else {
    throw invalidArgument(`${file} is neither an OCI image layout (no index.json) nor a docker save archive (no manifest.json)`);
  }
  return results;
}
