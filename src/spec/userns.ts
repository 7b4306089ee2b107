// User namespaces (KEP-127): the pod's user namespace with its mappings, idmapped volume mounts, and
// the adjustments a user namespace forces on the rest of the spec.
import { failedPrecondition, invalidArgument } from '../common/errors.js';
import { containerName, ensureLinux, ensureProcess, type SpecOpt } from './context.js';
import { cleanContainerPath, DEV_SHM, isBindMount, sandboxFileMounts } from './mounts.js';
import { namespaceOptions } from './namespaces.js';
import type { LinuxIDMapping, Mount, Spec } from './oci-types.js';
import type { IDMapping, IdRange, PodUserns } from './types.js';

function rangeToOci(r: IdRange): LinuxIDMapping {
  return { containerID: r.containerId, hostID: r.hostId, size: r.length };
}

function criMappingsToOci(list: readonly IDMapping[]): LinuxIDMapping[] {
  return list.map((m) => ({ containerID: m.container_id, hostID: m.host_id, size: m.length }));
}

/**
 * The pod's user namespace: joined by path when the pod pinned one (every container, and the sandbox
 * when its netns was made inside it), created by the runtime with the pod's mappings otherwise.
 * When joining, linux.uidMappings/gidMappings are left out: containerd sends both, but runc 1.3 warns
 * "config.json has both a userns path to join and a matching userns mapping specified -- you may only
 * provide one. Future versions of runc may return an error" (seen here with runc 1.3.6); runc and crun
 * both read the mappings from the joined namespace (checked with crun 1.21 and runc 1.3.6).
 */
export const withUserNamespace: SpecOpt = (spec, ctx) => {
  const linux = ensureLinux(spec);
  const list = (linux.namespaces ?? []).filter((n) => n.type !== 'user');
  const u = ctx.runtime.userns;
  if (!u) {
    linux.namespaces = list;
    delete linux.uidMappings;
    delete linux.gidMappings;
    return;
  }
  const path = ctx.runtime.namespaces.user;
  if (path) {
    list.push({ type: 'user', path });
    delete linux.uidMappings;
    delete linux.gidMappings;
  } else {
    list.push({ type: 'user' });
    linux.uidMappings = [rangeToOci(u.uid)];
    linux.gidMappings = [rangeToOci(u.gid)];
  }
  linux.namespaces = list;
  // devpts is mounted with gid=5 (tty); inside a user namespace that gid must be mapped or the mount
  // fails with EINVAL. Only a tiny mapping (critest's length 1 style) lacks it: drop the option then.
  if (!inRange(5, u.gid)) {
    for (const m of spec.mounts ?? []) if (m.type === 'devpts') m.options = (m.options ?? []).filter((o) => o !== 'gid=5');
  }
};

function inRange(id: number, r: IdRange): boolean {
  return id >= r.containerId && id < r.containerId + r.length;
}

/**
 * In a user namespace, the process's uid, gid and every supplementary gid must be mapped, or the
 * runtime fails late with an opaque "setresuid: invalid argument" / setgroups EINVAL. Say which ID
 * and which mapping instead. Run after withUser.
 */
export const withMappedIdsCheck: SpecOpt = (spec, ctx) => {
  const u = ctx.runtime.userns;
  if (!u) return;
  const user = ensureProcess(spec).user;
  const span = (r: IdRange): string => `${r.containerId}-${r.containerId + r.length - 1}`;
  if (!inRange(user.uid, u.uid)) {
    throw invalidArgument(`container "${containerName(ctx)}": uid ${user.uid} is not mapped in the pod's user namespace (container uids ${span(u.uid)}); run as a uid inside that range`);
  }
  for (const g of [user.gid, ...(user.additionalGids ?? [])]) {
    if (!inRange(g, u.gid)) {
      throw invalidArgument(`container "${containerName(ctx)}": gid ${g} is not mapped in the pod's user namespace (container gids ${span(u.gid)}); use a group inside that range`);
    }
  }
};

/**
 * Idmapped mounts (KEP-127):
 *   - every CRI mount carrying uidMappings/gidMappings keeps exactly those (the kubelet copies the
 *     pod's mapping onto configMap, secret, projected, emptyDir, hostPath, PVC, /etc/hosts and the
 *     termination log), so a file owned by 1000 on disk reads as 1000 inside;
 *   - runtime-made binds (/etc/hostname, /etc/hosts, /etc/resolv.conf) get the pod's mapping so their
 *     host-root-owned files read as the pod's root;
 *   - image VOLUME dirs get none: they are copied from the container's rootfs, whose owners are already
 *     in the pod's host range (rootfs/image-volume.ts), so a plain bind shows the image's owners inside;
 *   - /dev/shm gets none: it is a tmpfs the sandbox made owned by the pod's root (idmapping tmpfs
 *     needs Linux 6.3 and buys nothing for an empty, 1777 dir).
 * No `idmap` option is added: the mappings alone ask for an idmapped bind (runtime-spec 1.2), which
 * runc >= 1.2 and crun >= 1.9 both understand; the options are left for the caller's own use.
 * Handlers differ: runc 1.3 refuses an idmapped non-bind mount ("id-mapped mounts are only supported
 * for bind-mounts"), crun does both. A non-bind mount created by the runtime inside the container's
 * user namespace is owned by that namespace's root anyway, so for such a handler its mappings are
 * dropped (with a warning) rather than failing the container.
 */
export const withIdmappedMounts: SpecOpt = (spec, ctx) => {
  const what = `container "${containerName(ctx)}"`;
  const cri = new Map<string, { uid?: IDMapping[]; gid?: IDMapping[]; hostPath: string }>();
  for (const m of ctx.container.mounts ?? []) {
    const dest = cleanContainerPath(m.container_path, `${what} mount`);
    const uid = m.uidMappings ?? [];
    const gid = m.gidMappings ?? [];
    if ((uid.length === 0) !== (gid.length === 0)) {
      throw invalidArgument(
        `${what}: mount at "${dest}" (hostPath="${m.host_path}") has ${uid.length} uidMappings and ${gid.length} gidMappings; an idmapped mount needs both`,
      );
    }
    for (const x of [...uid, ...gid]) {
      if (!(x.length >= 1)) throw invalidArgument(`${what}: mount at "${dest}" has a mapping of length ${x.length}; the length must be at least 1`);
    }
    cri.set(dest, { uid, gid, hostPath: m.host_path });
  }
  const u = ctx.runtime.userns;
  const runtimeMade = new Map<string, string>();
  for (const m of sandboxFileMounts(ctx)) if (m.destination !== DEV_SHM && m.source) runtimeMade.set(m.destination, m.source);
  const h = ctx.runtime.handler;
  for (const m of spec.mounts ?? []) {
    delete m.uidMappings;
    delete m.gidMappings;
    const c = cri.get(m.destination);
    if (c && m.source === c.hostPath) {
      if (c.uid && c.uid.length > 0 && c.gid && c.gid.length > 0) {
        m.uidMappings = criMappingsToOci(c.uid);
        m.gidMappings = criMappingsToOci(c.gid);
      }
    } else if (u && runtimeMade.get(m.destination) === m.source) {
      m.uidMappings = [rangeToOci(u.uid)];
      m.gidMappings = [rangeToOci(u.gid)];
    }
    if (!m.uidMappings) continue;
    if (!isBindMount(m) && !h.idmapTmpfs) {
      delete m.uidMappings;
      delete m.gidMappings;
      ctx.warnings.push(`${what}: handler "${h.name}" cannot idmap a ${m.type ?? 'non-bind'} mount; ${m.destination} is mounted without mappings (it is created inside the user namespace)`);
      continue;
    }
    if (!h.idmapBind) {
      throw failedPrecondition(
        `${what}: mount at "${m.destination}" (source "${m.source ?? ''}") needs an idmapped mount but runtime handler "${h.name}" cannot do idmapped mounts; use crun >= 1.9 or runc >= 1.2`,
      );
    }
  }
};

/**
 * sysfs can only be mounted from a user namespace that owns the network namespace (kernel commit
 * 7dc5dbc879bd). When the pod's netns is the host's or was made outside the pod's user namespace, /sys
 * becomes a recursive read-only bind of the host's /sys (containerd 93cf5418b, v2.3), falling back to
 * a plain read-only bind when the handler has no "rro".
 */
export const withUsernsSysfs: SpecOpt = (spec, ctx) => {
  if (!ctx.runtime.userns) return;
  const hostNet = (namespaceOptions(ctx).network ?? 'POD') === 'NODE';
  if (!hostNet && ctx.runtime.netnsOwnedByUserns !== false) return;
  const ro = ctx.runtime.handler.rro ? 'rro' : 'ro';
  if (ro === 'ro') ctx.warnings.push(`container "${containerName(ctx)}": handler "${ctx.runtime.handler.name}" has no rro; /sys submounts stay writable by mode bits`);
  const sys: Mount = { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', ro] };
  spec.mounts = (spec.mounts ?? []).map((m) => (m.destination === '/sys' && m.type === 'sysfs' ? sys : m));
};

/**
 * The host uid/gid the container's process runs as: process.user through the pod's mapping. The
 * caller chowns the process's stdio pipes to these, so a non-root user in a user namespace can reopen
 * /dev/stderr (nginx) — pipes owned by host root are unreachable from it (containerd #10598,
 * a21b178f1 updateContainerIOOwner). null in the host user namespace (nothing to do).
 */
export function processHostIds(spec: Spec, userns: PodUserns | null): { uid: number; gid: number } | null {
  if (!userns) return null;
  const user = spec.process?.user ?? { uid: 0, gid: 0 };
  const toHost = (id: number, r: IdRange, what: string): number => {
    if (!inRange(id, r)) throw invalidArgument(`${what} ${id} is not mapped in the pod's user namespace (${r.containerId}-${r.containerId + r.length - 1})`);
    return r.hostId + (id - r.containerId);
  };
  return { uid: toHost(user.uid, userns.uid, 'uid'), gid: toHost(user.gid, userns.gid, 'gid') };
}
