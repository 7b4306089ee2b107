// ContainerStatus.user.linux (KEP-3619): the identity the container's init process really runs as, so the
// kubelet can report it in the pod status. Read from /proc/PID/status while the process lives (what the
// kernel applied, after the runtime's setgroups), else from the OCI spec crius gave the runtime.
// /proc shows IDs as seen from crius's (the initial) user namespace: in a user-namespaced pod they are
// translated back through the pod's mapping to what the container sees.
import type { UsernsConfig, IdRange } from '../userns/mapping-rules.js';

export interface LinuxUser {
  uid: number;
  gid: number;
  supplemental_groups: number[];
}

/** Real uid, real gid and groups from the text of /proc/PID/status; undefined when a line is missing. */
export function parseProcStatusUser(text: string): LinuxUser | undefined {
  const field = (name: string): string[] | undefined => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}:`));
    return line?.slice(name.length + 1).trim().split(/\s+/).filter(Boolean);
  };
  const uid = field('Uid');
  const gid = field('Gid');
  const groups = field('Groups');
  if (!uid?.[0] || !gid?.[0] || groups === undefined) return undefined;
  return { uid: Number(uid[0]), gid: Number(gid[0]), supplemental_groups: groups.map(Number) };
}

function toContainer(id: number, r: IdRange): number | undefined {
  return id >= r.hostId && id < r.hostId + r.length ? r.containerId + (id - r.hostId) : undefined;
}

/**
 * Host IDs to the container's view. An ID outside the pod's range (never expected: the runtime only
 * sets mapped IDs) is left out of the groups and reported as the overflow ID 65534 for uid/gid, as the
 * kernel would show it inside.
 */
export function userInContainer(host: LinuxUser, userns: UsernsConfig): LinuxUser {
  if (userns.kind === 'host') return host;
  const OVERFLOW = 65534;
  return {
    uid: toContainer(host.uid, userns.uid) ?? OVERFLOW,
    gid: toContainer(host.gid, userns.gid) ?? OVERFLOW,
    supplemental_groups: host.supplemental_groups.map((g) => toContainer(g, userns.gid)).filter((g): g is number => g !== undefined),
  };
}

/**
 * From the spec's process.user (uid, gid, additionalGids), in the container's view already; groups sorted
 * and unique, as the kernel keeps them (setgroups sorts), so both sources read alike.
 */
export function userFromSpec(user: { uid?: number; gid?: number; additionalGids?: number[] } | undefined): LinuxUser {
  const groups = [...new Set(user?.additionalGids ?? [])].sort((a, b) => a - b);
  return { uid: user?.uid ?? 0, gid: user?.gid ?? 0, supplemental_groups: groups };
}
