// Container lifecycle: create (rootfs + spec + conmon/runtime create), start, stop, remove, status, exec
// sync, log reopen. Like pods, every side effect is recorded in the store first so recover() can finish
// or undo what a crash interrupted; conmon supervises each container, so containers outlive the daemon.
import { join } from 'node:path';
import { mkdir, readFile, readlink, rm, chown, chmod } from 'node:fs/promises';
import { CriusError, failedPrecondition, invalidArgument, notFound, wrap } from '../common/errors.js';
import { newContainerId, type ContainerId } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import type { ContainerStore } from '../store/containers.js';
import { hostRoot, parseUserNamespace, sameUserns } from '../userns/mapping-rules.js';
import { buildContainerSpec } from '../spec/build.js';
import { handlerCapabilities } from '../spec/idmap-check.js';
import { processHostIds } from '../spec/userns.js';
import { cleanContainerPath, cleanImageSubPath, imageVolumesToCreate } from '../spec/mounts.js';
import type { Spec } from '../spec/oci-types.js';
import type { SandboxConfigInput } from '../spec/types.js';
import type { Pod } from '../pod/types.js';
import { nowNanos } from '../pod/sandbox-service.js';
import type { DevicePort, HandlerPort, ImagePort, OciPort, ResolvedImageLike, RootfsPort, VolumeProbePort } from './ports.js';
import { checkedSpec, createInRuntime } from './runtime-create.js';
import { containerLockKey, podLockKey, type KeyedLock } from '../common/keyed-lock.js';
import { CreateHandoff } from '../common/create-handoff.js';
import { prepareLogFile, splitLogPath } from './log-file.js';
import type { DeviceNodeInfo } from '../spec/types.js';
import type { Container, ContainerConfig, ContainerRuntime, ContainerStep } from './types.js';
import { StepTimer } from '../common/step-timer.js';
import type { ContainerEventType, EventSink } from './events.js';
import { ociResourcesFromCri, type CriLinuxResources } from './update-resources.js';
import { parseProcStatusUser, userFromSpec, userInContainer, type LinuxUser } from './process-user.js';

interface ContainerServiceDeps {
  containers: ContainerStore<ContainerConfig, ContainerRuntime>;
  /** Finds a pod by ID (throws NOT_FOUND). */
  pod(id: string): Pod;
  stateDir: string;
  rootDir: string;
  oci: OciPort;
  images: ImagePort;
  rootfs: RootfsPort;
  handlers: HandlerPort;
  volumes: VolumeProbePort;
  devices: DevicePort;
  /** [limits] max_seccomp_profile_bytes: the largest Localhost seccomp profile read. */
  seccompProfileBytes?: number;
  /** Capabilities crius itself holds: privileged and ALL grant these, never more (capset would fail). */
  ownCapabilities: string[];
  logger: Logger;
  /** Lifecycle events for GetContainerEvents; emitting never blocks (see events.ts). */
  events?: EventSink;
  /** The daemon's per-object locks, shared with pod/ (lock order: pod, then container). */
  locks: KeyedLock;
  /** How long a container whose CreateContainer caller left waits for the kubelet's retry (default 2 min). */
  orphanGraceMs?: number;
}

/** One CreateContainer under way: what its steps share. */
interface CreateJob {
  pod: Pod;
  id: ContainerId;
  name: string;
  attempt: number;
  /** `create container "<name>" in pod "<ns>/<name>"`: the context of every error. */
  what: string;
  config: ContainerConfig;
  sandboxConfig: SandboxConfigInput | null;
  image: ResolvedImageLike;
  imageRef: string;
  timer: StepTimer;
}

/** Where a new container's files go. */
interface CreateLayout {
  /** <state>/containers/<id>: config.json, conmon's files, the rootfs mount point. */
  bundle: string;
  rootfs: string;
  /** <root>/containers/<id>: overlay upper and work dirs, volumes. */
  dataDir: string;
  /** The pod's log_directory ('' when it has none) and log_path's parts within it. */
  logDir: string;
  logParts: string[];
  logPath: string;
}

/** An image mounted as a volume (KEP-4639). */
interface ImageMount { dest: string; ref: string; id: string; layers: string[]; target: string; sub: string }

interface MountPlan {
  criMounts: NonNullable<ContainerConfig['mounts']>;
  imageMounts: ImageMount[];
  /** Image VOLUME path in the container -> its host directory. */
  imageVolumeDirs: Record<string, string>;
}

type ExitReason = 'Completed' | 'Error' | 'OOMKilled';

function exitReason(exitCode: number, oomKilled: boolean): ExitReason {
  if (oomKilled) return 'OOMKilled';
  return exitCode === 0 ? 'Completed' : 'Error';
}


export class ContainerService {
  /** Waiters for a container's exit, woken by the oci exit watcher. */
  private readonly exitWaiters = new Map<string, Set<() => void>>();
  /** Names being created, and creates that outlived their caller waiting for its retry. */
  private readonly handoff: CreateHandoff;

  constructor(private readonly d: ContainerServiceDeps) {
    this.handoff = new CreateHandoff({
      graceMs: d.orphanGraceMs ?? 120_000,
      exists: (id) => this.d.containers.get(id) !== undefined,
      abandon: async (id) => {
        d.logger.warn('removing a container whose CreateContainer caller left and never retried', { container_id: id });
        await this.remove(id).catch((err: unknown) => d.logger.error('removing an abandoned container failed', { container_id: id, error: (err as Error).message }));
      },
    });
    d.oci.onExit((id) => {
      void this.refresh(id).finally(() => {
        for (const w of this.exitWaiters.get(id) ?? []) w();
      });
    });
  }

  private emit(c: { id: string; podId: string }, type: ContainerEventType): void {
    this.d.events?.emit({ containerId: c.id, podId: c.podId, type, at: nowNanos() });
  }

  get(id: string): Container {
    if (!id) throw invalidArgument('container_id is empty');
    const found = this.d.containers.find(id);
    if (found.length === 1) return found[0]!;
    if (found.length > 1) throw invalidArgument(`container ID prefix "${id}" is ambiguous`);
    throw notFound(`container "${id}" not found`);
  }

  tryGet(id: string): Container | undefined {
    try {
      return this.get(id);
    } catch (err) {
      if (err instanceof CriusError && err.code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  /** Lists containers, first recording any exits conmon reported that the watcher has not delivered. */
  async list(podId?: string): Promise<Container[]> {
    const rows = this.d.containers.list(podId).filter((c) => c.state !== 'creating');
    let running = rows.filter((c) => c.state === 'running');
    // Only those with an exit file can have an unreported exit (one readdir instead of a read per container).
    const written = running.length > 0 ? await this.d.oci.exitsWritten?.() : undefined;
    if (written) running = running.filter((c) => written.has(c.id));
    if (running.length === 0) return rows;
    await Promise.all(running.map((c) => this.refresh(c.id)));
    return this.d.containers.list(podId).filter((c) => c.state !== 'creating');
  }

  /**
   * Containers as recorded, without first checking for unreported exits (list() does): for the stats
   * RPCs, polled with many containers, where a just-exited container simply has no cgroup left to read.
   */
  listRecorded(podId?: string): Container[] {
    return this.d.containers.list(podId).filter((c) => c.state !== 'creating');
  }

  async status(id: string): Promise<Container> {
    const c = this.get(id);
    if (c.state === 'running') await this.refresh(c.id);
    return this.get(c.id);
  }

  /** The OCI spec the container was created with (its bundle's config.json); undefined once removed. */
  async runtimeSpec(c: Container): Promise<Spec | undefined> {
    try {
      return JSON.parse(await readFile(join(c.runtime.bundle, 'config.json'), 'utf8')) as Spec;
    } catch {
      return undefined;
    }
  }

  /**
   * The identity the container's init runs as (ContainerStatus.user.linux): from /proc while it runs,
   * else from the spec it was created with; undefined when neither can be read (bundle already gone).
   */
  async processUser(c: Container): Promise<LinuxUser | undefined> {
    if (c.state === 'running' && c.runtime.pid) {
      const text = await readFile(`/proc/${c.runtime.pid}/status`, 'utf8').catch(() => '');
      const host = parseProcStatusUser(text);
      // The pod's mapping: the pod outlives its containers, but a row may still be read mid-removal.
      let userns;
      try {
        userns = this.d.pod(c.podId).runtime.userns;
      } catch {
        userns = undefined;
      }
      if (host && userns) return userInContainer(host, userns);
    }
    const spec = await this.runtimeSpec(c);
    return spec ? userFromSpec(spec.process?.user) : undefined;
  }

  /** Records the exit conmon wrote, if any. */
  async refresh(id: string): Promise<void> {
    const c = this.d.containers.get(id);
    if (!c || (c.state !== 'running' && c.state !== 'created')) return;
    const exit = await this.d.oci.exitOf(id);
    if (!exit) return;
    const reason = exitReason(exit.exitCode, exit.oomKilled);
    if (this.d.containers.setExited(id, { exitCode: exit.exitCode, finishedAt: exit.finishedAt, reason, message: '' })) {
      this.d.logger.info('container exited', { container_id: id, exit_code: exit.exitCode, reason });
      this.emit(c, 'stopped');
    }
  }

  /**
   * Runs fn on the container holding its pod's lock shared and its own exclusive (lock order: pod, then
   * container). `missing` answers when the container does not exist, before or after the wait.
   */
  private async locked<T>(id: string, missing: () => T, fn: (c: Container) => Promise<T>): Promise<T> {
    const first = this.tryGet(id);
    if (!first) return missing();
    return this.d.locks.shared(podLockKey(first.podId), () => this.d.locks.exclusive(containerLockKey(first.id), async () => {
      const c = this.d.containers.get(first.id);
      return c ? fn(c) : missing();
    }));
  }

  /**
   * CreateContainer. The name (pod, name, attempt) is reserved first; a create whose caller left (the
   * kubelet's deadline) finishes and is handed to the retry with the same name (common/create-handoff.ts).
   * The pod's lock is held shared throughout, so RemovePodSandbox waits for the create instead of undoing
   * a container under it.
   */
  async create(podId: string, config: ContainerConfig, sandboxConfig: SandboxConfigInput | null, signal?: AbortSignal): Promise<Container> {
    const pod0 = this.d.pod(podId);
    const name = config.metadata?.name;
    if (!name) throw invalidArgument('config.metadata.name is empty');
    const attempt = config.metadata?.attempt ?? 0;
    const what = `create container "${name}" in pod "${pod0.namespace}/${pod0.name}"`;
    const id = await this.handoff.run(`${pod0.id}/${name}/${attempt}`, `${what} (attempt ${attempt})`, signal, () =>
      this.d.locks.shared(podLockKey(pod0.id), async () => (await this.createLocked(pod0.id, name, attempt, what, config, sandboxConfig)).id));
    return this.get(id);
  }

  private async createLocked(podId: string, name: string, attempt: number, what: string, config: ContainerConfig, sandboxConfig: SandboxConfigInput | null): Promise<Container> {
    const timer = new StepTimer();
    const { pod, image, imageRef } = this.checkCreate(podId, name, attempt, what, config);
    const id = newContainerId();
    const job: CreateJob = { pod, id, name, attempt, what, config, sandboxConfig, image, imageRef, timer };
    return this.d.locks.exclusive(containerLockKey(id), () => this.createSteps(job));
  }

  /**
   * What must hold before anything is made, checked again under the pod's lock (the pod may have been
   * stopped or removed while this call waited): a ready pod, an image, a user namespace matching the
   * pod's, a free name. Returns the pod and the resolved image.
   */
  private checkCreate(podId: string, name: string, attempt: number, what: string, config: ContainerConfig): { pod: Pod; image: ResolvedImageLike; imageRef: string } {
    const pod = this.d.pod(podId);
    if (pod.state !== 'ready') throw failedPrecondition(`${what}: the pod is not ready (state ${pod.state}); run a new pod`);
    const imageRef = config.image?.image;
    if (!imageRef) throw invalidArgument(`${what}: config.image.image is empty`);
    const containerUserns = parseUserNamespace(config.linux?.security_context?.namespace_options?.userns_options, 'config.linux.security_context.namespace_options.userns_options');
    try {
      sameUserns(pod.runtime.userns, containerUserns);
    } catch (err) {
      throw wrap(what, err);
    }
    const existing = this.d.containers.byName(pod.id, name, attempt);
    if (existing) throw new CriusError('ALREADY_EXISTS', `${what}: a container with this name and attempt ${attempt} already exists (${existing.id})`);
    try {
      return { pod, image: this.d.images.resolve(imageRef), imageRef };
    } catch (err) {
      throw wrap(what, err);
    }
  }

  /**
   * The create itself, holding the new container's lock: plan and spec first (nothing exists yet, a
   * refusal leaves nothing behind), then the row, then each side effect recorded in the step journal
   * before it happens; any failure undoes exactly what the journal says exists.
   */
  private async createSteps(job: CreateJob): Promise<Container> {
    const { pod, id, name, what } = job;
    const layout = await this.createLayout(job);
    const mounts = this.planMounts(job, layout);
    let spec: Spec;
    try {
      spec = await this.containerSpec(job, layout, mounts);
    } catch (err) {
      throw wrap(what, err);
    }
    const { row, journal } = this.recordCreating(job, layout, mounts);
    const runtime = row.runtime;
    try {
      journal.step('image');
      this.d.images.markInUse(job.image.id, id);
      // RemoveImage refuses an image a container mounts as a volume, as one it runs.
      for (const m of mounts.imageMounts) this.d.images.markInUse(m.id, id);
      journal.step('dirs');
      await this.makeDirs(layout);
      journal.step('rootfs');
      await this.d.rootfs.mount({
        layers: job.image.layerDirs,
        upperDir: join(layout.dataDir, 'upper'),
        workDir: join(layout.dataDir, 'work'),
        target: layout.rootfs,
        userns: this.podIdmap(pod),
      });
      if (mounts.imageMounts.length > 0) {
        journal.step('image-volumes');
        await this.mountImageVolumes(job, runtime, mounts.imageMounts, spec);
      }
      await this.fillImageVolumes(job, layout, mounts.imageVolumeDirs);
      // The pod's root must reach its rootfs through the bundle (0711 parents: docs/ARCHITECTURE.md,
      // "User namespaces and the state dir").
      await chmod(layout.bundle, 0o711);
      journal.step('oci');
      const created = await createInRuntime(this.d.oci, pod.handler, spec, {
        id, bundle: layout.bundle, logPath: layout.logPath, terminal: job.config.tty ?? false, stdin: job.config.stdin ?? false, stdinOnce: job.config.stdin_once ?? false,
      });
      runtime.pid = created.pid;
      await this.chownStdio(created.pid, processHostIds(spec, pod.runtime.userns.kind === 'pod' ? pod.runtime.userns : null));
      runtime.conmonPid = created.conmonPid;
      runtime.conmonStartTime = created.conmonStartTime;
      this.d.containers.setCreated(id, runtime);
      journal.end();
      this.d.logger.debug('container create steps', { container_id: id, ...job.timer.fields() });
      this.d.logger.info('container created', { container: name, container_id: id, pod_id: pod.id, handler: pod.handler, userns: pod.runtime.userns.kind === 'pod' ? 'pod' : 'host' });
      this.emit(row, 'created');
      return this.get(id);
    } catch (err) {
      // This call holds the container's lock, so nothing else undoes it meanwhile: the row is still there
      // (the local copy covers a row that vanished anyway, so the mounts and dirs are never left behind).
      const cur = this.d.containers.get(id) ?? { ...row, runtime };
      await this.undo(cur).catch((e: unknown) => this.d.logger.error('undo of container failed', { container_id: id, error: (e as Error).message }));
      throw wrap(what, err);
    }
  }

  /** Where the container's files go: bundle and rootfs (state dir), data dir (root dir), log file. */
  private async createLayout(job: CreateJob): Promise<CreateLayout> {
    const { pod, id, name, config, what } = job;
    const bundle = join(this.d.stateDir, 'containers', id);
    // The pod's own log_directory (checked by RunPodSandbox) wins over the copy CreateContainer carries.
    const logDir = pod.config.log_directory || (job.sandboxConfig as { log_directory?: string } | null)?.log_directory || '';
    // log_path is relative to log_directory (CRI); without a directory there is nothing it is relative
    // to, so the log stays in the bundle (containerd ignores log_path then too).
    const logParts = logDir && config.log_path ? splitLogPath(config.log_path, 'config.log_path') : [];
    if (config.log_path && !logDir) this.d.logger.warn('log_path given without a pod log_directory; logging to the bundle', { container: name, pod_id: pod.id });
    const logPath = logParts.length > 0 ? await prepareLogFile(logDir, logParts, 'config.log_path', false).catch((err: unknown) => { throw wrap(what, err); }) : join(bundle, 'container.log');
    return { bundle, rootfs: join(bundle, 'rootfs'), dataDir: join(this.d.rootDir, 'containers', id), logDir, logParts, logPath };
  }

  /**
   * The container's CRI mounts, its image volumes (KEP-4639: the kubelet pulled each image already, one
   * it did not is NOT_FOUND) and the image's own VOLUMEs, with the host directories each will use.
   */
  private planMounts(job: CreateJob, layout: CreateLayout): MountPlan {
    const { what } = job;
    const criMounts = (job.config.mounts ?? []).map((m) => ({ ...m }));
    const imageMounts: ImageMount[] = [];
    for (const m of criMounts) {
      const ref = m.image?.image;
      if (!ref) continue;
      const dest = cleanContainerPath(m.container_path, `${what}: mount`);
      let img;
      try {
        img = this.d.images.resolve(ref);
      } catch (err) {
        throw wrap(`${what}: image volume at "${dest}"`, err);
      }
      const i = imageMounts.length;
      imageMounts.push({ dest, ref, id: img.id, layers: img.layerDirs, target: join(layout.dataDir, 'image-volumes', String(i), 'mnt'), sub: cleanImageSubPath(m.image_sub_path, `${what}: image volume "${ref}" at "${dest}"`) });
    }
    const imageVolumeDirs: Record<string, string> = {};
    imageVolumesToCreate(job.image.config, criMounts).forEach((dest, i) => { imageVolumeDirs[dest] = join(layout.dataDir, 'volumes', String(i)); });
    return { criMounts, imageMounts, imageVolumeDirs };
  }

  /**
   * The spec, built (pure) and checked BEFORE anything exists (container/runtime-create.ts): a runtime
   * that would silently ignore idmapped mounts, or a volume whose filesystem cannot be idmapped, fails
   * the call with nothing to undo.
   */
  private async containerSpec(job: CreateJob, layout: CreateLayout, mounts: MountPlan): Promise<Spec> {
    const { pod, id, name, config } = job;
    const handlerInfo = await this.d.handlers.info(pod.handler);
    const [passwd, group] = await Promise.all([
      this.d.images.readFile(job.image.layerDirs, 'etc/passwd'),
      this.d.images.readFile(job.image.layerDirs, 'etc/group'),
    ]);
    const privileged = config.linux?.security_context?.privileged === true;
    const deviceNodes = privileged ? {} : await this.deviceNodes(config.devices ?? []);
    const hostDevices = privileged ? await this.d.devices.all() : undefined;
    const cgroupV2 = this.d.oci.cgroupV2();
    return checkedSpec({
      seccomp: config.linux?.security_context?.seccomp,
      seccompField: 'config.linux.security_context.seccomp.localhost_ref',
      seccompProfileBytes: this.d.seccompProfileBytes,
      handler: handlerInfo,
      volumes: this.d.volumes,
      warn: (w) => this.d.logger.warn(w, { container: name, pod_id: pod.id }),
      build: (seccompLocalhost) => buildContainerSpec({
        container: config,
        // The pod's own recorded config, never the request's copy: a client must not make a container
        // privileged (or change its namespaces) by claiming a privileged sandbox it does not have, as
        // containerd reads the sandbox's stored config.
        sandbox: pod.config,
        image: job.image.config,
        passwd, group,
        runtime: {
          rootfs: layout.rootfs,
          namespaces: pod.runtime.namespaces,
          netnsOwnedByUserns: pod.runtime.netnsOwnedByUserns,
          cgroupsPath: this.d.oci.cgroupsPath(pod.runtime.cgroupParent, id),
          sandboxFiles: pod.runtime.files,
          userns: pod.runtime.userns.kind === 'pod' ? pod.runtime.userns : null,
          // Build the spec the pod needs (idmapped binds); checkedSpec then refuses, naming the handler,
          // binary, version and fix, if this handler cannot deliver it.
          handler: { ...handlerCapabilities(pod.handler, handlerInfo.features), idmapBind: true },
          oomScoreAdjMin: this.d.oci.oomScoreAdjMin(),
          imageVolumeDirs: mounts.imageVolumeDirs,
          imageMountDirs: Object.fromEntries(mounts.imageMounts.map((m) => [m.dest, m.target])),
          ...(pod.runtime.hostname ? { podHostname: pod.runtime.hostname } : {}),
          ids: { sandboxId: pod.id, containerId: id, imageName: job.imageRef },
          cgroupV2,
          // cgroup v2: a private cgroup namespace (as containerd and CRI-O), so the container sees its
          // own cgroup as / and not the node's layout; privileged containers keep the host's.
          cgroupNamespace: cgroupV2 && !privileged,
          arch: process.arch,
          ownCapabilities: this.d.ownCapabilities,
          seccompLocalhost,
          deviceNodes,
          hostDevices,
          ...(this.d.oci.apparmor ? { apparmor: this.d.oci.apparmor() } : {}),
        },
      }),
    });
  }

  /**
   * Inserts the 'creating' row, and returns the step journal: each step is recorded (runtime.done)
   * before its side effect, so an undo, here or by recover() after a crash, takes apart exactly that.
   */
  private recordCreating(job: CreateJob, layout: CreateLayout, mounts: MountPlan): { row: Container; journal: { step(s: ContainerStep): void; end(): void } } {
    const { pod, id, timer } = job;
    const runtime: ContainerRuntime = {
      handler: pod.handler, bundle: layout.bundle, rootfs: layout.rootfs, dataDir: layout.dataDir, logPath: layout.logPath,
      stopSignal: job.image.config.StopSignal || 'SIGTERM',
      mounts: mounts.criMounts.map((m) => ({ container_path: m.container_path, host_path: m.host_path, readonly: m.readonly })),
      done: [],
    };
    const row: Container = {
      id, podId: pod.id, name: job.name, attempt: job.attempt, state: 'creating', imageRef: job.imageRef, imageId: job.image.id, createdAt: String(nowNanos()),
      startedAt: '0', finishedAt: '0', exitCode: 0, reason: '', message: '', config: job.config, runtime,
    };
    timer.lap('spec');
    let current = 'record';
    this.d.containers.insert(row);
    return {
      row,
      journal: {
        step: (s) => {
          timer.lap(current);
          current = s;
          runtime.done.push(s);
          this.d.containers.setRuntime(id, runtime);
        },
        end: () => timer.lap(current),
      },
    };
  }

  private async makeDirs(layout: CreateLayout): Promise<void> {
    await mkdir(layout.bundle, { recursive: true, mode: 0o711 });
    await mkdir(layout.dataDir, { recursive: true, mode: 0o711 });
    if (layout.logDir) {
      await mkdir(layout.logDir, { recursive: true, mode: 0o755 });
      // Again, now creating the parents: nothing may have become a symlink since the first check.
      if (layout.logParts.length > 0) await prepareLogFile(layout.logDir, layout.logParts, 'config.log_path', true);
    }
  }

  /** The pod's user namespace as the rootfs mounts need it (undefined: no user namespace). */
  private podIdmap(pod: Pod): Parameters<RootfsPort['mount']>[0]['userns'] {
    const userns = pod.runtime.userns.kind === 'pod' ? pod.runtime.userns : null;
    return userns && pod.runtime.namespaces.user ? { file: pod.runtime.namespaces.user, uid: userns.uid, gid: userns.gid } : undefined;
  }

  /**
   * Each image volume: the image's layers as an overlay (nothing copied); in a user-namespaced pod
   * through the pod's mapping, like the rootfs, so a file owned by 0 in the image reads as 0 inside. The
   * bind into the container is read-only, so the overlay's upper dir never gets anything. Each mount is
   * recorded before it is made; an image_sub_path is resolved in the mounted image and set in the spec.
   */
  private async mountImageVolumes(job: CreateJob, runtime: ContainerRuntime, imageMounts: ImageMount[], spec: Spec): Promise<void> {
    runtime.imageMounts = [];
    for (const m of imageMounts) {
      runtime.imageMounts.push(m.target);
      this.d.containers.setRuntime(job.id, runtime);
      const base = join(m.target, '..');
      await this.d.rootfs.mount({ layers: m.layers, upperDir: join(base, 'upper'), workDir: join(base, 'work'), target: m.target, userns: this.podIdmap(job.pod) });
      if (m.sub) {
        // Symlinks inside the image are followed within the image, never out to the host's files.
        const resolved = await this.d.rootfs.resolveIn(m.target, m.sub);
        if (resolved === undefined) throw invalidArgument(`image volume "${m.ref}" at "${m.dest}": image_sub_path "${m.sub}" does not exist in the image`);
        const mount = spec.mounts?.find((x) => x.destination === m.dest);
        if (mount) mount.source = resolved;
      }
    }
  }

  /**
   * Image VOLUMEs: filled once, here, from the image as this container sees it; they live in the
   * container's data dir, so they survive daemon restarts and go with RemoveContainer.
   */
  private async fillImageVolumes(job: CreateJob, layout: CreateLayout, imageVolumeDirs: Record<string, string>): Promise<void> {
    for (const [containerPath, target] of Object.entries(imageVolumeDirs)) {
      const how = await this.d.rootfs.copyImageVolume({ rootfs: layout.rootfs, containerPath, target, emptyOwner: hostRoot(job.pod.runtime.userns) });
      this.d.logger.debug('image volume', { container_id: job.id, path: containerPath, content: how });
    }
  }

  /** The host device node of each CRI device; a host_path that is no device is NOT_FOUND naming the field. */
  private async deviceNodes(devices: readonly { host_path?: string | null }[]): Promise<Record<string, DeviceNodeInfo>> {
    const out: Record<string, DeviceNodeInfo> = {};
    for (const [i, d] of devices.entries()) {
      const hostPath = d.host_path ?? '';
      const node = await this.d.devices.node(hostPath);
      if (!node) throw notFound(`config.devices[${i}].host_path: ${JSON.stringify(hostPath)} is not a device node on this host; check the device's host path`);
      out[hostPath] = node;
    }
    return out;
  }

  /**
   * conmon's stdio pipes are owned by host root, which a user namespace does not map: a non-root process
   * could not reopen /dev/stderr (nginx; containerd #10598). Before start, hand the pipes of the
   * container's init to its host uid/gid (chown through /proc/PID/fd follows to the pipe inode).
   */
  private async chownStdio(pid: number, ids: { uid: number; gid: number } | null): Promise<void> {
    if (!ids) return;
    for (const fd of [0, 1, 2]) {
      const link = `/proc/${pid}/fd/${fd}`;
      // Only pipes: fd 0 may be the host's /dev/null and a tty is conmon's; chown would follow to them.
      const target = await readlink(link).catch(() => '');
      if (!target.startsWith('pipe:')) continue;
      await chown(link, ids.uid, ids.gid).catch((err: NodeJS.ErrnoException) => {
        this.d.logger.warn('cannot hand the stdio pipe to the container user', { pid, fd, error: err.message });
      });
    }
  }

  async start(id: string): Promise<void> {
    await this.locked(id, () => { throw notFound(`container "${id}" not found`); }, (c) => this.startLocked(c));
  }

  private async startLocked(c: Container): Promise<void> {
    const what = `start container "${c.name}" (${c.id})`;
    if (c.state !== 'created') throw failedPrecondition(`${what}: it is ${c.state}, only a created container can start`);
    try {
      await this.d.oci.start(c.runtime.handler, c.id);
    } catch (err) {
      throw wrap(what, err);
    }
    // Guarded: an exit the watcher recorded meanwhile (a container that exits at once) stays recorded.
    if (this.d.containers.setRunning(c.id, String(nowNanos()), c.runtime)) this.emit(c, 'started');
    // A container that exits at once may have written its exit file before we marked it running.
    await this.refresh(c.id);
  }

  /** Waits up to ms for the container to be recorded as exited. */
  private async waitExit(id: string, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      await this.refresh(id);
      const c = this.d.containers.get(id);
      if (!c || c.state === 'exited') return true;
      await new Promise<void>((resolve) => {
        const set = this.exitWaiters.get(id) ?? new Set();
        const wake = (): void => { set.delete(wake); resolve(); };
        set.add(wake);
        this.exitWaiters.set(id, set);
        setTimeout(wake, Math.min(100, Math.max(1, end - Date.now())));
      });
    }
    await this.refresh(id);
    return this.d.containers.get(id)?.state !== 'running';
  }

  /** StopContainer: the stop signal, then SIGKILL after timeoutSeconds. Idempotent; unknown IDs are fine. */
  async stop(id: string, timeoutSeconds: number): Promise<void> {
    await this.locked(id, () => undefined, (c) => this.stopLocked(c, timeoutSeconds));
  }

  private async stopLocked(c: Container, timeoutSeconds: number): Promise<void> {
    await this.refresh(c.id);
    const cur = this.get(c.id);
    if (cur.state === 'created') {
      // Never started: there is no process to signal beyond the runtime's init; kill it and record the exit.
      await this.d.oci.kill(cur.runtime.handler, cur.id, 'SIGKILL');
      await this.waitExit(cur.id, 5000);
      return;
    }
    if (cur.state !== 'running') return;
    if (timeoutSeconds > 0) {
      await this.d.oci.kill(cur.runtime.handler, cur.id, cur.runtime.stopSignal);
      if (await this.waitExit(cur.id, timeoutSeconds * 1000)) return;
    }
    await this.d.oci.kill(cur.runtime.handler, cur.id, 'SIGKILL');
    if (!(await this.waitExit(cur.id, 10_000))) {
      throw new CriusError('DEADLINE_EXCEEDED', `stop container "${cur.name}" (${cur.id}): still running 10 s after SIGKILL`);
    }
  }

  /** RemoveContainer: stops it if needed and removes everything it had. Unknown IDs are fine. */
  async remove(id: string): Promise<void> {
    await this.locked(id, () => undefined, (c) => this.removeLocked(c));
  }

  private async removeLocked(c: Container): Promise<void> {
    const timer = new StepTimer();
    if (c.state === 'running' || c.state === 'created') await this.stopLocked(c, 0);
    timer.lap('stop');
    await this.undo(this.get(c.id), timer);
    this.d.logger.debug('container remove steps', { container_id: c.id, ...timer.fields() });
  }

  private async undo(c: Container, timer = new StepTimer()): Promise<void> {
    const done = new Set(c.runtime.done);
    if (done.has('oci')) {
      await this.d.oci.delete(c.runtime.handler, c.id);
      timer.lap('oci_delete');
      await this.d.oci.cleanup(c.id);
    }
    for (const target of c.runtime.imageMounts ?? []) await this.d.rootfs.unmount(target);
    if (done.has('rootfs')) await this.d.rootfs.unmount(c.runtime.rootfs);
    timer.lap('rootfs');
    if (done.has('dirs')) {
      await rm(c.runtime.bundle, { recursive: true, force: true });
      await rm(c.runtime.dataDir, { recursive: true, force: true });
    }
    timer.lap('dirs');
    if (done.has('image')) this.d.images.release(c.id);
    this.d.containers.delete(c.id);
    this.exitWaiters.delete(c.id);
    // Only containers a 'created' event announced get a 'deleted' one (not half-created ones undone).
    if (c.state !== 'creating') this.emit(c, 'deleted');
  }

  /** For StopPodSandbox, which holds the pod's lock exclusive already: takes each container's lock only. */
  async stopAll(podId: string, timeoutSeconds: number): Promise<void> {
    await Promise.all(this.d.containers.list(podId).map((c) => this.d.locks.exclusive(containerLockKey(c.id), async () => {
      const cur = this.d.containers.get(c.id);
      if (cur) await this.stopLocked(cur, timeoutSeconds);
    })));
  }

  /** For RemovePodSandbox (pod lock held exclusive): no create of this pod is in flight, none starts. */
  async removeAll(podId: string): Promise<void> {
    for (const c of this.d.containers.list(podId)) {
      await this.d.locks.exclusive(containerLockKey(c.id), async () => {
        const cur = this.d.containers.get(c.id);
        if (cur) await this.removeLocked(cur);
      });
    }
  }

  /** The container's own OCI process (user, env, cwd, capabilities...) with other args, for exec. */
  async processFor(id: string, cmd: string[], tty: boolean): Promise<Record<string, unknown>> {
    // Under the container's lock: the check that it runs and the read of its bundle see one state, not a
    // remove half done. The exec itself runs unlocked (a StopContainer must not wait for an exec).
    return this.locked(id, () => { throw notFound(`container "${id}" not found`); }, (c) => this.processOf(c, cmd, tty));
  }

  private async processOf(c: Container, cmd: string[], tty: boolean): Promise<Record<string, unknown>> {
    if (c.state !== 'running') throw failedPrecondition(`container "${c.name}" (${c.id}) is ${c.state}, not running`);
    const spec = JSON.parse(await readFile(join(c.runtime.bundle, 'config.json'), 'utf8')) as Spec;
    return { ...spec.process, args: cmd, terminal: tty };
  }

  async execSync(id: string, cmd: string[], timeoutSeconds: number): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> {
    if (cmd.length === 0) throw invalidArgument('ExecSync: cmd is empty');
    const c = this.get(id);
    const proc = await this.processFor(c.id, cmd, false);
    return this.d.oci.execSync(c.runtime.handler, c.id, proc, timeoutSeconds);
  }

  /**
   * UpdateContainerResources: applies CPU and memory limits to a created or running container through
   * the runtime's `update`, then records them (CRI form) so ContainerStatus reports them.
   */
  async updateResources(id: string, resources: CriLinuxResources): Promise<void> {
    await this.locked(id, () => { throw notFound(`container "${id}" not found`); }, (c) => this.updateLocked(c, resources));
  }

  private async updateLocked(c: Container, resources: CriLinuxResources): Promise<void> {
    const what = `update resources of container "${c.name}" (${c.id})`;
    if (c.state !== 'running' && c.state !== 'created') throw failedPrecondition(`${what}: it is ${c.state}; only a created or running container has a cgroup to update`);
    let oci;
    try {
      oci = ociResourcesFromCri(resources, { cgroupV2: this.d.oci.cgroupV2() });
    } catch (err) {
      throw wrap(what, err);
    }
    try {
      await this.d.oci.update(c.runtime.handler, c.id, oci.resources);
    } catch (err) {
      throw wrap(what, err);
    }
    for (const w of oci.warnings) this.d.logger.warn(w, { container_id: c.id });
    const runtime = { ...this.get(c.id).runtime, resources: { ...resources } };
    this.d.containers.setRuntime(c.id, runtime);
  }

  async reopenLog(id: string): Promise<void> {
    const c = this.get(id);
    if (c.state !== 'running') throw failedPrecondition(`container "${c.name}" (${c.id}) is not running; its log cannot be reopened`);
    await this.d.oci.reopenLog(c.id, c.runtime.logPath);
  }

  /**
   * Start-up reconciliation (RPCs wait for it): containers half-created by a crash are undone;
   * created or running ones get what oci/recovery.ts decides: still running, the exit conmon recorded,
   * or lost (exit 255: conmon died without recording one, or the node rebooted).
   */
  async recover(o: { rebooted: boolean } = { rebooted: false }): Promise<void> {
    for (const c of this.d.containers.list()) {
      try {
        if (c.state === 'creating') {
          this.d.logger.warn('undoing a container left half-created by a crash', { container_id: c.id, done: c.runtime.done });
          await this.undo(c);
          continue;
        }
        if (c.state !== 'running' && c.state !== 'created') continue;
        const r = await this.d.oci.recover(c.id, { pid: c.runtime.conmonPid, startTime: c.runtime.conmonStartTime }, o.rebooted);
        if (r.state === 'exited') {
          await this.refresh(c.id);
        } else if (r.state === 'lost') {
          if (this.d.containers.setExited(c.id, { exitCode: r.exit.exitCode, finishedAt: r.exit.finishedAt, reason: r.reason, message: r.message })) {
            this.d.logger.warn('container lost while the daemon was down', { container_id: c.id, exit_code: r.exit.exitCode, reason: r.reason });
            this.emit(c, 'stopped');
          }
        } else if (c.state === 'created') {
          // A crash between the runtime's start and the store update leaves a started container recorded
          // as created: the kubelet would see CREATED and its StartContainer would fail. The runtime
          // knows better. The start time is only known to be within the downtime: record the recovery.
          const status = await this.d.oci.status(c.runtime.handler, c.id);
          if (status === 'running' || status === 'paused' || status === 'stopped') {
            this.d.logger.warn('container was started before a crash but recorded as created; recording it as running', { container_id: c.id, runtime_status: status });
            if (this.d.containers.setRunning(c.id, String(nowNanos()), c.runtime)) this.emit(c, 'started');
            await this.refresh(c.id);
          }
        }
      } catch (err) {
        this.d.logger.error('container recovery failed', { container_id: c.id, error: (err as Error).message });
      }
    }
  }
}
