// Where a CRI mount or device may go. The runtime mounts proc, a tmpfs /dev (with devpts and mqueue
// below it) and sysfs itself; a bind over one of those either takes the filesystem away (a container
// without procfs) or makes the runtime create its own mount points inside the client's host directory
// (crun made pts/, shm/ and mqueue/ in the host dir bound over /dev). Refused before anything exists.
//
// What the kubelet legitimately sends: /etc/hosts and every volume at its mountPath (pkg/kubelet/
// kubelet_pods.go makeMounts), the termination message file at terminationMessagePath, by default
// /dev/termination-log (pkg/kubelet/kuberuntime/kuberuntime_container.go makeMounts). Volumes in use:
// an emptyDir at /dev/shm for a larger shm, hugepages at /dev/hugepages, lxcfs files over /proc/meminfo
// and friends, host /sys/fs/cgroup for nested runtimes, host /sys at /sys (cAdvisor). Those stay allowed.
import { posix } from 'node:path';
import { invalidArgument } from '../../common/errors.js';
import { noControlChars, shown } from './text.js';

/**
 * The files below /proc that may be bind-mounted over (what lxcfs provides; the list runc and youki
 * allow in checkProcMount). Anything else below /proc would hide a kernel interface from the container
 * or undo a masked path.
 */
const PROC_FILES_ALLOWED: readonly string[] = [
  '/proc/cpuinfo', '/proc/diskstats', '/proc/meminfo', '/proc/stat', '/proc/swaps', '/proc/uptime',
  '/proc/loadavg', '/proc/slabinfo', '/proc/sys/kernel/ns_last_pid', '/proc/sys/crypto/fips_enabled',
];

/** Runtime-made filesystems a bind may not replace: the container's own /dev, devpts and mqueue. */
const RUNTIME_MOUNTS: readonly string[] = ['/', '/dev', '/dev/pts', '/dev/mqueue', '/proc', '/sys'];

const under = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`);

/** Why a bind at dest (normalised, absolute) from hostPath is refused, or undefined when it is fine. */
export function unsafeMountDestination(dest: string, hostPath: string): string | undefined {
  // Host sysfs over the container's: the same filesystem the runtime would mount, as cAdvisor asks.
  if (dest === '/sys' && posix.normalize(hostPath) === '/sys') return undefined;
  if (RUNTIME_MOUNTS.includes(dest) || under(dest, '/dev/pts') || under(dest, '/dev/mqueue')) {
    return `${dest} is a filesystem the runtime mounts itself (${dest === '/' ? 'the root filesystem' : dest === '/sys' ? 'sysfs; only the host\'s /sys may replace it' : 'procfs, the /dev tmpfs, devpts or mqueue'})`;
  }
  if (under(dest, '/proc') && !PROC_FILES_ALLOWED.includes(dest)) {
    return `${dest} is inside procfs; only ${PROC_FILES_ALLOWED.join(', ')} may be replaced (lxcfs)`;
  }
  return undefined;
}

/** An absolute path with no control characters, normalised (trailing "/" and ".." resolved). */
function checkAbsolutePath(p: string | null | undefined, field: string): string {
  if (!p) throw invalidArgument(`${field} is empty; give an absolute path`);
  noControlChars(p, field);
  if (!p.startsWith('/')) throw invalidArgument(`${field} ${shown(p)} is not an absolute path`);
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

export interface MountInput {
  container_path?: string | null;
  host_path?: string | null;
  image?: { image?: string | null } | null;
}

export function checkMounts(mounts: readonly MountInput[] | null | undefined, field: string): void {
  (mounts ?? []).forEach((m, i) => {
    const f = `${field}[${i}]`;
    const dest = checkAbsolutePath(m.container_path, `${f}.container_path`);
    // An image volume has no host path (refused as unsupported later, with its own message).
    if (m.image?.image) return;
    const host = checkAbsolutePath(m.host_path, `${f}.host_path`);
    const why = unsafeMountDestination(dest, host);
    if (why) throw invalidArgument(`${f}.container_path ${shown(m.container_path ?? '')}: ${why}; mount the volume elsewhere`);
  });
}

export interface DeviceInput {
  container_path?: string | null;
  host_path?: string | null;
}

/** Devices become nodes the runtime creates at container_path: never over /dev itself, procfs or sysfs. */
export function checkDevices(devices: readonly DeviceInput[] | null | undefined, field: string): void {
  (devices ?? []).forEach((d, i) => {
    const f = `${field}[${i}]`;
    checkAbsolutePath(d.host_path, `${f}.host_path`);
    if (!d.container_path) return; // defaults to host_path
    const dest = checkAbsolutePath(d.container_path, `${f}.container_path`);
    if (dest === '/' || dest === '/dev' || under(dest, '/proc') || under(dest, '/sys') || under(dest, '/dev/pts')) {
      throw invalidArgument(`${f}.container_path ${shown(d.container_path)}: a device node cannot be created at ${dest}; use a path such as /dev/mydevice`);
    }
  });
}
