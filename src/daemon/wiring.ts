// Builds every CRI handler from its domain service. The one place that knows which module serves which
// RPC; RPCs not listed here answer UNIMPLEMENTED.
import type { Config } from './config.js';
import type { Db } from '../store/db.js';
import type { Logger } from '../common/logger.js';
import type { FeaturesCache, KernelFacts } from '../oci/features.js';
import type { CriHandlers, UnaryHandler } from '../cri/server.js';
import { makeRuntimeInfoHandlers } from '../cri/runtime-info.js';
import { makeImageServiceHandlers } from '../cri/image-service.js';
import { ImageStore } from '../image/image-store.js';
import { join } from 'node:path';

export interface WiringDeps {
  config: Config;
  db: Db;
  features: FeaturesCache;
  kernel: KernelFacts;
  logger: Logger;
  version: string;
}

export interface Wired {
  handlers: CriHandlers;
  close(): Promise<void>;
}

export async function buildHandlers(deps: WiringDeps): Promise<Wired> {
  const info = makeRuntimeInfoHandlers({
    config: deps.config,
    version: deps.version,
    features: deps.features,
    kernel: deps.kernel,
    network: async () => ({ ready: false, reason: 'NetworkPluginNotReady', message: 'pod networking (CNI) is not wired into this build yet' }),
    cgroupDriver: 'CGROUPFS',
  });
  const images = new ImageStore({
    root: join(deps.config.rootDir, 'images'),
    db: deps.db,
    registries: deps.config.registries,
    logger: deps.logger.child({ module: 'image' }),
  });
  images.recover();
  const image = makeImageServiceHandlers({ images });
  const unary: Record<string, UnaryHandler> = {
    Version: info.Version,
    Status: info.Status as UnaryHandler,
    RuntimeConfig: info.RuntimeConfig,
    PullImage: image.PullImage as UnaryHandler,
    ListImages: image.ListImages as UnaryHandler,
    ImageStatus: image.ImageStatus as UnaryHandler,
    RemoveImage: image.RemoveImage as UnaryHandler,
    ImageFsInfo: image.ImageFsInfo as UnaryHandler,
  };
  return { handlers: { unary }, close: async () => {} };
}
