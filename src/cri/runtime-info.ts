// Version, Status and RuntimeConfig: what the kubelet asks before anything else. Status decides whether
// the kubelet will schedule `hostUsers: false` pods here (runtime_handlers[].features.user_namespaces).
import type { VersionResponse } from '../generated/runtime/v1/VersionResponse.js';
import type { StatusRequest__Output } from '../generated/runtime/v1/StatusRequest.js';
import type { StatusResponse } from '../generated/runtime/v1/StatusResponse.js';
import type { RuntimeConfigResponse } from '../generated/runtime/v1/RuntimeConfigResponse.js';
import type { RuntimeCondition } from '../generated/runtime/v1/RuntimeCondition.js';
import type { Config } from '../config/config.js';
import { handlerCriFeatures, usernsUnsupportedReason, type FeaturesCache, type HandlerInfo } from '../oci/features.js';
import type { KernelFacts } from '../common/kernel.js';
import type { Logger } from '../common/logger.js';
import type { UpdateRuntimeConfigRequest__Output } from '../generated/runtime/v1/UpdateRuntimeConfigRequest.js';
import type { UpdateRuntimeConfigResponse } from '../generated/runtime/v1/UpdateRuntimeConfigResponse.js';
import { parsePodCidrs } from '../network/pod-cidr.js';

const RUNTIME_NAME = 'crius';
const CRI_API_VERSION = 'v1';

interface NetworkReadiness {
  ready: boolean;
  reason?: string;
  message?: string;
}

interface RuntimeInfoDeps {
  config: Config;
  version: string;
  features: Pick<FeaturesCache, 'read'>;
  kernel: KernelFacts;
  /** Whether pod networking can be set up now (a CNI config loads); until networking exists, false. */
  network: () => Promise<NetworkReadiness>;
  /** The cgroup driver crius uses; cgroupfs (crius writes cgroup paths itself, no systemd). */
  cgroupDriver: 'CGROUPFS' | 'SYSTEMD';
  /** The host's cgroup mode and the driver, for Status's verbose info. */
  cgroup?: { mode: string; driver: string };
  /** Whether containers get AppArmor profiles here, and the default one. */
  apparmor?: { enabled: boolean; defaultProfile?: string; reason?: string };
  logger?: Pick<Logger, 'info'>;
}

export async function readHandlers(deps: Pick<RuntimeInfoDeps, 'config' | 'features'>): Promise<HandlerInfo[]> {
  return Promise.all(deps.config.runtimes.map((h) => deps.features.read(h.name, h.path)));
}

/** Version needs nothing but crius's own version: the daemon answers it while it is still starting. */
export function makeVersionHandler(version: string): () => Promise<VersionResponse> {
  return async () => ({
    version: '0.1.0',
    runtime_name: RUNTIME_NAME,
    runtime_version: version,
    runtime_api_version: CRI_API_VERSION,
  });
}

export function makeRuntimeInfoHandlers(deps: RuntimeInfoDeps) {
  // The node's pod CIDR(s) from the kubelet's last UpdateRuntimeConfig (network/pod-cidr.ts).
  let podCidrs: string[] = [];
  return {
    Version: makeVersionHandler(deps.version),

    Status: async (req: StatusRequest__Output): Promise<StatusResponse> => {
      const handlers = await readHandlers(deps);
      const def = handlers.find((h) => h.name === deps.config.defaultRuntime);
      const runtimeReady: RuntimeCondition = def?.features
        ? { type: 'RuntimeReady', status: true, reason: '', message: '' }
        : {
          type: 'RuntimeReady',
          status: false,
          reason: 'DefaultRuntimeUnusable',
          message: `default runtime handler "${deps.config.defaultRuntime}" cannot be used: ${def?.reason ?? 'not configured'}`,
        };
      const net = await deps.network();
      const networkReady: RuntimeCondition = {
        type: 'NetworkReady',
        status: net.ready,
        reason: net.ready ? '' : (net.reason ?? 'NetworkPluginNotReady'),
        message: net.ready ? '' : (net.message ?? 'network is not ready'),
      };
      const entry = (name: string, h: HandlerInfo) => ({ name, features: handlerCriFeatures(h, deps.kernel) });
      const runtime_handlers = handlers.map((h) => entry(h.name, h));
      // The default handler appears a second time under "" (cri-api: the name of the default handler).
      if (def) runtime_handlers.unshift(entry('', def));
      const res: StatusResponse = {
        status: { conditions: [runtimeReady, networkReady] },
        runtime_handlers,
        // supplemental_groups_policy (KEP-3619): Merge and Strict are applied (spec/user.ts) and the
        // identity in effect is reported in ContainerStatus.user.
        features: { supplemental_groups_policy: true, user_namespaces_host_network: false },
        info: {},
      };
      if (req.verbose) {
        res.info = {
          config: JSON.stringify({
            rootDir: deps.config.rootDir,
            stateDir: deps.config.stateDir,
            socket: deps.config.socket,
            defaultRuntime: deps.config.defaultRuntime,
            configFile: deps.config.source ?? null,
            podCIDRs: podCidrs,
            // The CRI's RuntimeFeatures has no field for these (yet): said here for operators and tools.
            features: { imageVolumes: true, supplementalGroupsPolicy: true, sandboxEvents: true },
            kernel: deps.kernel.release,
            // The daemon's own memory (bytes), as node sees it: rss, and the V8 heap used and reserved.
            daemon: { pid: process.pid, memory: process.memoryUsage() },
            cgroupVersion: deps.cgroup ? (deps.cgroup.mode === 'v2' ? 2 : deps.cgroup.mode === 'v1' ? 1 : 'hybrid') : null,
            cgroupDriver: deps.cgroup?.driver ?? null,
            apparmor: deps.apparmor
              ? { enabled: deps.apparmor.enabled, inUse: deps.apparmor.enabled, defaultProfile: deps.apparmor.defaultProfile ?? null, reason: deps.apparmor.reason ?? null }
              : { enabled: false, inUse: false, defaultProfile: null, reason: null },
            runtimeHandlers: handlers.map((h) => ({
              name: h.name,
              path: h.path,
              version: h.version ?? null,
              featuresRead: h.features !== undefined,
              reason: h.reason ?? null,
              ...handlerCriFeatures(h, deps.kernel),
              userNamespacesUnsupported: usernsUnsupportedReason(h, deps.kernel) ?? null,
            })),
          }),
        };
      }
      return res;
    },

    UpdateRuntimeConfig: async (req: UpdateRuntimeConfigRequest__Output): Promise<UpdateRuntimeConfigResponse> => {
      const next = parsePodCidrs(req.runtime_config?.network_config?.pod_cidr ?? '');
      if (next.join(',') !== podCidrs.join(',')) {
        deps.logger?.info('pod CIDR updated by the kubelet (pod addresses still come from the CNI configuration)', { from: podCidrs.join(','), to: next.join(',') });
        podCidrs = next;
      }
      return {};
    },

    RuntimeConfig: async (): Promise<RuntimeConfigResponse> => ({
      linux: { cgroup_driver: deps.cgroupDriver },
    }),
  };
}
