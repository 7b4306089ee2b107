// What pod/ records about a sandbox beyond its CRI config: everything needed to use it, recover it after
// a daemon restart, and take it apart again. Stored as the pods.runtime_json document.
import type { UsernsConfig } from '../userns/mapping-rules.js';
import type { PodSandboxConfig__Output } from '../generated/runtime/v1/PodSandboxConfig.js';
import type { PodRow } from '../store/pods.js';

export interface PodNamespacePaths {
  net?: string;
  ipc?: string;
  uts?: string;
  user?: string;
  /** Only when the pod shares one PID namespace (PID mode POD): the infra process's. */
  pid?: string;
}

export interface PodRuntime {
  /** <state>/pods/<id>: hostname, hosts, resolv.conf, shm, pinned namespace files. */
  runDir: string;
  userns: UsernsConfig;
  namespaces: PodNamespacePaths;
  /** Whether the netns was created inside the pod's user namespace (it owns it). */
  netnsOwnedByUserns: boolean;
  files?: { hostname: string; hosts: string; resolvConf: string; shm?: string };
  cgroupParent: string;
  /** CNI state: set once ADD succeeded, cleared once DEL did. */
  network?: { ips: string[] };
  /** The infra (pause) container, only for PID mode POD. */
  infra?: { containerId: string; pid: number; conmonPid?: number; conmonStartTime?: string };
  /** Side effects done so far, in order, so recovery knows what to undo after a crash mid-way. */
  done: SandboxStep[];
  /**
   * The runtime_handler RunPodSandbox was given ("" = the default), reported back as sent: the kubelet
   * compares it. `handler` holds the resolved name. Absent in pods recorded before it was kept.
   */
  requestedHandler?: string;
  /** The hostname the pod's containers have: the pod's own, or the node's for host-network pods. */
  hostname?: string;
}

export type SandboxStep = 'rundir' | 'shm' | 'namespaces' | 'network' | 'cgroup' | 'infra';

export type PodConfig = PodSandboxConfig__Output;
export type Pod = PodRow<PodConfig, PodRuntime>;
