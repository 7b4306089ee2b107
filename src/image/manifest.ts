// OCI image-spec and Docker schema 2 manifests, indexes and configs: media types, parsing with
// shape checks, and platform selection from an index.
import { createHash } from 'node:crypto';
import { failedPrecondition } from '../common/errors.js';
import { isDigest } from './reference.js';

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** What a registry is asked for: every manifest and index kind we can read. */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest,
].join(', ');

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  kind: 'manifest';
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  kind: 'index';
  manifests: Descriptor[];
}

/** The parts of the OCI image config that containers use (image-spec config.md). */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[];
    Cmd?: string[];
    WorkingDir?: string;
    Volumes?: Record<string, object>;
    ExposedPorts?: Record<string, object>;
    StopSignal?: string;
    Labels?: Record<string, string>;
  };
  rootfs: { type: string; diff_ids: string[] };
  [key: string]: unknown;
}

type Json = Record<string, unknown>;

function descriptor(v: unknown, what: string): Descriptor {
  const d = v as Json;
  if (typeof d !== 'object' || d === null || typeof d.digest !== 'string' || !isDigest(d.digest)
      || typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw failedPrecondition(`${what}: descriptor ${JSON.stringify(v)?.slice(0, 200)} lacks a sha256 digest or a valid size`);
  }
  const out: Descriptor = { mediaType: typeof d.mediaType === 'string' ? d.mediaType : '', digest: d.digest, size: d.size };
  if (typeof d.platform === 'object' && d.platform !== null) out.platform = d.platform as Platform;
  if (typeof d.annotations === 'object' && d.annotations !== null) out.annotations = d.annotations as Record<string, string>;
  return out;
}

/** Parses a manifest or index; `contentType` is the registry's Content-Type (may be empty). */
export function parseManifest(bytes: Buffer, contentType: string, what: string): ImageManifest | ImageIndex {
  let doc: Json;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Json;
  } catch {
    throw failedPrecondition(`${what}: manifest is not valid JSON`);
  }
  const mediaType = (typeof doc.mediaType === 'string' ? doc.mediaType : '') || contentType.split(';')[0]!.trim();
  if (doc.schemaVersion === 1) {
    throw failedPrecondition(`${what}: Docker schema 1 manifests are deprecated and not supported; push the image again with a current client`);
  }
  if (Array.isArray(doc.manifests) || mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList) {
    if (!Array.isArray(doc.manifests)) throw failedPrecondition(`${what}: index has no "manifests" array`);
    return { kind: 'index', manifests: doc.manifests.map((m) => descriptor(m, what)) };
  }
  if (typeof doc.config === 'object' && Array.isArray(doc.layers)) {
    return { kind: 'manifest', config: descriptor(doc.config, what), layers: doc.layers.map((l) => descriptor(l, what)) };
  }
  throw failedPrecondition(`${what}: unsupported manifest (media type "${mediaType || 'none'}")`);
}

export function parseImageConfig(bytes: Buffer, what: string): ImageConfig {
  let doc: ImageConfig;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch {
    throw failedPrecondition(`${what}: image config is not valid JSON`);
  }
  if (typeof doc !== 'object' || doc === null || typeof doc.rootfs !== 'object' || !Array.isArray(doc.rootfs?.diff_ids)
      || !doc.rootfs.diff_ids.every((d) => typeof d === 'string' && isDigest(d))) {
    throw failedPrecondition(`${what}: image config has no valid rootfs.diff_ids`);
  }
  return doc;
}

const NODE_ARCH_TO_OCI: Record<string, string> = {
  x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64',
};

/** The platform this host runs (GOARCH names, as in image indexes). */
export function hostPlatform(): Platform {
  return { os: 'linux', architecture: NODE_ARCH_TO_OCI[process.arch] ?? process.arch };
}

/** Picks the manifest for `want` from an index (exact os/arch; variant must match when both give one). */
export function selectPlatform(index: ImageIndex, want: Platform, what: string): Descriptor {
  const candidates = index.manifests.filter((m) => m.platform
    && m.platform.os === want.os && m.platform.architecture === want.architecture
    && (want.variant === undefined || m.platform.variant === undefined || m.platform.variant === want.variant));
  const pick = candidates[0];
  if (!pick) {
    const offered = index.manifests.map((m) => m.platform ? `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ''}` : 'unknown').join(', ');
    throw failedPrecondition(`${what}: no manifest for ${want.os}/${want.architecture} in the index (offered: ${offered || 'none'})`);
  }
  return pick;
}

/** OCI chain ID (image-spec config.md): ChainID(L0)=DiffID(L0); ChainID(Ln)=sha256(ChainID(Ln-1)+" "+DiffID(Ln)). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  }
  return out;
}

/** uid / username from the config's User (`1000`, `1000:1000`, `app`, `app:grp`), as containerd's CRI reports them. */
export function userFromConfig(user: string | undefined): { uid?: number; username?: string } {
  if (!user) return {};
  const u = user.split(':')[0]!;
  if (/^\d+$/.test(u)) return { uid: Number(u) };
  return { username: u };
}
