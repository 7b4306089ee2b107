// Builds every domain service from the mechanisms and maps each CRI RPC to its handler. The one place
// that knows which module serves which RPC; RPCs not listed here answer UNIMPLEMENTED.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { capabilitiesFromMask } from '../spec/defaults.js';
import type { Config } from '../config/config.js';
import type { Db } from '../store/db.js';
import type { Logger } from '../common/logger.js';
import type { FeaturesCache } from '../oci/features.js';
import type { KernelFacts } from '../common/kernel.js';
import type { CriHandlers, UnaryHandler } from '../cri/server.js';
import { makeRuntimeInfoHandlers } from '../cri/runtime-info.js';
import { makeImageServiceHandlers } from '../cri/image-service.js';
import { makePodHandlers } from '../cri/pod-handlers.js';
import { makeContainerHandlers } from '../cri/container-handlers.js';
import { ImageStore } from '../image/image-store.js';
import { PodStore } from '../store/pods.js';
import { ContainerStore } from '../store/containers.js';
import { SandboxService } from '../pod/sandbox-service.js';
import { ContainerService } from '../container/container-service.js';
import { detectOciHost } from '../oci/host-setup.js';
import { containerCgroupFsPath, podCgroupFsPath } from '../cgroup/host.js';
import { createCni } from '../network/cni.js';
import { openLazyNativeIdmapProbe } from '../userns/idmap-probe.js';
import { createIdmapSupport } from '../userns/idmap-support.js';
import { cleanupTemporaryIdmapMounts } from '../rootfs/overlay-rootfs.js';
import { createOciAdapter } from './adapters/oci.js';
import { nativeBuildPath } from '../common/install-root.js';
import { cgroupAdapter, infraAdapter, namespaceAdapter, shmAdapter } from './adapters/pod.js';
import { deviceAdapter, handlerAdapter, imageAdapter, readImageFile, rootfsAdapter, volumeAdapter } from './adapters/container.js';
import { readHostCpuset } from '../common/kernel.js';
import type { RequestLimits } from '../cri/validate/requests.js';
import { networkAdapter } from './adapters/network.js';
import { createRangeAllocator } from '../userns/range-allocator.js';
import { streamBackends } from './adapters/stream.js';
import type { StreamServer } from '../stream/server.js';
import { makeStreamHandlers } from '../cri/stream-handlers.js';
import type { PodConfig, PodRuntime } from '../pod/types.js';
import type { ContainerConfig, ContainerRuntime } from '../container/types.js';
import { ContainerEvents } from '../container/events.js';
import { makeEventsHandler } from '../cri/events-handler.js';
import { makeStatsHandlers } from '../cri/stats-handlers.js';
import { makeMetricsHandlers } from '../cri/pod-metrics.js';
import { createCgroupReader } from '../cgroup/reader.js';
import { StatsCollector } from '../stats/stats-collector.js';
import type { DaemonMetrics } from './metrics.js';
import { METRICS_OFF } from './metrics-off.js';
import { instrumentOci } from './instrument.js';
import type { StreamHandler } from '../cri/server.js';
import { makePodResourcesHandlers } from '../cri/pod-resources.js';
import { makeStatsStreamHandlers } from '../cri/stats-streams.js';
import { applyPodLimits, applySliceLimits } from '../cgroup/pod-resources.js';
import { CriusError, errorMessage } from '../common/errors.js';
import { KeyedLock } from '../common/keyed-lock.js';
import { getMeta, setMeta } from '../store/meta.js';

/** store/meta.ts key of the boot ID recorded at the last start. */
const BOOT_ID_KEY = 'boot_id';

function readBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
import { podTraversalProblem } from './private-state.js';
import { setUpAppArmor } from '../oci/apparmor.js';

interface WiringDeps {
  config: Config;
  db: Db;
  features: FeaturesCache;
  kernel: KernelFacts;
  logger: Logger;
  version: string;
}

interface Wired {
  handlers: CriHandlers;
  pods: SandboxService;
  containers: ContainerService;
  images: ImageStore;
  metrics: DaemonMetrics;
  close(): Promise<void>;
}

export async function buildHandlers(deps: WiringDeps): Promise<Wired> {
  const { config, logger } = deps;
  // The state dir's own directories and their modes: daemon/private-state.ts (applied at start).

  const images = new ImageStore({ root: join(config.rootDir, 'images'), db: deps.db, registries: config.registries, limits: config.images, logger: logger.child({ module: 'image' }) });
  images.recover();

  const host = await detectOciHost(logger, nativeBuildPath('crius-oci-wrap'), config.cgroupManager);
  const apparmor = await setUpAppArmor(join(config.stateDir, 'apparmor'));
  logger.info('apparmor', { enabled: apparmor.enabled, defaultProfile: apparmor.defaultProfile ?? null, ...(apparmor.reason ? { reason: apparmor.reason } : {}) });
  const oci = createOciAdapter(config, host, logger.child({ module: 'oci' }), apparmor);
  // Late-bound like `containers` below: the gauges read the services at scrape time.
  let pods!: SandboxService;
  let containers!: ContainerService;
  // [metrics] port = 0 (the default): nothing can scrape, so nothing is counted and prom-client stays unloaded.
  const metrics: DaemonMetrics = config.metrics.port === 0 ? METRICS_OFF : await import('./metrics.js').then(({ countBy, createDaemonMetrics }) => createDaemonMetrics({
    pods: () => countBy(pods.list(), (p) => p.state, ['ready', 'notready']),
    containers: () => countBy(containers.listRecorded(), (c) => c.state, ['created', 'running', 'exited']),
  }));
  if (metrics !== METRICS_OFF) instrumentOci(oci, metrics);
  const events = new ContainerEvents();
  const cni = createCni({ confDir: config.cni.confDir, pluginDirs: config.cni.pluginDirs, resultsDir: join(config.rootDir, 'cni', 'results') });
  const network = networkAdapter(cni);
  // Pinned at the first volume check, not here: start-up does not wait for the helper.
  const probe = await openLazyNativeIdmapProbe(config.stateDir);
  const idmap = createIdmapSupport({ probe: probe.probe });
  await cleanupTemporaryIdmapMounts(join(config.stateDir, 'idmap-tmp')).catch((err: unknown) => logger.warn('idmap tmp cleanup', { error: (err as Error).message }));

  const ownCapabilities = capabilitiesFromMask(/CapBnd:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0');
  const handlerNames = new Set(config.runtimes.map((r) => r.name));
  // One lock table for pods and containers: lock order pod, then container (docs/ARCHITECTURE.md).
  const locks = new KeyedLock();
  // Late-bound: pods need containers (to stop them) and containers need pods (to find them).
  pods = new SandboxService({
    pods: new PodStore<PodConfig, PodRuntime>(deps.db),
    stateDir: config.stateDir,
    resolveHandler: (name) => (name === '' ? config.defaultRuntime : handlerNames.has(name) ? name : undefined),
    namespaces: namespaceAdapter(),
    network,
    shm: shmAdapter(),
    cgroups: cgroupAdapter(host),
    containers: { stopAll: (id, t) => containers.stopAll(id, t), removeAll: (id) => containers.removeAll(id) },
    infra: infraAdapter({ stateDir: config.stateDir, oci, features: deps.features, config, ownCapabilities, logger: logger.child({ module: 'infra' }) }),
    logger: logger.child({ module: 'pod' }),
    // Standalone pods (`crius run`, annotation io.crius.userns/auto) take host IDs from [userns].
    rootfsUnreachable: (uid, gid) => podTraversalProblem(config.stateDir, uid, gid),
    ranges: createRangeAllocator(deps.db, { start: config.userns.subidStart, length: config.userns.subidLength, idsPerPod: config.userns.idsPerPod }),
    locks,
    events,
  });
  containers = new ContainerService({
    containers: new ContainerStore<ContainerConfig, ContainerRuntime>(deps.db),
    pod: (id) => pods.get(id),
    stateDir: config.stateDir,
    rootDir: config.rootDir,
    oci,
    images: imageAdapter(images),
    rootfs: rootfsAdapter(config),
    handlers: handlerAdapter(config, deps.features),
    volumes: volumeAdapter(idmap),
    devices: deviceAdapter(),
    seccompProfileBytes: config.limits.seccompProfileBytes,
    ownCapabilities,
    logger: logger.child({ module: 'container' }),
    readImageFile,
    events,
    locks,
  });
  // The exit watcher reports infra (pause) processes by their pod's ID: one dying makes the pod NOTREADY.
  oci.onExit((id) => pods.infraExited(id));
  // A changed boot ID means every process and mount of the previous boot is gone (store/meta.ts keeps
  // the last one); it is recorded only after recovery, so a crash during recovery still sees the reboot.
  const bootId = readBootId();
  const previousBoot = getMeta(deps.db, BOOT_ID_KEY);
  const rebooted = previousBoot !== undefined && bootId !== undefined && previousBoot !== bootId;
  if (rebooted) logger.warn('the node rebooted since the last start: pods become NOTREADY, containers EXITED', { previous_boot_id: previousBoot, boot_id: bootId });
  await pods.recover({ rebooted });
  await containers.recover({ rebooted });
  if (bootId !== undefined) setMeta(deps.db, BOOT_ID_KEY, bootId);

  const info = makeRuntimeInfoHandlers({
    config, version: deps.version, features: deps.features, kernel: deps.kernel,
    network: () => network.ready(),
    cgroupDriver: host.driver === 'systemd' ? 'SYSTEMD' : 'CGROUPFS',
    cgroup: { mode: host.layout.mode, driver: host.driver },
    apparmor,
  });
  // The streaming server (and its code) starts at the first Exec, Attach or PortForward: with an ephemeral
  // port (the default) nothing needs it before. A configured port is taken now, so a port in use fails
  // the start-up as it always did. A failed start fails that RPC and is tried again by the next one.
  let streamServer: Promise<StreamServer> | undefined;
  const stream = (): Promise<StreamServer> => {
    streamServer ??= import('../stream/server.js').then(({ startStreamServer }) => startStreamServer({
      backends: streamBackends({ containers, pods, oci, stateDir: config.stateDir, logger: logger.child({ module: 'stream' }) }),
      address: config.streaming.address,
      port: config.streaming.port,
      logger: logger.child({ module: 'stream' }),
    })).then((s) => {
      logger.info('streaming server', { url: s.baseUrl });
      return s;
    }, (err: unknown) => {
      streamServer = undefined;
      throw new CriusError('UNAVAILABLE', `cannot start the streaming server on ${config.streaming.address}:${config.streaming.port}: ${errorMessage(err)}`);
    });
    return streamServer;
  };
  if (config.streaming.port !== 0) await stream();
  const streaming = makeStreamHandlers(stream, containers, pods);
  const image = makeImageServiceHandlers({ images });
  const limits: RequestLimits = { labelsAnnotationsBytes: config.limits.labelsAnnotationsBytes, host: readHostCpuset() };
  const pod = makePodHandlers(pods, limits);
  const ctr = makeContainerHandlers(containers, limits);
  const statsSources = {
    pods,
    containers: { get: (id: string) => containers.get(id), list: async (podId?: string) => containers.listRecorded(podId) },
    collector: new StatsCollector({ cgroups: createCgroupReader(host.layout), now: () => BigInt(Date.now()) * 1_000_000n }),
    cgroupsPath: (parent: string, id: string) => containerCgroupFsPath(host, parent, id),
    podCgroupPath: (parent: string) => podCgroupFsPath(host, parent),
    containersDir: join(config.rootDir, 'containers'),
  };
  const stats = makeStatsHandlers(statsSources);
  const podMetrics = makeMetricsHandlers(statsSources);
  const podResources = makePodResourcesHandlers({ pods, apply: (cg, l) => (host.driver === 'systemd' ? applySliceLimits(cg, l) : applyPodLimits(host.layout, cg, l)), host: limits.host });
  const pullImage = async (req: never, ctx: Parameters<UnaryHandler>[1]): Promise<object> => {
    const t0 = performance.now();
    let before: string | undefined;
    try {
      before = images.findId((req as { image?: { image?: string } }).image?.image ?? '');
    } catch { /* a bad reference: PullImage itself says what is wrong */ }
    try {
      const res = await (image.PullImage as UnaryHandler)(req, ctx) as { image_ref: string };
      metrics.observePull({ ok: true, seconds: (performance.now() - t0) / 1000, bytes: before === undefined ? images.info(res.image_ref)?.size ?? 0 : 0 });
      return res;
    } catch (err) {
      metrics.observePull({ ok: false, seconds: (performance.now() - t0) / 1000, bytes: 0 });
      throw err;
    }
  };
  const unary: Record<string, UnaryHandler> = {
    Version: info.Version,
    Status: info.Status as UnaryHandler,
    RuntimeConfig: info.RuntimeConfig,
    PullImage: pullImage,
    ListImages: image.ListImages as UnaryHandler,
    ImageStatus: image.ImageStatus as UnaryHandler,
    RemoveImage: image.RemoveImage as UnaryHandler,
    ImageFsInfo: image.ImageFsInfo as UnaryHandler,
    ...(pod as unknown as Record<string, UnaryHandler>),
    ...(ctr as unknown as Record<string, UnaryHandler>),
    ...(streaming as unknown as Record<string, UnaryHandler>),
    ...(stats as unknown as Record<string, UnaryHandler>),
    ...(podMetrics as unknown as Record<string, UnaryHandler>),
    ...(podResources as unknown as Record<string, UnaryHandler>),
  };
  const streams: Record<string, StreamHandler> = {
    GetContainerEvents: makeEventsHandler({ events, pods, containers }) as StreamHandler,
    ...(makeStatsStreamHandlers({ ...stats, ...podMetrics } as never) as unknown as Record<string, StreamHandler>),
  };
  return {
    handlers: { unary, stream: streams, observer: (o) => metrics.observeRpc(o) },
    pods, containers, images, metrics,
    close: async () => {
      const s = await streamServer?.catch(() => undefined);
      await s?.close();
      oci.close();
      await probe.close().catch(() => undefined);
    },
  };
}
