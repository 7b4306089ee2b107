// Kernel facts that decide whether user-namespaced pods can run: the release (idmapped mounts need
// Linux 5.12, overlay over idmapped lowers 5.19, tmpfs 6.3 for the kubelet's secret/configMap/projected
// volumes: the kernel's FS_ALLOW_IDMAP history, as the Kubernetes user-namespaces docs and containerd's
// overlay snapshotter thresholds state), whether user namespaces exist and which sysctls can switch them off, and
// whether crius runs as root (mount_setattr(MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN in the init userns).
import { kernelAtLeast } from '../oci/features.js';
import { fail, ok, warn, type CheckResult } from './check.js';

export function checkKernel(release: string): CheckResult {
  const name = 'kernel';
  if (!kernelAtLeast(release, 5, 12)) {
    return fail(name, `Linux ${release}: no idmapped mounts (mount_setattr MOUNT_ATTR_IDMAP arrived in 5.12)`,
      'upgrade the kernel to 6.3 or newer (6.3: tmpfs idmap, needed for the kubelet\'s secret, configMap and projected volumes)', true);
  }
  if (!kernelAtLeast(release, 6, 3)) {
    const rootfs = kernelAtLeast(release, 5, 19) ? '' : '; overlay over idmapped lower layers needs 5.19 (crius would need [userns] rootfs = "copy")';
    return fail(name, `Linux ${release}: tmpfs cannot be idmapped before 6.3, and every pod gets a projected service account token on tmpfs${rootfs}`,
      'upgrade the kernel to 6.3 or newer', true);
  }
  return ok(name, `Linux ${release} (idmapped mounts on ext4/xfs, tmpfs and overlay lower layers)`, true);
}

export interface UsernsSysctls {
  /** /proc/self/ns/user exists (CONFIG_USER_NS). */
  nsUserExists: boolean;
  /** user.max_user_namespaces; undefined when unreadable. */
  maxUserNamespaces?: number;
  /** kernel.unprivileged_userns_clone (Debian patch); undefined when the kernel has no such sysctl. */
  unprivilegedUsernsClone?: number;
  /** kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10+); undefined when absent. */
  apparmorRestrictUnprivileged?: number;
}

export function checkUserNamespaces(s: UsernsSysctls): CheckResult {
  const name = 'user namespaces';
  if (!s.nsUserExists) {
    return fail(name, 'this kernel has no user namespaces (/proc/self/ns/user is missing)', 'use a kernel built with CONFIG_USER_NS=y', true);
  }
  if (s.maxUserNamespaces === 0) {
    return fail(name, 'user.max_user_namespaces = 0: creating user namespaces is disabled for everyone, root included',
      'sysctl -w user.max_user_namespaces=65536 (and persist it in /etc/sysctl.d/)', true);
  }
  // These two only restrict unprivileged users; crius runs as root, so they are informational.
  const notes: string[] = [];
  if (s.unprivilegedUsernsClone !== undefined) notes.push(`kernel.unprivileged_userns_clone = ${s.unprivilegedUsernsClone} (Debian; unprivileged users only)`);
  if (s.apparmorRestrictUnprivileged !== undefined) notes.push(`kernel.apparmor_restrict_unprivileged_userns = ${s.apparmorRestrictUnprivileged} (Ubuntu; unprivileged users only)`);
  const max = s.maxUserNamespaces === undefined ? 'user.max_user_namespaces unreadable' : `user.max_user_namespaces = ${s.maxUserNamespaces}`;
  if (s.maxUserNamespaces !== undefined && s.maxUserNamespaces < 100) {
    return warn(name, `enabled, but ${max} allows few namespaces (one per user-namespaced pod, plus probes)${notes.length ? `; ${notes.join('; ')}` : ''}`,
      'raise it: sysctl -w user.max_user_namespaces=65536', true);
  }
  return ok(name, `enabled (${max}${notes.length ? `; ${notes.join('; ')}` : ''}; the sysctls that can disable them: user.max_user_namespaces, ` +
    'kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns)', true);
}

export function checkRoot(uid: number): CheckResult {
  if (uid === 0) return ok('root', 'running as root (idmapped mounts need CAP_SYS_ADMIN in the initial user namespace)', true);
  return fail('root', `running as uid ${uid}: idmap probes, mounts and OCI runtimes need root`, 'run crius doctor (and criusd) as root', true);
}
