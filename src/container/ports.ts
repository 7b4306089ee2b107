// What the container domain needs from the mechanisms (oci/, rootfs/, image/, userns/).
import type { DeviceNodeInfo, ImageConfig } from '../spec/types.js';
import type { RuntimeFeatures } from '../oci/features-types.js';

export interface ExitInfo {
  exitCode: number;
  /** Unix nanoseconds, decimal. */
  finishedAt: string;
  oomKilled: boolean;
}

/** What recovery found: still running, exited (conmon recorded it), or lost (no exit was recorded). */
type RecoveredExit =
  | { state: 'running' }
  | { state: 'exited'; exit: ExitInfo }
  | { state: 'lost'; exit: ExitInfo; reason: string; message: string };

export interface CreateOptions {
  id: string;
  bundle: string;
  logPath: string;
  terminal: boolean;
  stdin: boolean;
  stdinOnce: boolean;
}

/** One OCI runtime handler run under conmon (oci/). */
export interface OciPort {
  create(handler: string, o: CreateOptions): Promise<{ pid: number; conmonPid: number; conmonStartTime?: string }>;
  start(handler: string, id: string): Promise<void>;
  /** Sends a signal; a container that is already gone is not an error. */
  kill(handler: string, id: string, signal: string): Promise<void>;
  /** Forcefully deletes the runtime's state; idempotent. */
  delete(handler: string, id: string): Promise<void>;
  /** The runtime's own status of the container; undefined when the runtime does not know it. */
  status(handler: string, id: string): Promise<'creating' | 'created' | 'running' | 'stopped' | 'paused' | undefined>;
  /** The recorded exit, once conmon wrote it. */
  exitOf(id: string): Promise<ExitInfo | undefined>;
  /**
   * IDs of the containers whose exit file conmon has written (one directory read): lets a list check
   * 1,000 running containers for unreported exits without reading 1,000 exit files that do not exist.
   */
  exitsWritten?(): Promise<Set<string>>;
  /** conmon (identified by pid and start time, so a reused pid does not count) still supervises it. */
  alive(conmon: { pid?: number; startTime?: string }): Promise<boolean>;
  /**
   * After a daemon restart: what became of a container it had started (oci/recovery.ts, the one place
   * that decides). `rebooted`: the host rebooted since, so the recorded pids mean nothing.
   */
  recover(id: string, conmon: { pid?: number; startTime?: string }, rebooted: boolean): Promise<RecoveredExit>;
  execSync(handler: string, id: string, process: object, timeoutSeconds: number): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }>;
  reopenLog(id: string, logPath: string): Promise<void>;
  update(handler: string, id: string, resources: object): Promise<void>;
  /** Forgets per-container files (exit file, conmon pid file). */
  cleanup(id: string): Promise<void>;
  /** Called with a container ID whenever conmon reports an exit. */
  onExit(listener: (id: string) => void): void;
  /** cgroupsPath for a container of a pod whose cgroup parent is given. */
  cgroupsPath(podParent: string, id: string): string;
  /** Lowest oom_score_adj crius may give (it cannot go below its own without CAP_SYS_RESOURCE). */
  oomScoreAdjMin(): number;
  /** Whether containers' cgroups are cgroup v2 (unified limits) on this host. */
  cgroupV2(): boolean;
  /** AppArmor as the spec builder needs it (absent: not used). */
  apparmor?(): { enabled: boolean; defaultProfile?: string; loaded?: (name: string) => boolean };
}

export interface ResolvedImageLike {
  id: string;
  config: ImageConfig;
  layerDirs: string[];
}

export interface ImagePort {
  resolve(ref: string): ResolvedImageLike;
  markInUse(imageId: string, containerId: string): void;
  release(containerId: string, imageId?: string): void;
  /**
   * A file of the image as the container sees it (top layer first), e.g. "etc/passwd"; undefined when
   * absent or not a regular file; FAILED_PRECONDITION when larger than crius reads (image/image-file.ts).
   */
  readFile(layerDirs: string[], path: string): Promise<string | undefined>;
}

export interface RootfsPort {
  mount(o: { layers: string[]; upperDir: string; workDir: string; target: string; userns?: { file: string; uid: { containerId: number; hostId: number; length: number }; gid: { containerId: number; hostId: number; length: number } } }): Promise<void>;
  unmount(target: string): Promise<void>;
  /** Fills a new image VOLUME dir from the mounted rootfs (see rootfs/image-volume.ts). */
  copyImageVolume(o: { rootfs: string; containerPath: string; target: string; emptyOwner: { uid: number; gid: number } }): Promise<'copied' | 'empty'>;
  /** The host path of `path` inside the mounted tree `root`, symlinks followed within it; undefined if absent. */
  resolveIn(root: string, path: string): Promise<string | undefined>;
}

export interface HandlerPort {
  /** The handler's binary, version and parsed `features`. */
  info(handler: string): Promise<{ name: string; path: string; version?: string; features?: RuntimeFeatures; reason?: string }>;
}

export interface VolumeProbePort {
  /** Throws FAILED_PRECONDITION naming the volume, fs and kernel when hostPath cannot be idmapped. */
  checkVolume(v: { containerPath: string; hostPath: string }): Promise<void>;
}


/** Host device nodes (oci/host-devices.ts): for CRI `devices` and privileged containers' full /dev. */
export interface DevicePort {
  /** The device node at a host path, or undefined when the path is not a character or block device. */
  node(hostPath: string): Promise<DeviceNodeInfo | undefined>;
  /** Every device node under the host's /dev, by path. */
  all(): Promise<Record<string, DeviceNodeInfo>>;
}
