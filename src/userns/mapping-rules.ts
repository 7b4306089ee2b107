// Validation of the CRI `UserNamespace` (NamespaceOption.userns_options) into a typed decision.
// Rules follow containerd's parseUsernsIDs (internal/cri/server/helpers.go) plus the checks
// containerd misses: container ID 0 must be mapped (else runc fails late with "failed to become root in
// user namespace"), the range must not reach host ID 2^32-1 (kubernetes#139916), and it must not include
// host ID 0 (that would be host root inside a "user-namespaced" pod).
import { invalidArgument } from '../common/errors.js';

/** CRI NamespaceMode. Unset means POD, because POD is the enum's 0 value (cri-api runtime.v1). */
type UsernsMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';

/** CRI IDMapping (uint32 fields, keepCase names as in the proto). */
interface IdMappingInput {
  host_id: number;
  container_id: number;
  length: number;
}

/** CRI UserNamespace as decoded from the request; mode may be the enum name or its number. */
export interface UserNamespaceInput {
  mode?: UsernsMode | number | string | null;
  uids?: readonly (IdMappingInput | null | undefined)[] | null;
  gids?: readonly (IdMappingInput | null | undefined)[] | null;
}

/** One mapping line: container IDs [containerId, containerId+length) map to [hostId, hostId+length). */
export interface IdRange {
  containerId: number;
  hostId: number;
  length: number;
}

export type UsernsConfig =
  | { kind: 'host' }
  | { kind: 'pod'; uid: IdRange; gid: IdRange };

/** The highest ID the kernel accepts in a mapping; (uid_t)-1 itself is reserved as "no ID". */
export const MAX_ID = 0xffff_ffff - 1;

const MODE_BY_NUMBER: readonly UsernsMode[] = ['POD', 'CONTAINER', 'NODE', 'TARGET'];

function modeOf(mode: UserNamespaceInput['mode'], field: string): UsernsMode {
  if (mode === undefined || mode === null || mode === '') return 'POD';
  if (typeof mode === 'number') {
    const m = MODE_BY_NUMBER[mode];
    if (m === undefined) throw invalidArgument(`${field}.mode ${mode} is not a known NamespaceMode (POD, CONTAINER, NODE, TARGET)`);
    return m;
  }
  if ((MODE_BY_NUMBER as readonly string[]).includes(mode)) return mode as UsernsMode;
  throw invalidArgument(`${field}.mode "${mode}" is not a known NamespaceMode (POD, CONTAINER, NODE, TARGET)`);
}

function checkId(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw invalidArgument(`${field} is ${JSON.stringify(value)}: it must be an integer between 0 and 4294967295`);
  }
  return value;
}

function parseRange(list: readonly (IdMappingInput | null | undefined)[], field: string): IdRange {
  const m = list[0];
  const at = `${field}[0]`;
  if (m === null || m === undefined) throw invalidArgument(`${at} is empty: give host_id, container_id and length`);
  const hostId = checkId(m.host_id, `${at}.host_id`);
  const containerId = checkId(m.container_id, `${at}.container_id`);
  const length = checkId(m.length, `${at}.length`);
  if (length < 1) throw invalidArgument(`${at}.length is ${length}: a mapping must cover at least one ID`);
  // With exactly one line, "container ID 0 is mapped" means the line starts at 0. The kubelet always
  // sends container_id 0; critest requires {container_id 1} to be rejected.
  if (containerId !== 0) {
    throw invalidArgument(
      `${at}.container_id is ${containerId}: container ID 0 (root) must be mapped, so the mapping must start at container_id 0`);
  }
  // A range starting at host ID 0 maps the container's root to the host's root: a "user-namespaced" pod
  // whose root is host root. The kubelet never sends one (its ranges start at a multiple of 65536 above 0).
  if (hostId === 0) {
    throw invalidArgument(
      `${at}.host_id is 0: the mapping would include host ID 0, making the pod's root the host's root; ` +
      'give a host range of unprivileged IDs (the kubelet allocates them from its /etc/subuid entry)');
  }
  if (hostId + length - 1 > MAX_ID) {
    throw invalidArgument(
      `${at} maps host IDs ${hostId}..${hostId + length - 1}: the last host ID may be at most ${MAX_ID} ` +
      `(4294967295 is reserved); lower host_id or length`);
  }
  return { containerId, hostId, length };
}

/**
 * Decides the user namespace of a pod or container from its CRI `userns_options`.
 * `field` names the options in messages (e.g. "linux.security_context.namespace_options.userns_options").
 * Absent options or NODE mode mean the host user namespace (kubelet sends NODE for hostUsers unset/true).
 */
export function parseUserNamespace(opts: UserNamespaceInput | null | undefined, field = 'userns_options'): UsernsConfig {
  if (opts === null || opts === undefined) return { kind: 'host' };
  const mode = modeOf(opts.mode, field);
  const uids = opts.uids ?? [];
  const gids = opts.gids ?? [];
  switch (mode) {
    case 'NODE':
      if (uids.length > 0 || gids.length > 0) {
        throw invalidArgument(
          `${field}.mode is NODE (host user namespace) but ${uids.length} uid and ${gids.length} gid mappings were given: ` +
          'NODE takes no mappings; use mode POD to get a user namespace with mappings');
      }
      return { kind: 'host' };
    case 'POD':
      if (uids.length !== 1 || gids.length !== 1) {
        throw invalidArgument(
          `${field}.mode is POD and needs exactly one uid and one gid mapping, but ${uids.length} uid and ` +
          `${gids.length} gid mappings were given`);
      }
      return { kind: 'pod', uid: parseRange(uids, `${field}.uids`), gid: parseRange(gids, `${field}.gids`) };
    case 'CONTAINER':
    case 'TARGET':
      // cri-api: "only POD and NODE are supported" for user namespaces.
      throw invalidArgument(`${field}.mode ${mode} is not supported for user namespaces: use POD or NODE`);
  }
}

const showRange = (r: IdRange): string => `${r.containerId}:${r.hostId}:${r.length}`;

/** Human form used in messages, e.g. `POD uids 0:100000:65536 gids 0:100000:65536` or `host (NODE)`. */
export function describeUserns(cfg: UsernsConfig): string {
  return cfg.kind === 'host' ? 'host (NODE or none)' : `POD uids ${showRange(cfg.uid)} gids ${showRange(cfg.gid)}`;
}

const sameRange = (a: IdRange, b: IdRange): boolean =>
  a.containerId === b.containerId && a.hostId === b.hostId && a.length === b.length;

function isSameUserns(a: UsernsConfig, b: UsernsConfig): boolean {
  if (a.kind === 'host' || b.kind === 'host') return a.kind === b.kind;
  return sameRange(a.uid, b.uid) && sameRange(a.gid, b.gid);
}

/** A container must run in its sandbox's user namespace (containerd sameUsernsConfig); throws showing both. */
export function sameUserns(sandbox: UsernsConfig, container: UsernsConfig): void {
  if (isSameUserns(sandbox, container)) return;
  throw invalidArgument(
    `container userns_options differ from the pod sandbox's: sandbox ${describeUserns(sandbox)}, ` +
    `container ${describeUserns(container)}; a container must use its pod's user namespace settings`);
}

/** Host ID of a container ID under the mapping, or undefined when the ID is not mapped. */
export function hostIdFor(range: IdRange, containerId: number): number | undefined {
  const off = containerId - range.containerId;
  if (!Number.isInteger(containerId) || off < 0 || off >= range.length) return undefined;
  return range.hostId + off;
}

/** Container ID seen inside for a host ID, or undefined when the host ID is outside the mapping. */
export function containerIdFor(range: IdRange, hostId: number): number | undefined {
  const off = hostId - range.hostId;
  if (!Number.isInteger(hostId) || off < 0 || off >= range.length) return undefined;
  return range.containerId + off;
}

/** Host uid/gid of the container's root (0:0): the owner of the rootfs upper dir and runtime-made files. */
export function hostRoot(cfg: UsernsConfig): { uid: number; gid: number } {
  if (cfg.kind === 'host') return { uid: 0, gid: 0 };
  // parseUserNamespace guarantees container ID 0 is mapped.
  return { uid: hostIdFor(cfg.uid, 0) as number, gid: hostIdFor(cfg.gid, 0) as number };
}

/** Mapping arguments in util-linux / newuidmap form "container:host:length". */
export const mapArg = (r: IdRange): string => `${r.containerId}:${r.hostId}:${r.length}`;

interface HostNamespaces {
  network: boolean;
  pid: boolean;
  ipc: boolean;
}

/**
 * hostUsers:false with a host namespace: Kubernetes API validation forbids it (KEP-127), except host
 * network when the runtime supports it (KEP-5607, RuntimeFeatures.user_namespaces_host_network).
 */
export function checkHostNamespacesWithUserns(cfg: UsernsConfig, host: HostNamespaces, allowHostNetwork: boolean): void {
  if (cfg.kind === 'host') return;
  const bad: string[] = [];
  if (host.network && !allowHostNetwork) bad.push('network');
  if (host.pid) bad.push('pid');
  if (host.ipc) bad.push('ipc');
  if (bad.length === 0) return;
  throw invalidArgument(
    `a pod in its own user namespace (userns_options mode POD) cannot use the host ${bad.join(', ')} namespace: ` +
    'host PID and IPC namespaces are owned by the host user namespace and would give the pod host-root access' +
    (bad.includes('network') ? '; host network with a user namespace is not enabled for this runtime' : '') +
    '; set hostUsers: true or drop the host namespace');
}
