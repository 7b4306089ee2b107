// Plain inputs of the spec builder. The CRI parts mirror runtime.v1 (proto/runtime/v1/api.proto) with the
// proto's own field names, so the container/ layer can pass decoded requests with little or no copying;
// spec/ itself never depends on the generated types.

/** int64 as the generated types carry it (string) or as a number. */
type Int64 = number | string;

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type MountPropagation = 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL';

export interface IDMapping {
  host_id: number;
  container_id: number;
  length: number;
}

export interface UserNamespace {
  mode?: NamespaceMode;
  uids?: IDMapping[];
  gids?: IDMapping[];
}

export interface NamespaceOption {
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
  target_id?: string;
  userns_options?: UserNamespace | null;
}

interface Int64Value {
  value: Int64;
}

export interface CriMount {
  container_path: string;
  host_path: string;
  readonly?: boolean;
  selinux_relabel?: boolean;
  propagation?: MountPropagation;
  uidMappings?: IDMapping[];
  gidMappings?: IDMapping[];
  recursive_read_only?: boolean;
  /** An image volume (KEP-4639): this image, mounted read-only, instead of host_path. */
  image?: { image?: string } | null;
  /** A directory (or file) inside that image to mount instead of its root. */
  image_sub_path?: string;
}

interface CriDevice {
  container_path: string;
  host_path: string;
  /** Any of "r", "w", "m". */
  permissions: string;
}

interface Capability {
  add_capabilities?: string[];
  drop_capabilities?: string[];
  add_ambient_capabilities?: string[];
}

interface SecurityProfile {
  profile_type?: 'RuntimeDefault' | 'Unconfined' | 'Localhost';
  localhost_ref?: string;
}

export interface LinuxContainerSecurityContext {
  capabilities?: Capability | null;
  privileged?: boolean;
  namespace_options?: NamespaceOption | null;
  run_as_user?: Int64Value | null;
  run_as_group?: Int64Value | null;
  run_as_username?: string;
  readonly_rootfs?: boolean;
  supplemental_groups?: Int64[];
  supplemental_groups_policy?: 'Merge' | 'Strict';
  no_new_privs?: boolean;
  masked_paths?: string[];
  readonly_paths?: string[];
  seccomp?: SecurityProfile | null;
  apparmor?: SecurityProfile | null;
  /** Deprecated in the CRI (superseded by `apparmor`); older kubelets still send it. */
  apparmor_profile?: string | null;
}

interface HugepageLimit {
  page_size: string;
  limit: Int64;
}

export interface LinuxContainerResources {
  cpu_period?: Int64;
  cpu_quota?: Int64;
  cpu_shares?: Int64;
  memory_limit_in_bytes?: Int64;
  oom_score_adj?: Int64;
  cpuset_cpus?: string;
  cpuset_mems?: string;
  hugepage_limits?: HugepageLimit[];
  unified?: Record<string, string>;
  memory_swap_limit_in_bytes?: Int64;
}

interface KeyValue {
  key: string;
  /** Upstream cri-api declares string; this repo's proto has bytes (same wire format), hence Buffer. */
  value: string | Uint8Array;
}

export interface ContainerConfigInput {
  metadata?: { name: string; attempt?: number } | null;
  command?: string[];
  args?: string[];
  working_dir?: string;
  envs?: KeyValue[];
  mounts?: CriMount[];
  devices?: CriDevice[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  stdin?: boolean;
  stdin_once?: boolean;
  tty?: boolean;
  linux?: { resources?: LinuxContainerResources | null; security_context?: LinuxContainerSecurityContext | null } | null;
}

interface LinuxSandboxSecurityContext {
  namespace_options?: NamespaceOption | null;
  run_as_user?: Int64Value | null;
  run_as_group?: Int64Value | null;
  readonly_rootfs?: boolean;
  supplemental_groups?: Int64[];
  supplemental_groups_policy?: 'Merge' | 'Strict';
  privileged?: boolean;
  seccomp?: SecurityProfile | null;
  apparmor?: SecurityProfile | null;
}

export interface SandboxConfigInput {
  metadata?: { name: string; uid: string; namespace: string; attempt?: number } | null;
  hostname?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: {
    cgroup_parent?: string;
    security_context?: LinuxSandboxSecurityContext | null;
    sysctls?: Record<string, string>;
    resources?: LinuxContainerResources | null;
  } | null;
}

/** The OCI image config's `config` object (image-spec config.md), field names as in the image JSON. */
export interface ImageConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Volumes?: Record<string, unknown>;
  StopSignal?: string;
}

/** One validated mapping line (userns/ validates the kubelet's; only container ID 0 pods get here). */
export interface IdRange {
  containerId: number;
  hostId: number;
  length: number;
}

/** The pod's user namespace mapping; null in RuntimeContext means the host user namespace. */
export interface PodUserns {
  uid: IdRange;
  gid: IdRange;
}

/**
 * What one OCI runtime handler can do with mounts, derived from its `features` (see
 * handlerCapabilities in idmap-check.ts). runc 1.3 idmaps bind mounts only; crun also idmaps tmpfs.
 */
export interface HandlerCapabilities {
  name: string;
  idmapBind: boolean;
  idmapTmpfs: boolean;
  rro: boolean;
}

/** Namespace files pinned by pod/ (bind mounts of /proc/<pid>/ns/*). */
export interface NamespacePaths {
  net?: string;
  ipc?: string;
  uts?: string;
  user?: string;
  pid?: string;
}

/** Host paths of the files the sandbox made for the pod. */
interface SandboxFiles {
  hostname?: string;
  hosts?: string;
  resolvConf?: string;
  /** A tmpfs the sandbox mounted for the pod's /dev/shm (owned by the pod's root, nosuid,nodev,noexec). */
  shm?: string;
}

/** A device node as stat(2) reports it; the caller stats, spec/ does no I/O. */
export interface DeviceNodeInfo {
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** Permission bits only (st_mode & 0o7777). */
  fileMode: number;
  uid: number;
  gid: number;
}

export interface RuntimeContext {
  /** The container's root filesystem (overlay mount point). */
  rootfs: string;
  namespaces: NamespacePaths;
  /**
   * Whether the pod's network namespace is owned by the pod's user namespace (created inside it).
   * When it is not (host network, or a netns made outside), mounting sysfs fails with EPERM, so /sys
   * becomes a read-only bind instead (kernel 7dc5dbc879bd; containerd 93cf5418b). Default: true.
   */
  netnsOwnedByUserns?: boolean;
  cgroupsPath?: string;
  sandboxFiles?: SandboxFiles;
  userns: PodUserns | null;
  handler: HandlerCapabilities;
  /** Lowest oom_score_adj this process may set (without CAP_SYS_RESOURCE: its own value). */
  oomScoreAdjMin: number;
  /** Host dirs the runtime made for the image's VOLUMEs, by container path (see imageVolumesToCreate). */
  imageVolumeDirs?: Record<string, string>;
  /** Where each image volume's image is mounted on the host, by container path (KEP-4639). */
  imageMountDirs?: Record<string, string>;
  /** The pod's actual hostname (the node's for host-network pods), for HOSTNAME; default sandbox.hostname. */
  podHostname?: string;
  /** stat results of the CRI devices' host paths, by host path. */
  deviceNodes?: Record<string, DeviceNodeInfo>;
  /** Every host device (path in /dev -> node), for privileged containers. */
  hostDevices?: Record<string, DeviceNodeInfo>;
  /** Capabilities crius itself holds (privileged and "ALL" grant these; default: all). */
  ownCapabilities?: string[];
  /**
   * The parsed JSON of the Localhost seccomp profile named by localhost_ref (read by the caller), in
   * OCI or Docker format; validated and converted by seccompFromProfileJson.
   */
  seccompLocalhost?: unknown;
  /** uname -r, for Docker-format profiles' minKernel conditions. */
  kernelRelease?: string;
  /** Whether the handler and kernel do seccomp (default true). */
  seccompEnabled?: boolean;
  /** AppArmor on this host: profiles are only set when enabled. */
  apparmor?: { enabled: boolean; defaultProfile?: string; loaded?: (name: string) => boolean };
  /** process.arch of the host ('x64' or 'arm64'), for the seccomp architectures. */
  arch?: string;
  /** Whether cgroup v2 controls the container (unified limits are only valid there). */
  cgroupV2?: boolean;
  /** Whether the hugetlb controller exists; hugepage limits are skipped when it does not. */
  hugetlb?: boolean;
  /** Pod pids limit from the runtime config; absent = none. */
  pidsLimit?: number;
  /** Give the container its own cgroup namespace (only sensible on cgroup v2). */
  cgroupNamespace?: boolean;
  /** IDs and names recorded as annotations. */
  ids?: { sandboxId: string; containerId?: string; imageName?: string };
  /** Prefixes of CRI annotations that may be passed to the OCI runtime (none by default). */
  annotationAllowlist?: string[];
  /** For the sandbox (pause) spec: its argv. */
  pauseArgs?: string[];
}

export interface ContainerSpecInput {
  container: ContainerConfigInput;
  sandbox: SandboxConfigInput;
  image: ImageConfig;
  /** Contents of the image's /etc/passwd and /etc/group (undefined when absent). */
  passwd?: string;
  group?: string;
  runtime: RuntimeContext;
}

export interface SandboxSpecInput {
  sandbox: SandboxConfigInput;
  image: ImageConfig;
  passwd?: string;
  group?: string;
  runtime: RuntimeContext;
}
