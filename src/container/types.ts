// What container/ records about a container beyond its CRI config (containers.runtime_json).
import type { ContainerConfig__Output } from '../generated/runtime/v1/ContainerConfig.js';
import type { ContainerRow } from '../store/containers.js';

export interface ContainerRuntime {
  handler: string;
  /** <state>/containers/<id>: config.json, conmon files, the rootfs mount point. */
  bundle: string;
  rootfs: string;
  /** <root>/containers/<id>: overlay upper and work dirs, image VOLUME dirs. */
  dataDir: string;
  logPath: string;
  pid?: number;
  conmonPid?: number;
  conmonStartTime?: string;
  /** Signal that stops it (image StopSignal, else SIGTERM). */
  stopSignal: string;
  /** Mounts as ContainerStatus reports them. */
  mounts: { container_path: string; host_path: string; readonly: boolean }[];
  /** Side effects done so far, for crash recovery. */
  done: ContainerStep[];
  /** Resources as last applied (UpdateContainerResources reports them back). */
  resources?: unknown;
  /** Host mount points of the container's image volumes (KEP-4639), unmounted on removal. */
  imageMounts?: string[];
}

export type ContainerStep = 'dirs' | 'rootfs' | 'image-volumes' | 'oci' | 'image';

export type ContainerConfig = ContainerConfig__Output;
export type Container = ContainerRow<ContainerConfig, ContainerRuntime>;
