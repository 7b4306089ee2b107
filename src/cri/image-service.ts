// CRI ImageService: PullImage, ListImages, ImageStatus, RemoveImage, ImageFsInfo. Decodes the request,
// validates its shape, calls the image domain (src/image/image-store.ts), encodes the answer.
import { invalidArgument } from '../common/errors.js';
import type { ImageInfo, ImageStore } from '../image/image-store.js';
import type { RegistryAuth } from '../image/registry-client.js';
import type { Image } from '../generated/runtime/v1/Image.js';
import type { ImageFsInfoResponse } from '../generated/runtime/v1/ImageFsInfoResponse.js';
import type { ImageStatusResponse } from '../generated/runtime/v1/ImageStatusResponse.js';
import type { ListImagesResponse } from '../generated/runtime/v1/ListImagesResponse.js';
import type { PullImageResponse } from '../generated/runtime/v1/PullImageResponse.js';
import type { RemoveImageResponse } from '../generated/runtime/v1/RemoveImageResponse.js';

/**
 * ImageSpec annotation on PullImage: import this archive (OCI layout or `docker save` tar, a path on the
 * daemon's host) instead of pulling; `crius image import` uses it. Why not an RPC of our own: the CRI has
 * no import call, and an annotation keeps the CLI a plain CRI client on the same root-only socket (whoever
 * can call PullImage there is root on the node and can read the file anyway). The kubelet never sets it.
 */
const IMPORT_FROM_ANNOTATION = 'io.crius.image/import-from';

/** The request shapes this module reads (field names as in runtime.v1 api.proto); generated __Output types fit. */
interface ImageSpecIn { image?: string | null; annotations?: Record<string, string> | null }
interface AuthConfigIn {
  username?: string | null; password?: string | null; auth?: string | null; server_address?: string | null;
  identity_token?: string | null; registry_token?: string | null;
}
interface PullImageRequestIn { image?: ImageSpecIn | null; auth?: AuthConfigIn | null; sandbox_config?: unknown }
interface ListImagesRequestIn { filter?: { image?: ImageSpecIn | null } | null }
interface ImageStatusRequestIn { image?: ImageSpecIn | null; verbose?: boolean | null }
interface RemoveImageRequestIn { image?: ImageSpecIn | null }

interface ImageServiceDeps {
  images: ImageStore;
}

/** The optional call context the gRPC server passes (its signal cancels a pull when the kubelet gives up). */
interface ImageCallContext { signal?: AbortSignal }

function requireImage(spec: ImageSpecIn | null | undefined, rpc: string): string {
  const image = spec?.image ?? '';
  if (image === '') throw invalidArgument(`${rpc}: image.image is empty; give an image reference such as "busybox:1.36" or an image ID`);
  return image;
}

function toAuth(a: AuthConfigIn | null | undefined): RegistryAuth | undefined {
  if (!a) return undefined;
  const out: RegistryAuth = {};
  for (const k of ['username', 'password', 'auth', 'server_address', 'identity_token', 'registry_token'] as const) {
    const v = a[k];
    if (typeof v === 'string' && v !== '') out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** CRI Image message: uid from a numeric config User, otherwise username (as containerd reports them). */
export function toCriImage(info: ImageInfo): Image {
  return {
    id: info.id,
    repo_tags: info.repoTags,
    repo_digests: info.repoDigests,
    size: String(info.size),
    uid: info.uid !== undefined ? { value: String(info.uid) } : null,
    username: info.username ?? '',
    spec: { image: info.id, annotations: {} },
    pinned: info.pinned,
  };
}

export function makeImageServiceHandlers(deps: ImageServiceDeps) {
  const { images } = deps;
  return {
    PullImage: async (req: PullImageRequestIn, ctx?: ImageCallContext): Promise<PullImageResponse> => {
      const archive = req.image?.annotations?.[IMPORT_FROM_ANNOTATION];
      if (archive !== undefined) {
        if (!archive.startsWith('/')) throw invalidArgument(`PullImage: annotation ${IMPORT_FROM_ANNOTATION} must be an absolute path on the node, got "${archive}"`);
        const name = req.image?.image ?? '';
        // Loaded on first use (tar-stream): not on the daemon's start-up path.
        const { importArchive } = await import('../image/import.js');
        const imported = await importArchive(images, archive, name ? { names: [name] } : {});
        if (imported.length === 0) throw invalidArgument(`PullImage: ${archive} holds no image`);
        return { image_ref: imported[0]!.id };
      }
      const ref = requireImage(req.image, 'PullImage');
      const opts: Parameters<ImageStore['pull']>[1] = {};
      const auth = toAuth(req.auth);
      if (auth) opts.auth = auth;
      if (ctx?.signal) opts.signal = ctx.signal;
      const info = await images.pull(ref, opts);
      // The image ID, as containerd answers; the kubelet passes it back in CreateContainer's image.
      return { image_ref: info.id };
    },

    ListImages: async (req: ListImagesRequestIn): Promise<ListImagesResponse> => {
      const filter = req.filter?.image?.image ?? '';
      return { images: images.list(filter === '' ? undefined : filter).map(toCriImage) };
    },

    ImageStatus: async (req: ImageStatusRequestIn): Promise<ImageStatusResponse> => {
      const ref = requireImage(req.image, 'ImageStatus');
      const info = images.status(ref);
      // An absent image is not an error: the kubelet checks presence this way before pulling.
      if (!info) return { image: null, info: {} };
      const out: ImageStatusResponse = { image: toCriImage(info), info: {} };
      if (req.verbose) {
        out.info = { info: JSON.stringify({ id: info.id, manifestDigest: info.manifestDigest, repoTags: info.repoTags, repoDigests: info.repoDigests, imageSpec: info.config }) };
      }
      return out;
    },

    RemoveImage: async (req: RemoveImageRequestIn): Promise<RemoveImageResponse> => {
      await images.remove(requireImage(req.image, 'RemoveImage'));
      return {};
    },

    ImageFsInfo: async (): Promise<ImageFsInfoResponse> => {
      const u = images.fsInfo();
      return {
        image_filesystems: [{
          timestamp: u.timestamp.toString(),
          fs_id: { mountpoint: u.mountpoint },
          used_bytes: { value: String(u.usedBytes) },
          inodes_used: { value: String(u.inodesUsed) },
        }],
        container_filesystems: [],
      };
    },
  };
}
