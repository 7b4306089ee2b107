// Builds every domain service from the mechanisms and maps each CRI RPC to its handler. The one place
// that knows which module serves which RPC: rpcTables() lists every RPC of both services, a handler or
// NOT_IMPLEMENTED (the server then answers UNIMPLEMENTED naming it); the tables' types come from the
// generated service types, so a misspelt or missing RPC does not compile (cri/rpc-table.ts).
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { capabilitiesFromMask } from '../spec/defaults.js';
import type { Config } from '../config/config.js';
import type { Db } from '../store/db.js';
import type { Logger } from '../common/logger.js';
import type { FeaturesCache } from '../oci/features.js';
import type { KernelFacts } from '../common/kernel.js';
import type { CriHandlers } from '../cri/server.js';
import { NOT_IMPLEMENTED } from '../cri/rpc-table.js';
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
import { createOciAdapter, type OciAdapter } from './adapters/oci.js';
import { nativeBuildPath } from '../common/install-root.js';
import { cgroupAdapter, namespaceAdapter, shmAdapter } from './adapters/pod.js';
import { createInfra } from '../pod/infra.js';
import { deviceAdapter, handlerAdapter, imageAdapter, rootfsAdapter, volumeAdapter } from './adapters/container.js';
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
import { runtimeHandler } from '../oci/runtime-handlers.js';
import type { OciHost } from '../oci/host-setup.js';
import type { AppArmorState } from '../oci/apparmor.js';
import type { NetworkPort } from '../pod/ports.js';
import type { StreamServerRef } from '../cri/stream-handlers.js';
import { makeEventsHandler } from '../cri/events-handler.js';
import { makeStatsHandlers } from '../cri/stats-handlers.js';
import { makeMetricsHandlers } from '../cri/pod-metrics.js';
import { createCgroupReader } from '../cgroup/reader.js';
import { StatsCollector } from '../stats/stats-collector.js';
import type { DaemonMetrics } from './metrics.js';
import { METRICS_OFF } from './metrics-off.js';
import { instrumentOci, withPullMetrics } from './instrument.js';
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
  const { host, apparmor, oci } = await openRuntime(deps);
  // Late-bound: the gauges read the services at scrape time.
  let services: Services | undefined;
  const metrics = await openMetrics(config, () => services);
  if (metrics !== METRICS_OFF) instrumentOci(oci, metrics);
  const network = networkAdapter(createCni({ confDir: config.cni.confDir, pluginDirs: config.cni.pluginDirs, resultsDir: join(config.rootDir, 'cni', 'results') }));
  // Pinned at the first volume check, not here: start-up does not wait for the helper.
  const probe = await openLazyNativeIdmapProbe(config.stateDir);
  await cleanupTemporaryIdmapMounts(join(config.stateDir, 'idmap-tmp')).catch((err: unknown) => logger.warn('idmap tmp cleanup', { error: (err as Error).message }));
  services = wireServices(deps, { host, oci, network, images, idmap: probe.probe });
  await recoverState(deps, services);
  const stream = lazyStreamServer(deps, services, oci);
  if (config.streaming.port !== 0) await stream.get();
  const handlers = rpcTables(deps, { host, apparmor, network, images, metrics, services, stream: stream.get });
  return {
    handlers, pods: services.pods, containers: services.containers, images, metrics,
    close: async () => {
      await stream.close();
      oci.close();
      await probe.close().catch(() => undefined);
    },
  };
}

/** The OCI host (cgroup layout and driver, oom floor), AppArmor, and the runtime handlers under conmon. */
async function openRuntime(deps: WiringDeps): Promise<{ host: OciHost; apparmor: AppArmorState; oci: OciAdapter }> {
  const { config, logger } = deps;
  const host = await detectOciHost(logger, nativeBuildPath('crius-oci-wrap'), config.cgroupManager);
  const apparmor = await setUpAppArmor(join(config.stateDir, 'apparmor'));
  logger.info('apparmor', { enabled: apparmor.enabled, defaultProfile: apparmor.defaultProfile ?? null, ...(apparmor.reason ? { reason: apparmor.reason } : {}) });
  return { host, apparmor, oci: createOciAdapter(config, host, logger.child({ module: 'oci' }), apparmor) };
}

/** [metrics] port = 0 (the default): nothing can scrape, so nothing is counted and prom-client stays unloaded. */
async function openMetrics(config: Config, services: () => Services | undefined): Promise<DaemonMetrics> {
  if (config.metrics.port === 0) return METRICS_OFF;
  const { countBy, createDaemonMetrics } = await import('./metrics.js');
  return createDaemonMetrics({
    pods: () => countBy(services()?.pods.list() ?? [], (p) => p.state, ['ready', 'notready']),
    containers: () => countBy(services()?.containers.listRecorded() ?? [], (c) => c.state, ['created', 'running', 'exited']),
  });
}

interface Services {
  pods: SandboxService;
  containers: ContainerService;
  events: ContainerEvents;
}

/** The pod and container services over their adapters, sharing one lock table and one event stream. */
function wireServices(deps: WiringDeps, m: { host: OciHost; oci: OciAdapter; network: NetworkPort; images: ImageStore; idmap: Parameters<typeof createIdmapSupport>[0]['probe'] }): Services {
  const { config, logger } = deps;
  const ownCapabilities = capabilitiesFromMask(/CapBnd:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0');
  const handlers = handlerAdapter(config, deps.features);
  const events = new ContainerEvents();
  // One lock table for pods and containers: lock order pod, then container (docs/ARCHITECTURE.md).
  const locks = new KeyedLock();
  // Late-bound: pods need containers (to stop them) and containers need pods (to find them).
  let containers: ContainerService | undefined;
  const podContainers = (): ContainerService => {
    if (!containers) throw new CriusError('UNAVAILABLE', 'the container service is not wired yet');
    return containers;
  };
  const pods = new SandboxService({
    pods: new PodStore<PodConfig, PodRuntime>(deps.db),
    stateDir: config.stateDir,
    resolveHandler: (name) => runtimeHandler(config.runtimes, name, config.defaultRuntime).name,
    namespaces: namespaceAdapter(),
    network: m.network,
    shm: shmAdapter(),
    cgroups: cgroupAdapter(m.host),
    containers: { stopAll: (id, t) => podContainers().stopAll(id, t), removeAll: (id) => podContainers().removeAll(id) },
    infra: createInfra({
      oci: m.oci, systemdCgroups: m.oci.systemdCgroups(), handlers, rootDir: config.rootDir, pauseBinary: nativeBuildPath('crius-pause'),
      seccompProfileBytes: config.limits.seccompProfileBytes, ownCapabilities, logger: logger.child({ module: 'infra' }),
    }),
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
    oci: m.oci,
    images: imageAdapter(m.images),
    rootfs: rootfsAdapter(config),
    handlers,
    volumes: volumeAdapter(createIdmapSupport({ probe: m.idmap })),
    devices: deviceAdapter(),
    seccompProfileBytes: config.limits.seccompProfileBytes,
    ownCapabilities,
    logger: logger.child({ module: 'container' }),
    events,
    locks,
  });
  // The exit watcher reports infra (pause) processes by their pod's ID: one dying makes the pod NOTREADY.
  m.oci.onExit((id) => pods.infraExited(id));
  return { pods, containers, events };
}

/**
 * Start-up recovery, before any RPC but Version is answered. A changed boot ID means every process and
 * mount of the previous boot is gone (store/meta.ts keeps the last one); it is recorded only after
 * recovery, so a crash during recovery still sees the reboot.
 */
async function recoverState(deps: WiringDeps, s: Services): Promise<void> {
  const bootId = readBootId();
  const previousBoot = getMeta(deps.db, BOOT_ID_KEY);
  const rebooted = previousBoot !== undefined && bootId !== undefined && previousBoot !== bootId;
  if (rebooted) deps.logger.warn('the node rebooted since the last start: pods become NOTREADY, containers EXITED', { previous_boot_id: previousBoot, boot_id: bootId });
  await s.pods.recover({ rebooted });
  await s.containers.recover({ rebooted });
  if (bootId !== undefined) setMeta(deps.db, BOOT_ID_KEY, bootId);
}

/**
 * The streaming server (and its code) starts at the first Exec, Attach or PortForward: with an ephemeral
 * port (the default) nothing needs it before. A configured port is taken at start-up (buildHandlers), so
 * a port in use fails the start as it always did. A failed start fails that RPC and is tried again by
 * the next one.
 */
function lazyStreamServer(deps: WiringDeps, s: Services, oci: OciAdapter): { get: StreamServerRef; close(): Promise<void> } {
  const { config, logger } = deps;
  let server: Promise<StreamServer> | undefined;
  const get = (): Promise<StreamServer> => {
    server ??= import('../stream/server.js').then(({ startStreamServer }) => startStreamServer({
      backends: streamBackends({ containers: s.containers, pods: s.pods, oci, stateDir: config.stateDir, logger: logger.child({ module: 'stream' }) }),
      address: config.streaming.address,
      port: config.streaming.port,
      logger: logger.child({ module: 'stream' }),
    })).then((started) => {
      logger.info('streaming server', { url: started.baseUrl });
      return started;
    }, (err: unknown) => {
      server = undefined;
      throw new CriusError('UNAVAILABLE', `cannot start the streaming server on ${config.streaming.address}:${config.streaming.port}: ${errorMessage(err)}`);
    });
    return server;
  };
  return {
    get,
    close: async () => {
      const started = await server?.catch(() => undefined);
      await started?.close();
    },
  };
}

/** Every CRI RPC of both services and what serves it. */
function rpcTables(deps: WiringDeps, w: {
  host: OciHost; apparmor: AppArmorState; network: NetworkPort; images: ImageStore; metrics: DaemonMetrics; services: Services; stream: StreamServerRef;
}): CriHandlers {
  const { config } = deps;
  const { pods, containers, events } = w.services;
  const host = w.host;
  const info = makeRuntimeInfoHandlers({
    config, version: deps.version, features: deps.features, kernel: deps.kernel,
    network: () => w.network.ready(),
    cgroupDriver: host.driver === 'systemd' ? 'SYSTEMD' : 'CGROUPFS',
    cgroup: { mode: host.layout.mode, driver: host.driver },
    apparmor: w.apparmor,
    logger: deps.logger,
  });
  const limits: RequestLimits = { labelsAnnotationsBytes: config.limits.labelsAnnotationsBytes, host: readHostCpuset() };
  const pod = makePodHandlers(pods, limits);
  const ctr = makeContainerHandlers(containers, limits);
  const streaming = makeStreamHandlers(w.stream, containers, pods);
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
  const statsStreams = makeStatsStreamHandlers({ ...stats, ...podMetrics });
  const podResources = makePodResourcesHandlers({ pods, apply: (cg, l) => (host.driver === 'systemd' ? applySliceLimits(cg, l) : applyPodLimits(host.layout, cg, l)), host: limits.host });
  const image = makeImageServiceHandlers({ images: w.images });
  return {
    runtime: {
      Version: info.Version,
      Status: info.Status,
      RuntimeConfig: info.RuntimeConfig,
      UpdateRuntimeConfig: info.UpdateRuntimeConfig,
      RunPodSandbox: pod.RunPodSandbox,
      StopPodSandbox: pod.StopPodSandbox,
      RemovePodSandbox: pod.RemovePodSandbox,
      PodSandboxStatus: pod.PodSandboxStatus,
      ListPodSandbox: pod.ListPodSandbox,
      UpdatePodSandboxResources: podResources.UpdatePodSandboxResources,
      CreateContainer: ctr.CreateContainer,
      StartContainer: ctr.StartContainer,
      StopContainer: ctr.StopContainer,
      RemoveContainer: ctr.RemoveContainer,
      ContainerStatus: ctr.ContainerStatus,
      ListContainers: ctr.ListContainers,
      UpdateContainerResources: ctr.UpdateContainerResources,
      ReopenContainerLog: ctr.ReopenContainerLog,
      ExecSync: ctr.ExecSync,
      Exec: streaming.Exec,
      Attach: streaming.Attach,
      PortForward: streaming.PortForward,
      ContainerStats: stats.ContainerStats,
      ListContainerStats: stats.ListContainerStats,
      PodSandboxStats: stats.PodSandboxStats,
      ListPodSandboxStats: stats.ListPodSandboxStats,
      ListMetricDescriptors: podMetrics.ListMetricDescriptors,
      ListPodSandboxMetrics: podMetrics.ListPodSandboxMetrics,
      GetContainerEvents: makeEventsHandler({ events, pods, containers }),
      StreamContainerStats: statsStreams.StreamContainerStats,
      StreamPodSandboxStats: statsStreams.StreamPodSandboxStats,
      StreamPodSandboxMetrics: statsStreams.StreamPodSandboxMetrics,
      StreamContainers: NOT_IMPLEMENTED,
      StreamPodSandboxes: NOT_IMPLEMENTED,
      CheckpointContainer: NOT_IMPLEMENTED,
      CheckpointPod: NOT_IMPLEMENTED,
      RestorePod: NOT_IMPLEMENTED,
    },
    image: {
      PullImage: withPullMetrics(image.PullImage, w.images, w.metrics),
      ListImages: image.ListImages,
      ImageStatus: image.ImageStatus,
      RemoveImage: image.RemoveImage,
      ImageFsInfo: image.ImageFsInfo,
      StreamImages: NOT_IMPLEMENTED,
    },
    observer: (o) => w.metrics.observeRpc(o),
  };
}
