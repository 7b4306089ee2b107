// CreateContainer, StartContainer, StopContainer, RemoveContainer, ContainerStatus, ListContainers,
// ExecSync, ReopenContainerLog: decode, call container/, encode.
import type { CreateContainerRequest__Output } from '../generated/runtime/v1/CreateContainerRequest.js';
import type { CreateContainerResponse } from '../generated/runtime/v1/CreateContainerResponse.js';
import type { StartContainerRequest__Output } from '../generated/runtime/v1/StartContainerRequest.js';
import type { StopContainerRequest__Output } from '../generated/runtime/v1/StopContainerRequest.js';
import type { RemoveContainerRequest__Output } from '../generated/runtime/v1/RemoveContainerRequest.js';
import type { ContainerStatusRequest__Output } from '../generated/runtime/v1/ContainerStatusRequest.js';
import type { ContainerStatusResponse } from '../generated/runtime/v1/ContainerStatusResponse.js';
import type { ListContainersRequest__Output } from '../generated/runtime/v1/ListContainersRequest.js';
import type { ListContainersResponse } from '../generated/runtime/v1/ListContainersResponse.js';
import type { ExecSyncRequest__Output } from '../generated/runtime/v1/ExecSyncRequest.js';
import type { ExecSyncResponse } from '../generated/runtime/v1/ExecSyncResponse.js';
import type { ReopenContainerLogRequest__Output } from '../generated/runtime/v1/ReopenContainerLogRequest.js';
import type { ContainerStatus } from '../generated/runtime/v1/ContainerStatus.js';
import type { Container as CriContainer } from '../generated/runtime/v1/Container.js';
import { invalidArgument } from '../common/errors.js';
import type { ContainerService } from '../container/container-service.js';
import type { Container } from '../container/types.js';
import { matchesId, matchesLabels } from './label-filter.js';
import type { CriLinuxResources } from '../container/update-resources.js';
import type { Spec } from '../spec/oci-types.js';
import { checkContainerConfig, type RequestLimits } from './validate/requests.js';
import { checkLogDirectory } from './validate/log-path.js';
import { checkResources } from './validate/resources.js';

type CriState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

function criState(c: Container): CriState {
  switch (c.state) {
    case 'created': return 'CONTAINER_CREATED';
    case 'running': return 'CONTAINER_RUNNING';
    case 'exited': return 'CONTAINER_EXITED';
    default: return 'CONTAINER_UNKNOWN';
  }
}

export function toCriContainerStatus(c: Container): ContainerStatus {
  return {
    id: c.id,
    metadata: c.config.metadata,
    state: criState(c),
    created_at: c.createdAt,
    started_at: c.startedAt,
    finished_at: c.finishedAt,
    exit_code: c.exitCode,
    image: { image: c.imageRef, annotations: {} },
    image_ref: c.imageId,
    image_id: c.imageId,
    reason: c.reason,
    message: c.message,
    labels: c.config.labels ?? {},
    annotations: c.config.annotations ?? {},
    mounts: (c.config.mounts ?? []).map((m) => ({ ...m })),
    log_path: c.runtime.logPath,
    // What UpdateContainerResources last applied, else what the container was created with.
    resources: c.runtime.resources ? { linux: c.runtime.resources as never } : c.config.linux?.resources ? { linux: c.config.linux.resources } : null,
  };
}

/** The user namespace mappings and the idmapped mounts of an OCI spec, for verbose status info. */
export function verboseSpecInfo(spec: Spec | undefined): { userNamespace: object | null; idmappedMounts: object[] } {
  const userns = spec?.linux?.namespaces?.find((n) => n.type === 'user');
  return {
    userNamespace: userns ? { path: userns.path ?? null, uidMappings: spec?.linux?.uidMappings ?? null, gidMappings: spec?.linux?.gidMappings ?? null } : null,
    idmappedMounts: (spec?.mounts ?? []).filter((m) => (m.uidMappings?.length ?? 0) > 0)
      .map((m) => ({ destination: m.destination, source: m.source ?? '', uidMappings: m.uidMappings, gidMappings: m.gidMappings })),
  };
}

function toCriContainer(c: Container): CriContainer {
  return {
    id: c.id, pod_sandbox_id: c.podId, metadata: c.config.metadata, image: { image: c.imageRef, annotations: {} },
    image_ref: c.imageId, image_id: c.imageId, state: criState(c), created_at: c.createdAt,
    labels: c.config.labels ?? {}, annotations: c.config.annotations ?? {},
  };
}

export function makeContainerHandlers(containers: ContainerService, limits: RequestLimits) {
  return {
    CreateContainer: async (req: CreateContainerRequest__Output, ctx?: { signal: AbortSignal }): Promise<CreateContainerResponse> => {
      if (!req.pod_sandbox_id) throw invalidArgument('CreateContainer: pod_sandbox_id is empty');
      if (!req.config) throw invalidArgument('CreateContainer: config is missing');
      checkContainerConfig(req.config, limits);
      // The pod's config again, as the kubelet sends it: what crius may read from it is checked too.
      checkLogDirectory(req.sandbox_config?.log_directory, 'sandbox_config.log_directory');
      checkResources(req.sandbox_config?.linux?.resources, 'sandbox_config.linux.resources', limits.host);
      const c = await containers.create(req.pod_sandbox_id, req.config, req.sandbox_config as never, ctx?.signal);
      return { container_id: c.id };
    },
    StartContainer: async (req: StartContainerRequest__Output): Promise<object> => {
      await containers.start(req.container_id);
      return {};
    },
    StopContainer: async (req: StopContainerRequest__Output): Promise<object> => {
      if (!req.container_id) throw invalidArgument('StopContainer: container_id is empty');
      await containers.stop(req.container_id, Number(req.timeout ?? 0));
      return {};
    },
    RemoveContainer: async (req: RemoveContainerRequest__Output): Promise<object> => {
      if (!req.container_id) throw invalidArgument('RemoveContainer: container_id is empty');
      await containers.remove(req.container_id);
      return {};
    },
    ContainerStatus: async (req: ContainerStatusRequest__Output): Promise<ContainerStatusResponse> => {
      const c = await containers.status(req.container_id);
      const res: ContainerStatusResponse = { status: toCriContainerStatus(c), info: {} };
      const user = await containers.processUser(c);
      if (user) res.status!.user = { linux: user };
      if (req.verbose) {
        // What `crictl inspect` users look for, named as containerd names them (runtimeSpec, pid, sandboxID).
        const spec = await containers.runtimeSpec(c);
        res.info = {
          info: JSON.stringify({
            sandboxID: c.podId, pid: c.runtime.pid ?? 0, handler: c.runtime.handler, bundle: c.runtime.bundle,
            dataDir: c.runtime.dataDir, imageRef: c.imageId,
            ...verboseSpecInfo(spec),
            runtimeSpec: spec ?? null,
          }),
        };
      }
      return res;
    },
    ListContainers: async (req: ListContainersRequest__Output): Promise<ListContainersResponse> => {
      const f = req.filter;
      const all = await containers.list();
      const items = all.filter((c) =>
        matchesId(c.id, f?.id) &&
        matchesId(c.podId, f?.pod_sandbox_id) &&
        (!f?.state || criState(c) === f.state.state) &&
        matchesLabels(c.config.labels, f?.label_selector));
      return { containers: items.map(toCriContainer) };
    },
    ExecSync: async (req: ExecSyncRequest__Output): Promise<ExecSyncResponse> => {
      if (!req.container_id) throw invalidArgument('ExecSync: container_id is empty');
      const r = await containers.execSync(req.container_id, req.cmd ?? [], Number(req.timeout ?? 0));
      return { stdout: r.stdout, stderr: r.stderr, exit_code: r.exitCode };
    },
    UpdateContainerResources: async (req: { container_id?: string | null; linux?: CriLinuxResources | null }): Promise<object> => {
      if (!req.container_id) throw invalidArgument('UpdateContainerResources: container_id is empty');
      if (!req.linux) throw invalidArgument('UpdateContainerResources: linux resources are missing (Windows resources do not apply here)');
      checkResources(req.linux, 'linux', limits.host);
      await containers.updateResources(req.container_id, req.linux);
      return {};
    },
    ReopenContainerLog: async (req: ReopenContainerLogRequest__Output): Promise<object> => {
      await containers.reopenLog(req.container_id);
      return {};
    },
  };
}
