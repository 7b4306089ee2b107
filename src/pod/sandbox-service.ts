// Pod sandbox lifecycle: RunPodSandbox, StopPodSandbox, RemovePodSandbox, status and list. A sandbox here
// is pinned namespaces + per-pod files + CNI; no long-lived process is needed (an infra process would
// only be needed to hold a shared PID namespace). Every side effect is recorded in the store before it
// happens, so a crash at any point can be undone by recover().
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { alreadyExists, CriusError, failedPrecondition, invalidArgument, notFound, wrap } from '../common/errors.js';
import { TRAVERSAL_FIX } from '../userns/path-traversal.js';
import { newPodId, type PodId } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import type { PodStore } from '../store/pods.js';
import { checkHostNamespacesWithUserns, hostRoot, parseUserNamespace } from '../userns/mapping-rules.js';
import { hostnameFromPodName, writeSandboxFiles, updateHosts } from './sandbox-files.js';
import type { CgroupPort, InfraPort, NamespacePort, NetworkPort, PodContainers, PortMapping, ShmPort } from './ports.js';
import type { Pod, PodConfig, PodRuntime, SandboxStep } from './types.js';
import { StepTimer } from '../common/step-timer.js';
import { podLockKey, type KeyedLock } from '../common/keyed-lock.js';
import { CreateHandoff } from '../common/create-handoff.js';
import type { ContainerEventType, EventSink } from '../container/events.js';

import type { IdRange } from '../userns/mapping-rules.js';

/**
 * Pod annotation asking the daemon to choose the pod's host ID range (standalone `crius run`, where no
 * kubelet allocates one). Why an annotation on RunPodSandbox rather than a separate local API: the range
 * must be taken atomically with the pod's creation and freed with its removal, and the daemon already
 * owns both the allocator's store and the pod lifecycle; an annotation keeps the CLI a plain CRI client.
 * The kubelet never sets it: its own allocator fills userns_options (KEP-127).
 */
const USERNS_AUTO_ANNOTATION = 'io.crius.userns/auto';

/** The daemon's host ID range allocator (src/userns/range-allocator.ts), owner = pod ID. */
interface PodRanges {
  allocate(owner: string): IdRange;
  release(owner: string): boolean;
  releaseAllExcept(live: ReadonlySet<string>): string[];
}

interface SandboxServiceDeps {
  pods: PodStore<PodConfig, PodRuntime>;
  stateDir: string;
  /** The configured handler's name for a requested one ('' means the default); NOT_FOUND when none is. */
  resolveHandler(name: string): string;
  namespaces: NamespacePort;
  network: NetworkPort;
  shm: ShmPort;
  cgroups: CgroupPort;
  containers: PodContainers;
  infra: InfraPort;
  logger: Logger;
  now?: () => bigint;
  /** Host ID ranges for pods annotated io.crius.userns/auto; absent = the annotation is refused. */
  ranges?: PodRanges;
  /** The daemon's per-object locks, shared with container/ (lock order: pod, then container). */
  locks: KeyedLock;
  /** How long a pod whose RunPodSandbox caller left waits for the kubelet's retry (default 2 min). */
  orphanGraceMs?: number;
  /** The node's hostname, which host-network pods have (default: os.hostname()). */
  nodeHostname?: () => string;
  /** Sandbox lifecycle events for GetContainerEvents (container_id = the pod's ID). */
  events?: EventSink;
  /**
   * Why a user-namespaced pod whose root is host uid/gid could not reach root filesystems under the state
   * dir (a directory on the way it cannot search), or null. Asked before anything is set up, so the pod is
   * refused with the directory named instead of failing inside the runtime. Absent: not checked.
   */
  rootfsUnreachable?: (hostUid: number, hostGid: number) => string | null;
}

const DEFAULT_SHM_BYTES = 64 * 1024 * 1024;

export function nowNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor((performance.now() % 1) * 1e6));
}

function hostNamespaceModes(config: PodConfig): { network: boolean; pid: boolean; ipc: boolean } {
  const ns = config.linux?.security_context?.namespace_options;
  return { network: ns?.network === 'NODE', pid: ns?.pid === 'NODE', ipc: ns?.ipc === 'NODE' };
}

function portMappings(config: PodConfig): PortMapping[] {
  const out: PortMapping[] = [];
  for (const p of config.port_mappings ?? []) {
    if (!p.host_port || p.host_port <= 0) continue;
    const protocol = p.protocol === 'UDP' ? 'udp' : p.protocol === 'SCTP' ? 'sctp' : 'tcp';
    if (p.container_port <= 0 || p.container_port > 65535 || p.host_port > 65535) {
      throw invalidArgument(`port_mappings: container_port ${p.container_port} / host_port ${p.host_port} must be within 1..65535`);
    }
    out.push({ protocol, containerPort: p.container_port, hostPort: p.host_port, hostIp: p.host_ip ?? '' });
  }
  return out;
}

/** What RunPodSandbox decided from the request before anything exists. */
interface RunPlan {
  /** The config as recorded (with an io.crius.userns/auto range filled in). */
  config: PodConfig;
  userns: ReturnType<typeof parseUserNamespace>;
  hostNs: ReturnType<typeof hostNamespaceModes>;
  ports: PortMapping[];
  /** The pod's own hostname, or the node's for a host-network pod. */
  hostname: string;
}

export class SandboxService {
  /** Pod names being run, and runs that outlived their caller waiting for its retry. */
  private readonly handoff: CreateHandoff;

  constructor(private readonly d: SandboxServiceDeps) {
    this.handoff = new CreateHandoff({
      graceMs: d.orphanGraceMs ?? 120_000,
      exists: (id) => this.d.pods.get(id) !== undefined,
      abandon: async (id) => {
        d.logger.warn('removing a pod whose RunPodSandbox caller left and never retried', { pod_id: id });
        await this.stop(id).then(() => this.remove(id)).catch((err: unknown) => d.logger.error('removing an abandoned pod failed', { pod_id: id, error: (err as Error).message }));
      },
    });
  }

  /** Runs fn holding the pod's lock exclusive; `missing` answers when the pod does not exist. */
  private async locked<T>(id: string, missing: () => T, fn: (p: Pod) => Promise<T>): Promise<T> {
    const first = this.tryGet(id);
    if (!first) return missing();
    return this.d.locks.exclusive(podLockKey(first.id), async () => {
      const p = this.d.pods.get(first.id);
      return p ? fn(p) : missing();
    });
  }

  private now(): string {
    return String((this.d.now ?? nowNanos)());
  }

  get(id: string): Pod {
    if (!id) throw invalidArgument('pod_sandbox_id is empty');
    const found = this.d.pods.find(id);
    if (found.length === 1) return found[0]!;
    if (found.length > 1) throw invalidArgument(`pod sandbox ID prefix "${id}" is ambiguous`);
    throw notFound(`pod sandbox "${id}" not found`);
  }

  tryGet(id: string): Pod | undefined {
    try {
      return this.get(id);
    } catch (err) {
      if (err instanceof CriusError && err.code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  list(): Pod[] {
    return this.d.pods.list().filter((p) => p.state !== 'creating');
  }

  /**
   * RunPodSandbox. The name (namespace, name, uid, attempt) is reserved first; a run whose caller left
   * (the kubelet's deadline) finishes and is handed to the retry with the same name.
   */
  async run(config: PodConfig, handlerName: string, signal?: AbortSignal): Promise<Pod> {
    const meta = config.metadata;
    if (!meta?.name || !meta.namespace || !meta.uid) {
      throw invalidArgument('config.metadata needs name, namespace and uid');
    }
    const what = `run pod "${meta.namespace}/${meta.name}" (uid ${meta.uid}, attempt ${meta.attempt})`;
    const id = await this.handoff.run(`${meta.namespace}/${meta.name}/${meta.uid}/${meta.attempt}`, what, signal, async () => (await this.runReserved(config, handlerName)).id);
    return this.get(id);
  }

  private async runReserved(config: PodConfig, handlerName: string): Promise<Pod> {
    const meta = config.metadata!;
    const podName = `${meta.namespace}/${meta.name}`;
    let handler: string;
    try {
      handler = this.d.resolveHandler(handlerName);
    } catch (err) {
      throw wrap(`run pod "${podName}"`, err);
    }
    const id = newPodId();
    config = this.autoUserns(config, id, podName);
    // Until the pod row exists, a range taken above is freed here on any refusal (recover() would too).
    let plan: RunPlan;
    try {
      plan = this.checkRun(config, podName);
    } catch (err) {
      this.d.ranges?.release(id);
      throw err;
    }
    const pod = this.newPodRecord(id, config, handler, handlerName, plan);
    return this.d.locks.exclusive(podLockKey(id), () => this.runSteps(pod, plan, podName));
  }

  /** Everything RunPodSandbox refuses before anything exists; what the steps need from the config. */
  private checkRun(config: PodConfig, podName: string): RunPlan {
    const meta = config.metadata!;
    const userns = parseUserNamespace(config.linux?.security_context?.namespace_options?.userns_options, 'config.linux.security_context.namespace_options.userns_options');
    const hostNs = hostNamespaceModes(config);
    checkHostNamespacesWithUserns(userns, hostNs, false);
    if (userns.kind === 'pod') {
      const root = hostRoot(userns);
      const why = this.d.rootfsUnreachable?.(root.uid, root.gid);
      if (why) throw failedPrecondition(`run pod "${podName}": its user namespace's root (host uid ${root.uid}) cannot reach the pod's root filesystems: ${why}; ${TRAVERSAL_FIX}`);
    }
    // The handler's idmap support is checked where idmapped mounts are handed to it (CreateContainer and
    // the infra container), with the exact missing feature named: the pod's namespaces need none of it.
    const ports = portMappings(config);
    // A host-network pod shares the node's UTS namespace: its hostname is the node's, everywhere
    // (uname, /etc/hostname, HOSTNAME). Another name could only be half applied (kubelet sends none).
    const node = (this.d.nodeHostname ?? osHostname)();
    if (hostNs.network && config.hostname && config.hostname !== node) {
      throw invalidArgument(`run pod "${podName}": hostname "${config.hostname}" cannot be set in a host-network pod (it has the node's hostname "${node}"); leave hostname empty`);
    }
    const existing = this.d.pods.byName(meta.name, meta.namespace, meta.uid, meta.attempt);
    if (existing) throw alreadyExists(`pod "${podName}" (uid ${meta.uid}, attempt ${meta.attempt}) already exists as ${existing.id}`);
    return { config, userns, hostNs, ports, hostname: hostNs.network ? node : (config.hostname || hostnameFromPodName(meta.name)) };
  }

  private newPodRecord(id: PodId, config: PodConfig, handler: string, requestedHandler: string, plan: RunPlan): Pod {
    const meta = config.metadata!;
    const runtime: PodRuntime = {
      runDir: join(this.d.stateDir, 'pods', id), userns: plan.userns, namespaces: {}, netnsOwnedByUserns: false,
      requestedHandler,
      hostname: plan.hostname,
      cgroupParent: this.d.cgroups.podParent(id, config.linux?.cgroup_parent ?? ''),
      done: [],
    };
    return {
      id, name: meta.name, namespace: meta.namespace, uid: meta.uid, attempt: meta.attempt, state: 'creating',
      createdAt: this.now(), handler, config, runtime,
    };
  }

  /**
   * RunPodSandbox's side effects, holding the pod's lock: each step is recorded (runtime.done) before it
   * happens, so a failure here, or recover() after a crash, undoes exactly what exists.
   */
  private async runSteps(pod: Pod, plan: RunPlan, podName: string): Promise<Pod> {
    const { id, runtime } = pod;
    const timer = new StepTimer();
    let current: string = 'record';
    try {
      this.d.pods.insert(pod);
    } catch (err) {
      this.d.ranges?.release(id);
      throw err;
    }
    const step = (s: SandboxStep): void => {
      timer.lap(current);
      current = s;
      runtime.done.push(s);
      this.d.pods.setRuntime(id, runtime);
    };
    const log = this.d.logger.child({ pod: podName, pod_id: id });
    try {
      const hosts = await this.setUpFiles(pod, plan, step);
      step('namespaces');
      await this.setUpNamespaces(pod, plan);
      if (!plan.hostNs.network && runtime.namespaces.net) {
        step('network');
        await this.setUpNetwork(pod, plan, runtime.namespaces.net, hosts);
      }
      step('cgroup');
      // PID mode POD (also the proto default when unset) shares one PID namespace across the pod's
      // containers: that needs a live init to hold it.
      const pidMode = plan.config.linux?.security_context?.namespace_options?.pid ?? 'POD';
      if (pidMode === 'POD') {
        step('infra');
        const infra = await this.d.infra.start({ ...pod, runtime });
        runtime.infra = infra;
        runtime.namespaces = { ...runtime.namespaces, pid: `/proc/${infra.pid}/ns/pid` };
      }
      this.d.pods.setRuntime(id, runtime);
      this.d.pods.setState(id, 'ready');
      timer.lap(current);
      log.debug('pod start steps', timer.fields());
      log.info('pod ready', { userns: plan.userns.kind, ip: runtime.network?.ips[0] });
      const ready: Pod = { ...pod, state: 'ready', runtime };
      this.emit(ready, 'created');
      this.emit(ready, 'started');
      return ready;
    } catch (err) {
      log.warn('pod start failed; undoing', { error: (err as Error).message });
      await this.undo(pod).catch((e: unknown) => log.error('undo failed', { error: (e as Error).message }));
      throw wrap(`run pod "${podName}"`, err);
    }
  }

  /** The run dir with hostname, hosts and resolv.conf. Returns the hosts file. */
  private async setUpFiles(pod: Pod, plan: RunPlan, step: (s: SandboxStep) => void): Promise<string> {
    const { runtime } = pod;
    step('rundir');
    const files = await writeSandboxFiles(runtime.runDir, { hostname: plan.hostname, dns: plan.config.dns_config });
    runtime.files = { ...files };
    this.d.pods.setRuntime(pod.id, runtime);
    return files.hosts;
  }

  /**
   * The pod's pinned namespaces (inside its user namespace when it has one) and, unless it uses the
   * host's IPC, its own /dev/shm, in one call. The 'namespaces' step is recorded (by the caller) and so is
   * 'shm' before the call, so undo() takes apart whichever of the two exists after a failure.
   */
  private async setUpNamespaces(pod: Pod, plan: RunPlan): Promise<void> {
    const { runtime } = pod;
    const shm = plan.hostNs.ipc ? undefined : join(runtime.runDir, 'shm');
    if (shm) {
      runtime.done.push('shm');
      this.d.pods.setRuntime(pod.id, runtime);
    }
    const ns = await this.d.namespaces.create({
      podId: pod.id, dir: join(runtime.runDir, 'ns'), userns: plan.userns, hostNetwork: plan.hostNs.network, hostIpc: plan.hostNs.ipc, hostname: plan.hostname,
      sysctls: plan.config.linux?.sysctls ?? {},
      ...(shm ? { shm: { dir: shm, sizeBytes: DEFAULT_SHM_BYTES, owner: hostRoot(plan.userns) } } : {}),
    });
    runtime.namespaces = ns.paths;
    runtime.netnsOwnedByUserns = ns.netnsOwnedByUserns;
    if (shm && runtime.files) runtime.files = { ...runtime.files, shm };
    this.d.pods.setRuntime(pod.id, runtime);
  }

  /** CNI ADD in the pod's netns; its first IP goes into the pod's hosts file. */
  private async setUpNetwork(pod: Pod, plan: RunPlan, netns: string, hostsFile: string): Promise<void> {
    const meta = plan.config.metadata!;
    const net = await this.d.network.add({ podId: pod.id, name: meta.name, namespace: meta.namespace, uid: meta.uid }, netns, plan.ports);
    pod.runtime.network = net;
    if (net.ips[0]) await updateHosts(hostsFile, plan.hostname, net.ips[0]);
  }

  /**
   * For a pod annotated io.crius.userns/auto = "true" that brings no mappings of its own: allocates the
   * lowest free host range (persisted before anything else exists, so recover() frees it if we crash) and
   * writes it into the config as userns_options mode POD, exactly as a kubelet would have sent it. The
   * stored config is what PodSandboxStatus returns, so clients read the mapping back from there.
   */
  private autoUserns(config: PodConfig, id: string, podName: string): PodConfig {
    if (config.annotations?.[USERNS_AUTO_ANNOTATION] !== 'true') return config;
    const ns = config.linux?.security_context?.namespace_options;
    const given = ns?.userns_options;
    if (given && ((given.uids?.length ?? 0) > 0 || (given.gids?.length ?? 0) > 0 || (given.mode && given.mode !== 'POD'))) {
      throw invalidArgument(`run pod "${podName}": annotation ${USERNS_AUTO_ANNOTATION}="true" asks crius to choose the host ID range, but userns_options already has mode ${given.mode} with ${given.uids?.length ?? 0} uid / ${given.gids?.length ?? 0} gid mappings; send one or the other`);
    }
    if (!this.d.ranges) throw invalidArgument(`run pod "${podName}": annotation ${USERNS_AUTO_ANNOTATION} is not supported by this daemon (no host ID range allocator)`);
    let r: IdRange;
    try {
      r = this.d.ranges.allocate(id);
    } catch (err) {
      throw wrap(`run pod "${podName}": allocate a host ID range`, err);
    }
    const m = { container_id: r.containerId, host_id: r.hostId, length: r.length };
    const linux = config.linux ?? ({} as NonNullable<PodConfig['linux']>);
    const sc = linux.security_context ?? ({} as NonNullable<NonNullable<PodConfig['linux']>['security_context']>);
    return {
      ...config,
      linux: { ...linux, security_context: { ...sc, namespace_options: { ...(sc.namespace_options ?? {}), userns_options: { mode: 'POD', uids: [m], gids: [m] } } as typeof sc.namespace_options } },
    } as PodConfig;
  }

  private emit(pod: Pod, type: ContainerEventType): void {
    this.d.events?.emit({ containerId: pod.id, podId: pod.id, type, at: nowNanos(), podSnapshot: pod });
  }

  /** Stops the pod's containers and releases its network; idempotent, and NotFound-free as the CRI asks. */
  async stop(id: string): Promise<void> {
    await this.locked(id, () => undefined, (pod) => this.stopLocked(pod));
  }

  private async stopLocked(pod: Pod): Promise<void> {
    const timer = new StepTimer();
    // First: the infra process's exit that the kill below causes is then not reported as an infra death.
    // Only the call that made the transition reports it (one 'stopped' event, once the stop is done).
    const wasReady = this.d.pods.setState(pod.id, 'notready');
    await this.d.containers.stopAll(pod.id, 0);
    timer.lap('containers');
    if (pod.runtime.done.includes('infra')) await this.d.infra.stop(pod);
    timer.lap('infra');
    await this.releaseNetwork(pod);
    timer.lap('network');
    if (wasReady) this.emit({ ...pod, state: 'notready' }, 'stopped');
    this.d.logger.debug('pod stop steps', { pod_id: pod.id, ...timer.fields() });
  }

  /** Removes the pod and all it holds; idempotent. */
  async remove(id: string): Promise<void> {
    await this.locked(id, () => undefined, (pod) => this.removeLocked(pod));
  }

  private async removeLocked(pod: Pod): Promise<void> {
    const timer = new StepTimer();
    const wasReady = this.d.pods.setState(pod.id, 'notready');
    await this.d.containers.stopAll(pod.id, 0);
    timer.lap('stop_containers');
    await this.d.containers.removeAll(pod.id);
    timer.lap('remove_containers');
    await this.undo(pod, timer);
    const gone: Pod = { ...this.tryGet(pod.id) ?? pod, state: 'notready' };
    if (wasReady) this.emit(gone, 'stopped');
    this.emit(gone, 'deleted');
    this.d.logger.debug('pod remove steps', { pod_id: pod.id, ...timer.fields() });
  }

  private async releaseNetwork(pod: Pod): Promise<void> {
    if (!pod.runtime.done.includes('network') || !pod.runtime.network) return;
    await this.d.network.remove({ podId: pod.id, name: pod.name, namespace: pod.namespace, uid: pod.uid }, pod.runtime.namespaces.net);
    // DEL is done: 'network' is no longer a side effect to undo, so RemovePodSandbox (the kubelet always
    // stops the pod first) does not run every CNI plugin's DEL a second time.
    const runtime = { ...pod.runtime, done: pod.runtime.done.filter((s) => s !== 'network') };
    delete runtime.network;
    pod.runtime = runtime;
    this.d.pods.setRuntime(pod.id, runtime);
  }

  /** Takes apart whatever the pod's recorded steps say exists, in reverse order, then forgets it. */
  private async undo(pod: Pod, timer = new StepTimer()): Promise<void> {
    const r = pod.runtime;
    const done = new Set(r.done);
    const meta = { podId: pod.id, name: pod.name, namespace: pod.namespace, uid: pod.uid };
    // DEL even when ADD failed half-way: CNI plugins clean up what they made (CNI spec: DEL is idempotent).
    if (done.has('infra')) {
      await this.d.infra.stop(pod);
      await this.d.infra.remove(pod);
      timer.lap('infra');
    }
    if (done.has('network')) await this.d.network.remove(meta, r.namespaces.net);
    timer.lap('network');
    // A crash inside namespaces.create leaves pins whose paths were never recorded (they are recorded
    // when create returns): also unpin every name the adapters use under <runDir>/ns (missing is fine).
    if (done.has('namespaces')) {
      const nsDir = join(r.runDir, 'ns');
      const n = r.namespaces;
      await this.d.namespaces.remove({
        net: n.net ?? join(nsDir, 'net'), ipc: n.ipc ?? join(nsDir, 'ipc'), uts: n.uts ?? join(nsDir, 'uts'), user: n.user ?? join(nsDir, 'user'),
      });
      timer.lap('namespaces');
    }
    if (done.has('shm')) await this.d.shm.unmount(join(r.runDir, 'shm'));
    timer.lap('shm');
    if (done.has('cgroup')) await this.d.cgroups.removePod(r.cgroupParent);
    timer.lap('cgroup');
    if (done.has('rundir')) await rm(r.runDir, { recursive: true, force: true });
    timer.lap('rundir');
    this.d.pods.delete(pod.id);
    // Last: the range stays taken until nothing of the pod can still use it.
    this.d.ranges?.release(pod.id);
  }

  /**
   * The infra (pause) process of a PID-POD pod exited (oci's exit watcher reports its ID, the pod's):
   * the pod's shared PID namespace is gone, so the pod is NOTREADY and an event says so. StopPodSandbox
   * and RemovePodSandbox mark the pod NOTREADY before they kill it, so their own kill reports nothing.
   */
  infraExited(podId: string, why = 'its infra (pause) process exited'): void {
    const pod = this.d.pods.get(podId);
    if (!pod || !pod.runtime.done.includes('infra')) return;
    if (!this.d.pods.setState(pod.id, 'notready')) return;
    this.d.logger.warn('pod is NOTREADY: ' + why, { pod_id: pod.id, pod: `${pod.namespace}/${pod.name}` });
    this.emit({ ...pod, state: 'notready' }, 'stopped');
  }

  /**
   * Start-up reconciliation (RPCs wait for it): a pod left in 'creating' by a crash is undone.
   * Ready pods keep their pinned namespaces (bind mounts outlive the daemon), unless the node rebooted
   * (boot ID changed): then their namespaces and processes are gone and they become NOTREADY, for the
   * kubelet's Stop/Remove to clean up. A ready pod whose infra process died meanwhile becomes NOTREADY.
   */
  async recover(o: { rebooted: boolean } = { rebooted: false }): Promise<void> {
    for (const pod of this.d.pods.list()) {
      if (pod.state === 'creating') {
        this.d.logger.warn('undoing a pod left half-created by a crash', { pod_id: pod.id, done: pod.runtime.done });
        await this.undo(pod).catch((err: unknown) => this.d.logger.error('recovery of pod failed', { pod_id: pod.id, error: (err as Error).message }));
        continue;
      }
      if (pod.state !== 'ready') continue;
      if (o.rebooted) {
        if (this.d.pods.setState(pod.id, 'notready')) this.d.logger.warn('pod is NOTREADY: the node rebooted', { pod_id: pod.id });
        continue;
      }
      if (pod.runtime.done.includes('infra') && pod.runtime.infra) {
        const alive = await this.d.infra.alive(pod).catch(() => true);
        if (!alive) this.infraExited(pod.id, 'its infra (pause) process exited while the daemon was down');
      }
    }
    // Ranges whose pod is gone (a crash between allocation and the pod's insert, or an undo that failed
    // after the delete) are free again; live pods keep theirs across the restart.
    const freed = this.d.ranges?.releaseAllExcept(new Set(this.d.pods.list().map((p) => p.id))) ?? [];
    if (freed.length > 0) this.d.logger.warn('freed host ID ranges of pods that no longer exist', { owners: freed });
  }
}
