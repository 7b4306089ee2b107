// Builds OCI images from file lists (tar layers made with tar-stream, so tests control every header,
// including hostile ones), pushes them to a registry through the distribution API, and writes OCI
// image-layout and `docker save` archives for import tests.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { run } from '../../src/common/exec.js';

export interface TarEntry {
  path: string;
  /** 'pax-header' writes a raw PAX extended header (content = records) applying to the next entry. */
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo' | 'pax-header';
  content?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
  /** Extra PAX records, e.g. { 'SCHILY.xattr.user.k': 'v' }. */
  pax?: Record<string, string>;
}

export type Compression = 'gzip' | 'zstd' | 'none';

/** One PAX record with a byte-exact value: "<len> <key>=<value>\n", len counting itself. */
export function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

export interface LayerBlob {
  mediaType: string;
  blob: Buffer;
  digest: string;
  size: number;
  diffId: string;
  /** The uncompressed tar. */
  tar: Buffer;
}

export interface BuiltImage {
  manifest: Buffer;
  manifestDigest: string;
  manifestMediaType: string;
  config: Buffer;
  configDigest: string;
  layers: LayerBlob[];
}

export const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const FIXED_MTIME = new Date('2024-01-02T03:04:05Z');

/** A raw ustar header of typeflag `x` (PAX extended header for the next entry) plus its padded records. */
function rawPaxHeader(name: string, records: Buffer): Buffer {
  const h = Buffer.alloc(512);
  const put = (off: number, len: number, v: string): void => { h.write(v.slice(0, len), off, 'ascii'); };
  const oct = (off: number, len: number, n: number): void => put(off, len, `${n.toString(8).padStart(len - 1, '0')}\0`);
  put(0, 100, name);
  oct(100, 8, 0o644); oct(108, 8, 0); oct(116, 8, 0); oct(124, 12, records.length); oct(136, 12, Math.floor(FIXED_MTIME.getTime() / 1000));
  h.fill(0x20, 148, 156);
  put(156, 1, 'x');
  put(257, 6, 'ustar\0'); put(263, 2, '00');
  let sum = 0;
  for (const b of h) sum += b;
  put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const pad = Buffer.alloc((512 - (records.length % 512)) % 512);
  return Buffer.concat([h, records, pad]);
}

/** An uncompressed tar of the entries, in order, exactly as given (no name sanitising). */
export async function tarOf(entries: readonly TarEntry[]): Promise<Buffer> {
  if (!entries.some((e) => e.type === 'pax-header')) return packEntries(entries);
  // tar-stream cannot emit a raw PAX header: build the archive from single-entry pieces instead.
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (e.type === 'pax-header') parts.push(rawPaxHeader(e.path, Buffer.from(e.content ?? '')));
    else { const one = await packEntries([e]); parts.push(one.subarray(0, one.length - 1024)); }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

async function packEntries(entries: readonly TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    p.on('data', (c: unknown) => { chunks.push(c as Buffer); });
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'pax-header') continue;
    const content = e.content === undefined ? Buffer.alloc(0) : Buffer.from(e.content);
    const header = {
      name: e.path, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0,
      mtime: e.mtime ?? FIXED_MTIME, linkname: e.linkname ?? '', devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0,
      size: type === 'file' ? content.length : 0, ...(e.pax ? { pax: e.pax } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (type === 'file') p.entry(header, content, done);
      else p.entry(header, done);
    });
  }
  p.finalize();
  return done;
}

async function compress(tar: Buffer, how: Compression): Promise<Buffer> {
  if (how === 'none') return tar;
  if (how === 'gzip') return gzipSync(tar, { level: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'crius-zstd-'));
  try {
    writeFileSync(join(dir, 'in'), tar);
    await run('zstd', ['-q', '-f', '-3', '-o', join(dir, 'out'), join(dir, 'in')]);
    return readFileSync(join(dir, 'out'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const LAYER_MEDIA: Record<Compression, string> = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  none: 'application/vnd.oci.image.layer.v1.tar',
};

export async function makeLayer(entries: readonly TarEntry[], how: Compression = 'gzip'): Promise<LayerBlob> {
  const tar = await tarOf(entries);
  const blob = await compress(tar, how);
  return { mediaType: LAYER_MEDIA[how], blob, digest: sha256(blob), size: blob.length, diffId: sha256(tar), tar };
}

interface ImageOptions {
  architecture?: string;
  os?: string;
  /** Docker schema 2 media types instead of OCI. */
  docker?: boolean;
}

export function makeImage(layers: LayerBlob[], config: Record<string, unknown> = {}, opts: ImageOptions = {}): BuiltImage {
  const cfg = Buffer.from(JSON.stringify({
    created: FIXED_MTIME.toISOString(), architecture: opts.architecture ?? 'amd64', os: opts.os ?? 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'], ...config },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  }));
  const manifestMediaType = opts.docker ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json';
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: manifestMediaType,
    config: { mediaType: opts.docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: sha256(cfg), size: cfg.length },
    layers: layers.map((l) => ({ mediaType: opts.docker && l.mediaType.endsWith('gzip') ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : l.mediaType, digest: l.digest, size: l.size })),
  }));
  return { manifest, manifestDigest: sha256(manifest), manifestMediaType, config: cfg, configDigest: sha256(cfg), layers };
}

interface PushTarget {
  url: string;
  credentials?: { username: string; password: string };
}

function authHeader(t: PushTarget): Record<string, string> {
  return t.credentials ? { authorization: `Basic ${Buffer.from(`${t.credentials.username}:${t.credentials.password}`).toString('base64')}` } : {};
}

async function pushBlob(t: PushTarget, repo: string, blob: Buffer, digest = sha256(blob)): Promise<void> {
  const head = await fetch(`${t.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', headers: authHeader(t) });
  if (head.status === 200) return;
  const start = await fetch(`${t.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: authHeader(t) });
  await start.body?.cancel();
  if (start.status !== 202) throw new Error(`push ${repo} blob: POST uploads answered ${start.status}`);
  const loc = new URL(start.headers.get('location') ?? '', t.url);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: 'PUT', headers: { ...authHeader(t), 'content-type': 'application/octet-stream' }, body: new Uint8Array(blob) });
  const text = await put.text();
  if (put.status !== 201) throw new Error(`push ${repo} blob ${digest}: PUT answered ${put.status}: ${text.slice(0, 300)}`);
}

async function pushManifest(t: PushTarget, repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
  const res = await fetch(`${t.url}/v2/${repo}/manifests/${reference}`, { method: 'PUT', headers: { ...authHeader(t), 'content-type': mediaType }, body: new Uint8Array(bytes) });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`push ${repo}:${reference} manifest: ${res.status}: ${text.slice(0, 300)}`);
  return sha256(bytes);
}

/** Pushes blobs, config and manifest; returns the manifest digest. */
export async function pushImage(t: PushTarget, repo: string, reference: string, img: BuiltImage): Promise<string> {
  for (const l of img.layers) await pushBlob(t, repo, l.blob, l.digest);
  await pushBlob(t, repo, img.config, img.configDigest);
  return pushManifest(t, repo, reference, img.manifest, img.manifestMediaType);
}

/** Pushes every image by digest and an OCI index over them under `tag`; returns the index digest. */
export async function pushIndex(t: PushTarget, repo: string, tag: string, entries: Array<{ image: BuiltImage; os: string; architecture: string; variant?: string }>): Promise<string> {
  for (const e of entries) await pushImage(t, repo, e.image.manifestDigest, e.image);
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: entries.map((e) => ({
      mediaType: e.image.manifestMediaType, digest: e.image.manifestDigest, size: e.image.manifest.length,
      platform: { os: e.os, architecture: e.architecture, ...(e.variant ? { variant: e.variant } : {}) },
    })),
  }));
  return pushManifest(t, repo, tag, index, 'application/vnd.oci.image.index.v1+json');
}

const BUSYBOX = '/bin/busybox';
const BUSYBOX_APPLETS = ['sh', 'ls', 'cat', 'id', 'stat', 'sleep', 'touch', 'echo', 'wget', 'httpd', 'nc', 'env', 'mkdir', 'rm', 'ps', 'true', 'false', 'grep', 'head', 'hostname', 'mount', 'readlink', 'test', 'chmod', 'chown', 'ln', 'uname', 'whoami', 'kill', 'top', 'date', 'printf', 'tail'];

/** A busybox-static rootfs: /bin/busybox, applet symlinks, /etc/passwd and /etc/group with a user 1000. */
export function busyboxEntries(): TarEntry[] {
  const out: TarEntry[] = [
    { path: 'bin/', type: 'directory' },
    { path: 'bin/busybox', content: readFileSync(BUSYBOX), mode: 0o755 },
    ...BUSYBOX_APPLETS.map((a): TarEntry => ({ path: `bin/${a}`, type: 'symlink', linkname: 'busybox', mode: 0o777 })),
    { path: 'etc/', type: 'directory' },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000:user:/home/user:/bin/sh\n' },
    { path: 'etc/group', content: 'root:x:0:\nnogroup:x:65534:\nuser:x:1000:\n' },
    { path: 'home/', type: 'directory' },
    { path: 'home/user/', type: 'directory', uid: 1000, gid: 1000 },
    { path: 'root/', type: 'directory', mode: 0o700 },
    { path: 'tmp/', type: 'directory', mode: 0o1777 },
    { path: 'proc/', type: 'directory' },
    { path: 'sys/', type: 'directory' },
    { path: 'dev/', type: 'directory' },
    { path: 'var/', type: 'directory' },
  ];
  return out;
}

/** The busybox image: one layer, Cmd ["sh"]. */
export async function busyboxImage(how: Compression = 'gzip', config: Record<string, unknown> = {}, opts: ImageOptions = {}): Promise<BuiltImage> {
  return makeImage([await makeLayer(busyboxEntries(), how)], config, opts);
}

/** Writes an OCI image-layout tar (oci-layout, index.json, blobs/sha256/...) holding `img` named `refName`. */
export async function writeOciLayoutTar(file: string, img: BuiltImage, refName: string): Promise<void> {
  const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{
    mediaType: img.manifestMediaType, digest: img.manifestDigest, size: img.manifest.length,
    annotations: { 'org.opencontainers.image.ref.name': refName, 'io.containerd.image.name': refName },
  }] };
  const blob = (d: string, b: Buffer): TarEntry => ({ path: `blobs/sha256/${d.slice(7)}`, content: b });
  const entries: TarEntry[] = [
    { path: 'oci-layout', content: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { path: 'index.json', content: JSON.stringify(index) },
    { path: 'blobs/', type: 'directory' }, { path: 'blobs/sha256/', type: 'directory' },
    blob(img.manifestDigest, img.manifest), blob(img.configDigest, img.config),
    ...img.layers.map((l) => blob(l.digest, l.blob)),
  ];
  writeFileSync(file, await tarOf(entries));
}

/** Writes a `docker save`-style tar (manifest.json, <id>.json, <n>/layer.tar uncompressed). */
export async function writeDockerSaveTar(file: string, img: BuiltImage, repoTags: string[]): Promise<void> {
  const cfgName = `${img.configDigest.slice(7)}.json`;
  const layerNames = img.layers.map((l) => `${l.diffId.slice(7)}/layer.tar`);
  const entries: TarEntry[] = [
    { path: cfgName, content: img.config },
    ...img.layers.flatMap((l, i): TarEntry[] => [{ path: `${l.diffId.slice(7)}/`, type: 'directory' }, { path: layerNames[i]!, content: l.tar }]),
    { path: 'manifest.json', content: JSON.stringify([{ Config: cfgName, RepoTags: repoTags, Layers: layerNames }]) },
    { path: 'repositories', content: '{}' },
  ];
  writeFileSync(file, await tarOf(entries));
}
