// container/'s ports over image/, rootfs/, oci/features and userns/ idmap probes.
import { join } from 'node:path';
import type { ImageStore } from '../../image/image-store.js';
import { mountContainerRootfs, unmountContainerRootfs } from '../../rootfs/overlay-rootfs.js';
import { copyImageVolume, resolveInRoot } from '../../rootfs/image-volume.js';
import type { FeaturesCache } from '../../oci/features.js';
import type { Config } from '../../config/config.js';
import type { DevicePort, HandlerPort, ImagePort, RootfsPort, VolumeProbePort } from '../../container/ports.js';
import { deviceNode, hostDevices } from '../../oci/host-devices.js';
import type { IdmapSupport } from '../../userns/idmap-support.js';
import { runtimeHandler } from '../../oci/runtime-handlers.js';
import { readImageFile } from '../../image/image-file.js';
import { shiftedCacheDir } from '../../rootfs/shifted-copy.js';

export function imageAdapter(images: ImageStore): ImagePort {
  return {
    resolve: (ref) => {
      const r = images.resolveImage(ref);
      // The image config file wraps the runtime config in `config`; spec/ wants that inner object.
      return { id: r.id, layerDirs: r.layerDirs, config: r.config.config ?? {} };
    },
    markInUse: (imageId, containerId) => images.markInUse(imageId, containerId),
    readFile: (layerDirs, path) => readImageFile(layerDirs, path),
    release: (containerId, imageId) => images.release(containerId, imageId),
  };
}

export function rootfsAdapter(config: Config): RootfsPort {
  return {
    mount: async (o) => {
      await mountContainerRootfs({
        layers: o.layers, upperDir: o.upperDir, workDir: o.workDir, target: o.target,
        userns: o.userns && { file: o.userns.file, uidMap: o.userns.uid, gidMap: o.userns.gid },
        mode: config.userns.rootfs,
        copyCacheDir: shiftedCacheDir(join(config.rootDir, 'images')),
        tmpDir: join(config.stateDir, 'idmap-tmp'),
      });
    },
    unmount: (target) => unmountContainerRootfs(target),
    copyImageVolume: (o) => copyImageVolume(o),
    resolveIn: (root, path) => resolveInRoot(root, path),
  };
}

export function handlerAdapter(config: Config, features: FeaturesCache): HandlerPort {
  return {
    async info(handler) {
      const h = runtimeHandler(config.runtimes, handler);
      return features.read(h.name, h.path);
    },
  };
}

export function deviceAdapter(): DevicePort {
  return { node: (p) => deviceNode(p), all: () => hostDevices('/dev') };
}

export function volumeAdapter(support: IdmapSupport): VolumeProbePort {
  return { checkVolume: (v) => support.checkVolume(v) };
}
