// A validated Pod -> the CRI requests the kubelet would send for it (pkg/kubelet/kuberuntime:
// kuberuntime_sandbox.go generatePodSandboxConfig, kuberuntime_container.go generateContainerConfig).
// Pure: the caller supplies every host fact (volume paths, the pod's host ID range, the pod IP, memory).
import { join } from 'node:path';
import type { Container, Pod, SeccompProfile } from './types.js';
import { parseQuantity } from './quantity.js';

/** Must match src/pod/sandbox-service.ts USERNS_AUTO_ANNOTATION (the CLI stays a plain CRI client). */
export const USERNS_AUTO_ANNOTATION = 'io.crius.userns/auto';
/** Where crius run records the pod's materialised volumes, so `crius rm` can unmount and delete them. */
export const VOLUMES_DIR_ANNOTATION = 'io.crius.run/volumes-dir';
export const RUN_BY_ANNOTATION = 'io.crius.run/manifest';

interface IdMappingMsg { container_id: number; host_id: number; length: number }
interface UsernsOptionsMsg { mode: 'POD' | 'NODE'; uids: IdMappingMsg[]; gids: IdMappingMsg[] }
export interface HostRange { hostId: number; length: number }

interface SandboxInput {
  pod: Pod;
  podUid: string;
  /** Host dir for the pod's container logs (the kubelet's /var/log/pods/<ns>_<name>_<uid>). */
  logDirectory: string;
  extraAnnotations?: Record<string, string>;
}

interface ContainerInput {
  pod: Pod;
  podUid: string;
  container: Container;
  attempt?: number;
  /** The pod's host ID range when hostUsers is false (as RunPodSandbox recorded it). */
  range?: HostRange;
  /** Volume name -> host path that was materialised for it. */
  volumes: ReadonlyMap<string, string>;
  /** Host file bind-mounted at terminationMessagePath, as the kubelet does. */
  terminationLog?: string;
  /** Looks up a ConfigMap/Secret key for env; undefined when missing. */
  lookup: (kind: 'ConfigMap' | 'Secret', name: string, key?: string) => Map<string, Buffer> | undefined;
  podIP?: string;
  hostIP?: string;
  nodeName?: string;
  /** Host memory in bytes, for the Burstable oom_score_adj (kubelet qos policy). */
  memoryCapacity: number;
}

export const podNamespace = (pod: Pod): string => pod.metadata.namespace ?? 'default';

/** kubelet: /var/log/pods/<namespace>_<name>_<uid> (BuildPodLogsDirectory). */
export function podLogDirName(pod: Pod, uid: string): string {
  return `${podNamespace(pod)}_${pod.metadata.name}_${uid}`;
}

/** kubelet: <container name>/<restart count>.log inside the pod's log directory (BuildContainerLogsDirectory). */
function containerLogPath(name: string, attempt = 0): string {
  return `${name}/${attempt}.log`;
}

function usernsOptions(pod: Pod, range: HostRange | undefined): UsernsOptionsMsg {
  // kubelet: hostUsers unset or true is mode NODE without mappings (the host's user namespace).
  if (pod.spec.hostUsers !== false) return { mode: 'NODE', uids: [], gids: [] };
  if (!range) return { mode: 'POD', uids: [], gids: [] };
  const m = { container_id: 0, host_id: range.hostId, length: range.length };
  return { mode: 'POD', uids: [m], gids: [m] };
}

function namespaceOptions(pod: Pod, range: HostRange | undefined): Record<string, unknown> {
  const s = pod.spec;
  // kubelet: PID mode CONTAINER unless the pod shares one (shareProcessNamespace) or uses the host's.
  const pid = s.hostPID ? 'NODE' : s.shareProcessNamespace ? 'POD' : 'CONTAINER';
  return {
    network: s.hostNetwork ? 'NODE' : 'POD',
    pid,
    ipc: s.hostIPC ? 'NODE' : 'POD',
    userns_options: usernsOptions(pod, range),
  };
}

function seccomp(p: SeccompProfile | undefined): Record<string, unknown> {
  // kubelet without SeccompDefault sends Unconfined when the pod names no profile.
  if (!p) return { profile_type: 'Unconfined' };
  return p.type === 'Localhost' ? { profile_type: 'Localhost', localhost_ref: p.localhostProfile ?? '' } : { profile_type: p.type };
}

/** The RunPodSandboxRequest.config. hostUsers:false asks the daemon to allocate the range. */
export function sandboxConfig(i: SandboxInput): Record<string, unknown> {
  const { pod } = i;
  const s = pod.spec;
  const ns = podNamespace(pod);
  const portMappings = s.containers.flatMap((c) => (c.ports ?? []).map((p) => ({
    protocol: p.protocol ?? 'TCP', container_port: p.containerPort, host_port: p.hostPort ?? 0, host_ip: p.hostIP ?? '',
  })));
  const sc = s.securityContext ?? {};
  const annotations: Record<string, string> = { ...(pod.metadata.annotations ?? {}), ...(i.extraAnnotations ?? {}) };
  if (s.hostUsers === false) annotations[USERNS_AUTO_ANNOTATION] = 'true';
  const dns = s.dnsConfig;
  return {
    metadata: { name: pod.metadata.name, namespace: ns, uid: i.podUid, attempt: 0 },
    hostname: s.hostNetwork ? '' : (s.hostname ?? pod.metadata.name).slice(0, 63),
    log_directory: i.logDirectory,
    ...(dns ? { dns_config: { servers: dns.nameservers ?? [], searches: dns.searches ?? [], options: (dns.options ?? []).map((o) => (o.value !== undefined ? `${o.name}:${o.value}` : o.name)) } } : {}),
    port_mappings: portMappings,
    labels: { ...(pod.metadata.labels ?? {}), 'io.kubernetes.pod.name': pod.metadata.name, 'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.uid': i.podUid },
    annotations,
    linux: {
      cgroup_parent: '',
      security_context: {
        namespace_options: namespaceOptions(pod, undefined),
        ...(sc.runAsUser !== undefined ? { run_as_user: { value: String(sc.runAsUser) } } : {}),
        ...(sc.runAsGroup !== undefined ? { run_as_group: { value: String(sc.runAsGroup) } } : {}),
        supplemental_groups: supplementalGroups(pod),
        seccomp: seccomp(sc.seccompProfile),
      },
      sysctls: Object.fromEntries((sc.sysctls ?? []).map((x) => [x.name, x.value])),
    },
  };
}

function supplementalGroups(pod: Pod): string[] {
  const sc = pod.spec.securityContext ?? {};
  const g = [...(sc.supplementalGroups ?? [])];
  if (sc.fsGroup !== undefined && !g.includes(sc.fsGroup)) g.push(sc.fsGroup);
  return g.map(String);
}

/** Kubernetes $(VAR) expansion (third_party/forked/golang/expansion): $$ escapes, unknown stays as is. */
export function expandVars(s: string, vars: ReadonlyMap<string, string>): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch !== '$' || i + 1 >= s.length) { out += ch; continue; }
    const next = s[i + 1]!;
    if (next === '$') { out += '$'; i++; continue; }
    if (next === '(') {
      const end = s.indexOf(')', i + 2);
      if (end > 0) {
        const name = s.slice(i + 2, end);
        const v = vars.get(name);
        out += v !== undefined ? v : `$(${name})`;
        i = end;
        continue;
      }
    }
    out += ch;
  }
  return out;
}

/** The container's environment in kubelet order: envFrom sources, then env (later wins), expanded. */
function containerEnv(i: ContainerInput): Array<[string, string]> {
  const vars = new Map<string, string>();
  const c = i.container;
  for (const from of c.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef!;
    const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
    const data = i.lookup(kind, ref.name);
    if (!data) {
      if (ref.optional) continue;
      throw new Error(`container "${c.name}": envFrom ${kind} "${ref.name}" not found (give it in the same YAML stream or with --${kind === 'ConfigMap' ? 'configmap' : 'secret'})`);
    }
    for (const [k, v] of data) vars.set(`${from.prefix ?? ''}${k}`, v.toString('utf8'));
  }
  const field = (path: string): string => ({
    'metadata.name': i.pod.metadata.name, 'metadata.namespace': podNamespace(i.pod), 'metadata.uid': i.podUid,
    'spec.nodeName': i.nodeName ?? '', 'spec.serviceAccountName': '', 'status.podIP': i.podIP ?? '', 'status.hostIP': i.hostIP ?? '',
  } as Record<string, string>)[path] ?? '';
  for (const e of c.env ?? []) {
    if (e.valueFrom?.fieldRef) { vars.set(e.name, field(e.valueFrom.fieldRef.fieldPath)); continue; }
    const ref = e.valueFrom?.configMapKeyRef ?? e.valueFrom?.secretKeyRef;
    if (ref) {
      const kind = e.valueFrom?.configMapKeyRef ? 'ConfigMap' : 'Secret';
      const v = i.lookup(kind, ref.name)?.get(ref.key);
      if (v === undefined) {
        if (ref.optional) continue;
        throw new Error(`container "${c.name}": env ${e.name}: key "${ref.key}" of ${kind} "${ref.name}" not found`);
      }
      vars.set(e.name, v.toString('utf8'));
      continue;
    }
    vars.set(e.name, expandVars(e.value ?? '', vars));
  }
  return [...vars];
}

type Qos = 'Guaranteed' | 'Burstable' | 'BestEffort';

/** kubelet pkg/apis/core/v1/helper/qos GetPodQOS, for cpu and memory (limits imply equal requests). */
export function podQos(pod: Pod): Qos {
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  let any = false;
  let guaranteed = true;
  for (const c of all) {
    const lim = c.resources?.limits ?? {};
    const req = { ...lim, ...(c.resources?.requests ?? {}) };
    for (const r of ['cpu', 'memory'] as const) {
      if (req[r] !== undefined || lim[r] !== undefined) any = true;
      const unit = r === 'cpu' ? 'cpu' : 'bytes';
      if (lim[r] === undefined || req[r] === undefined || parseQuantity(lim[r]!, unit) !== parseQuantity(req[r]!, unit)) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** kubelet pkg/kubelet/qos/policy.go GetContainerOOMScoreAdjust. */
export function oomScoreAdj(pod: Pod, c: Container, memoryCapacity: number): number {
  const qos = podQos(pod);
  if (qos === 'Guaranteed') return -997;
  if (qos === 'BestEffort') return 1000;
  const req = c.resources?.requests?.memory ?? c.resources?.limits?.memory;
  const bytes = req !== undefined ? parseQuantity(req, 'bytes') : 0;
  const adj = 1000 - Math.floor((1000 * bytes) / memoryCapacity);
  if (adj < 3) return 3;
  if (adj >= 1000) return 999;
  return adj;
}

/** kubelet (cgroup v1) cpu and memory -> LinuxContainerResources, int64 fields as strings. */
function containerResources(pod: Pod, c: Container, memoryCapacity: number): Record<string, unknown> {
  const lim = c.resources?.limits ?? {};
  const req = { ...lim, ...(c.resources?.requests ?? {}) };
  const out: Record<string, unknown> = {};
  // MilliCPUToShares: request * 1024 / 1000, at least 2 (also when no request is given).
  const cpuReq = req.cpu !== undefined ? parseQuantity(req.cpu, 'cpu') : 0;
  out['cpu_shares'] = String(Math.max(2, Math.floor((cpuReq * 1024) / 1000)));
  if (lim.cpu !== undefined) {
    // MilliCPUToQuota: period 100ms, quota at least 1ms.
    out['cpu_period'] = '100000';
    out['cpu_quota'] = String(Math.max(1000, Math.floor((parseQuantity(lim.cpu, 'cpu') * 100000) / 1000)));
  }
  if (lim.memory !== undefined) out['memory_limit_in_bytes'] = String(parseQuantity(lim.memory, 'bytes'));
  out['oom_score_adj'] = String(oomScoreAdj(pod, c, memoryCapacity));
  return out;
}

/** The CreateContainerRequest.config for one (init or app) container. */
export function containerConfig(i: ContainerInput): Record<string, unknown> {
  const { pod, container: c } = i;
  const ns = podNamespace(pod);
  const env = containerEnv(i);
  const vars = new Map(env);
  const userns = usernsOptions(pod, i.range);
  const maps = userns.mode === 'POD' && userns.uids.length > 0 ? { uidMappings: userns.uids, gidMappings: userns.gids } : {};
  const mounts: Record<string, unknown>[] = (c.volumeMounts ?? []).map((m) => {
    const host = i.volumes.get(m.name);
    if (host === undefined) throw new Error(`container "${c.name}": volume "${m.name}" was not prepared`);
    return {
      container_path: m.mountPath,
      host_path: m.subPath ? join(host, m.subPath) : host,
      readonly: m.readOnly ?? false,
      propagation: 'PROPAGATION_PRIVATE',
      ...maps,
    };
  });
  if (i.terminationLog) {
    // kubelet: every container gets its termination-message file bind-mounted read-write.
    mounts.push({ container_path: c.terminationMessagePath ?? '/dev/termination-log', host_path: i.terminationLog, readonly: false, propagation: 'PROPAGATION_PRIVATE', ...maps });
  }
  const psc = pod.spec.securityContext ?? {};
  const sc = c.securityContext ?? {};
  const runAsUser = sc.runAsUser ?? psc.runAsUser;
  const runAsGroup = sc.runAsGroup ?? psc.runAsGroup;
  const nsOpts = namespaceOptions(pod, i.range);
  return {
    metadata: { name: c.name, attempt: i.attempt ?? 0 },
    image: { image: c.image },
    command: (c.command ?? []).map((s) => expandVars(s, vars)),
    args: (c.args ?? []).map((s) => expandVars(s, vars)),
    working_dir: c.workingDir ?? '',
    // KeyValue.value is bytes in this repo's proto.
    envs: env.map(([key, value]) => ({ key, value: Buffer.from(value, 'utf8') })),
    mounts,
    labels: { 'io.kubernetes.container.name': c.name, 'io.kubernetes.pod.name': pod.metadata.name, 'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.uid': i.podUid },
    annotations: {},
    log_path: containerLogPath(c.name, i.attempt ?? 0),
    stdin: c.stdin ?? false,
    tty: c.tty ?? false,
    linux: {
      resources: containerResources(pod, c, i.memoryCapacity),
      security_context: {
        capabilities: { add_capabilities: sc.capabilities?.add ?? [], drop_capabilities: sc.capabilities?.drop ?? [] },
        privileged: sc.privileged ?? false,
        namespace_options: nsOpts,
        ...(runAsUser !== undefined ? { run_as_user: { value: String(runAsUser) } } : {}),
        ...(runAsGroup !== undefined ? { run_as_group: { value: String(runAsGroup) } } : {}),
        readonly_rootfs: sc.readOnlyRootFilesystem ?? false,
        supplemental_groups: supplementalGroups(pod),
        no_new_privs: sc.allowPrivilegeEscalation === false,
        seccomp: seccomp(sc.seccompProfile ?? psc.seccompProfile),
      },
    },
  };
}

/** RuntimeClass handler: the runtimeClassName names a configured handler directly (no API server here). */
export function runtimeHandler(pod: Pod): string {
  return pod.spec.runtimeClassName ?? '';
}

/** The kubelet's default image pull policy: Always for :latest or no tag, else IfNotPresent. */
export function pullPolicy(c: Container): 'Always' | 'IfNotPresent' | 'Never' {
  if (c.imagePullPolicy) return c.imagePullPolicy;
  const ref = c.image.includes('@') ? '' : c.image.slice(c.image.lastIndexOf('/') + 1);
  if (c.image.includes('@')) return 'IfNotPresent';
  const tag = ref.includes(':') ? ref.slice(ref.indexOf(':') + 1) : 'latest';
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}
