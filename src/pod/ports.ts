// What the pod domain needs from the mechanisms, as small interfaces: the daemon wires the real ones
// (userns/, network/, oci/), unit tests pass fakes.
import type { UsernsConfig } from '../userns/mapping-rules.js';
import type { PodNamespacePaths } from './types.js';

export interface NamespaceRequest {
  podId: string;
  /** Directory for the pinned namespace files. */
  dir: string;
  userns: UsernsConfig;
  hostNetwork: boolean;
  hostIpc: boolean;
  hostname: string;
  /** Namespaced sysctls (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*), applied inside. */
  sysctls: Record<string, string>;
  /** The pod's own /dev/shm (absent with host IPC), mounted along with the namespaces. */
  shm?: ShmRequest;
}

/** A fresh tmpfs for the pod's /dev/shm, owned by the pod's root. */
export interface ShmRequest {
  dir: string;
  sizeBytes: number;
  owner: { uid: number; gid: number };
}

export interface NamespacePort {
  /** Creates and pins the pod's namespaces (the netns inside the pod's user namespace when it has one). */
  create(req: NamespaceRequest): Promise<{ paths: PodNamespacePaths; netnsOwnedByUserns: boolean }>;
  /** Unpins; idempotent; a missing file is fine. */
  remove(paths: PodNamespacePaths): Promise<void>;
}

interface PodNetworkMeta {
  podId: string;
  name: string;
  namespace: string;
  uid: string;
}

export interface PortMapping {
  protocol: 'tcp' | 'udp' | 'sctp';
  containerPort: number;
  hostPort: number;
  hostIp: string;
}

export interface NetworkPort {
  ready(): Promise<{ ready: boolean; reason?: string; message?: string }>;
  /** CNI ADD; returns the pod's IPs (first is the primary). */
  add(meta: PodNetworkMeta, netns: string, ports: PortMapping[]): Promise<{ ips: string[] }>;
  /** CNI DEL; idempotent and tolerant of a missing netns. */
  remove(meta: PodNetworkMeta, netns: string | undefined): Promise<void>;
}

export interface ShmPort {
  /** Unmounts and removes the pod's /dev/shm tmpfs (NamespacePort.create mounted it); idempotent. */
  unmount(dir: string): Promise<void>;
}

export interface CgroupPort {
  /** The cgroup parent for the pod's containers, beneath crius's own cgroup on this host. */
  podParent(podId: string, requested: string): string;
  /** Removes the pod's (empty) cgroups; idempotent. */
  removePod(parent: string): Promise<void>;
}

/** What pod/ needs of the container domain: stop and remove a pod's containers. */
export interface PodContainers {
  stopAll(podId: string, timeoutSeconds: number): Promise<void>;
  removeAll(podId: string): Promise<void>;
}

/**
 * The infra (pause) process: only for pods whose containers share one PID namespace (PID mode POD),
 * because a PID namespace cannot be pinned without a live init.
 */
export interface InfraPort {
  start(pod: import('./types.js').Pod): Promise<{ containerId: string; pid: number; conmonPid?: number; conmonStartTime?: string }>;
  /** Kills it (idempotent). */
  stop(pod: import('./types.js').Pod): Promise<void>;
  /** Deletes its runtime state and bundle (idempotent). */
  remove(pod: import('./types.js').Pod): Promise<void>;
  /** After a daemon restart: whether it still runs (oci/recovery.ts decides, as for containers). */
  alive(pod: import('./types.js').Pod): Promise<boolean>;
}
