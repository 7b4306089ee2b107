// Handler tables where every RPC is NOT_IMPLEMENTED, for tests that serve a few RPCs of their own over a
// real CriServer: spread them and override what the test serves. Typed like daemon/wiring.ts's tables,
// so a new RPC in the generated types must be added here too.
import { NOT_IMPLEMENTED, type ImageRpcs, type RuntimeRpcs } from '../../src/cri/rpc-table.js';
import type { CriHandlers } from '../../src/cri/server.js';

function noRuntimeRpcs(): RuntimeRpcs {
  const n: typeof NOT_IMPLEMENTED = NOT_IMPLEMENTED;
  return {
    Version: n, Status: n, RuntimeConfig: n, UpdateRuntimeConfig: n,
    RunPodSandbox: n, StopPodSandbox: n, RemovePodSandbox: n, PodSandboxStatus: n, ListPodSandbox: n, UpdatePodSandboxResources: n,
    CreateContainer: n, StartContainer: n, StopContainer: n, RemoveContainer: n, ContainerStatus: n, ListContainers: n,
    UpdateContainerResources: n, ReopenContainerLog: n, ExecSync: n, Exec: n, Attach: n, PortForward: n,
    ContainerStats: n, ListContainerStats: n, PodSandboxStats: n, ListPodSandboxStats: n, ListMetricDescriptors: n, ListPodSandboxMetrics: n,
    GetContainerEvents: n, StreamContainerStats: n, StreamPodSandboxStats: n, StreamPodSandboxMetrics: n, StreamContainers: n, StreamPodSandboxes: n,
    CheckpointContainer: n, CheckpointPod: n, RestorePod: n,
  };
}

function noImageRpcs(): ImageRpcs {
  const n: typeof NOT_IMPLEMENTED = NOT_IMPLEMENTED;
  return { PullImage: n, ListImages: n, ImageStatus: n, RemoveImage: n, ImageFsInfo: n, StreamImages: n };
}

/** Handlers serving only the given RuntimeService RPCs. */
export function runtimeOnly(served: Partial<RuntimeRpcs>): CriHandlers {
  return { runtime: { ...noRuntimeRpcs(), ...served }, image: noImageRpcs() };
}
