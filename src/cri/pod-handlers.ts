// RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox: decode, call
// pod/, encode. Shape checks here; lifecycle rules live in pod/sandbox-service.ts.
import type { RunPodSandboxRequest__Output } from '../generated/runtime/v1/RunPodSandboxRequest.js';
import type { RunPodSandboxResponse } from '../generated/runtime/v1/RunPodSandboxResponse.js';
import type { StopPodSandboxRequest__Output } from '../generated/runtime/v1/StopPodSandboxRequest.js';
import type { RemovePodSandboxRequest__Output } from '../generated/runtime/v1/RemovePodSandboxRequest.js';
import type { PodSandboxStatusRequest__Output } from '../generated/runtime/v1/PodSandboxStatusRequest.js';
import type { PodSandboxStatusResponse } from '../generated/runtime/v1/PodSandboxStatusResponse.js';
import type { ListPodSandboxRequest__Output } from '../generated/runtime/v1/ListPodSandboxRequest.js';
import type { ListPodSandboxResponse } from '../generated/runtime/v1/ListPodSandboxResponse.js';
import type { PodSandbox } from '../generated/runtime/v1/PodSandbox.js';
import type { PodSandboxStatus } from '../generated/runtime/v1/PodSandboxStatus.js';
import { invalidArgument } from '../common/errors.js';
import type { SandboxService } from '../pod/sandbox-service.js';
import type { Pod } from '../pod/types.js';
import { describeUserns } from '../userns/mapping-rules.js';
import { matchesId, matchesLabels } from './label-filter.js';
import { verboseSpecInfo } from './container-handlers.js';
import type { Spec } from '../spec/oci-types.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkPodSandboxConfig, type RequestLimits } from './validate/requests.js';

const podState = (p: Pod): 'SANDBOX_READY' | 'SANDBOX_NOTREADY' => (p.state === 'ready' ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY');

export function toCriPodStatus(p: Pod): PodSandboxStatus {
  const ips = p.runtime.network?.ips ?? [];
  return {
    id: p.id,
    metadata: p.config.metadata,
    state: podState(p),
    created_at: p.createdAt,
    network: { ip: ips[0] ?? '', additional_ips: ips.slice(1).map((ip) => ({ ip })) },
    linux: { namespaces: { options: p.config.linux?.security_context?.namespace_options ?? null } },
    labels: p.config.labels ?? {},
    annotations: p.config.annotations ?? {},
    runtime_handler: p.runtime.requestedHandler ?? p.handler,
  };
}

function toCriPod(p: Pod): PodSandbox {
  return {
    id: p.id, metadata: p.config.metadata, state: podState(p), created_at: p.createdAt,
    labels: p.config.labels ?? {}, annotations: p.config.annotations ?? {}, runtime_handler: p.runtime.requestedHandler ?? p.handler,
  };
}

export function makePodHandlers(pods: SandboxService, limits: RequestLimits) {
  return {
    RunPodSandbox: async (req: RunPodSandboxRequest__Output, ctx?: { signal: AbortSignal }): Promise<RunPodSandboxResponse> => {
      if (!req.config) throw invalidArgument('RunPodSandbox: config is missing');
      checkPodSandboxConfig(req.config, limits);
      const pod = await pods.run(req.config, req.runtime_handler ?? '', ctx?.signal);
      return { pod_sandbox_id: pod.id };
    },
    StopPodSandbox: async (req: StopPodSandboxRequest__Output): Promise<object> => {
      if (!req.pod_sandbox_id) throw invalidArgument('StopPodSandbox: pod_sandbox_id is empty');
      await pods.stop(req.pod_sandbox_id);
      return {};
    },
    RemovePodSandbox: async (req: RemovePodSandboxRequest__Output): Promise<object> => {
      if (!req.pod_sandbox_id) throw invalidArgument('RemovePodSandbox: pod_sandbox_id is empty');
      await pods.remove(req.pod_sandbox_id);
      return {};
    },
    PodSandboxStatus: async (req: PodSandboxStatusRequest__Output): Promise<PodSandboxStatusResponse> => {
      const p = pods.get(req.pod_sandbox_id);
      const res: PodSandboxStatusResponse = { status: toCriPodStatus(p), info: {}, timestamp: String(BigInt(Date.now()) * 1_000_000n) };
      if (req.verbose) {
        // The infra (pause) container's spec when the pod has one (PID mode POD), as containerd reports it.
        let spec: Spec | undefined;
        if (p.runtime.infra) spec = await readFile(join(p.runtime.runDir, 'infra', 'config.json'), 'utf8').then((t) => JSON.parse(t) as Spec, () => undefined);
        const u = p.runtime.userns;
        res.info = {
          info: JSON.stringify({
            sandboxID: p.id,
            pid: p.runtime.infra?.pid ?? 0,
            runDir: p.runtime.runDir,
            userNamespace: describeUserns(u),
            idMappings: u.kind === 'pod' ? { uids: [u.uid], gids: [u.gid] } : null,
            namespaces: p.runtime.namespaces,
            netnsOwnedByUserns: p.runtime.netnsOwnedByUserns,
            cgroupParent: p.runtime.cgroupParent,
            ips: p.runtime.network?.ips ?? [],
            handler: p.handler,
            runtimeHandler: p.runtime.requestedHandler ?? p.handler,
            hostname: p.runtime.hostname ?? null,
            idmappedMounts: verboseSpecInfo(spec).idmappedMounts,
            runtimeSpec: spec ?? null,
          }),
        };
      }
      return res;
    },
    ListPodSandbox: async (req: ListPodSandboxRequest__Output): Promise<ListPodSandboxResponse> => {
      const f = req.filter;
      const items = pods.list().filter((p) =>
        matchesId(p.id, f?.id) &&
        (!f?.state || podState(p) === f.state.state) &&
        matchesLabels(p.config.labels, f?.label_selector));
      return { items: items.map(toCriPod) };
    },
  };
}
