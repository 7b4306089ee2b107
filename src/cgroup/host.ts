// Where containers' and pods' cgroups go on this host, for either driver (cgroupfs: paths beneath crius's
// own cgroup; systemd: slices and transient scopes), and the cgroup set-up and clean-up around them.
// detectOciHost (oci/host-setup.ts) decides the CgroupHost once at start.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { failedPrecondition } from '../common/errors.js';
import { run } from '../common/exec.js';
import { cgroupDirs, cgroupParentFor, containerCgroupsPath, removeCgroup, type CgroupLayout } from './mode.js';
import { isCriusPodSlice, podSlice, slicePath, systemdCgroupsPath, systemdScopePath, type CgroupDriver } from './driver.js';

export interface CgroupHost {
  layout: CgroupLayout;
  /** Absolute cgroup path all pods nest under, e.g. /process_api/<hash>/crius. */
  cgroupBase: string;
  /** Who creates containers' cgroups (cgroup_manager); systemd: slices and transient scopes. */
  driver: CgroupDriver;
}

/** Whether PID 1 is systemd (its own test: /run/systemd/system exists only when systemd booted the host). */
export function pid1IsSystemd(): boolean {
  try {
    return existsSync('/run/systemd/system') && readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd';
  } catch {
    return false;
  }
}

/** The v2 controllers crius wants for containers (only those the parent offers are enabled). */
const V2_CONTROLLERS = ['cpu', 'cpuset', 'io', 'memory', 'pids', 'hugetlb'];

/**
 * cgroupfs driver on a pure v2 host: containers nest beneath our own cgroup, so our cgroup must pass the
 * controllers down (cgroup.subtree_control), and v2 allows that only for a cgroup without processes of its
 * own ("no internal processes"). As systemd's delegation rules ask, the daemon moves itself into a leaf
 * `<own>/supervisor` first, then enables the controllers in <own> and in the base. Without this every
 * container limit fails (crun: "opening file memory.max for writing: No such file or directory").
 * Returns what it did, for the start-up log; a cgroup that still holds other processes is reported.
 */
export async function prepareV2Subtree(root: string, cgroupBase: string, pid = process.pid): Promise<string[]> {
  const own = path.posix.dirname(cgroupBase);
  const notes: string[] = [];
  const ownDir = path.join(root, own);
  if (own !== '/' && own !== '') {
    const procs = (await readFile(path.join(ownDir, 'cgroup.procs'), 'utf8')).split('\n').filter((l) => l.trim() !== '');
    if (procs.length > 0) {
      const leaf = path.join(ownDir, 'supervisor');
      await mkdir(leaf, { recursive: true });
      if (procs.includes(String(pid))) {
        await writeFile(path.join(leaf, 'cgroup.procs'), String(pid));
        notes.push(`moved the daemon into ${path.posix.join(own, 'supervisor')} (a v2 cgroup that passes controllers down holds no processes)`);
      }
    }
  }
  for (const dir of [ownDir, path.join(root, cgroupBase)]) {
    await mkdir(dir, { recursive: true });
    const offered = (await readFile(path.join(dir, 'cgroup.controllers'), 'utf8')).split(/\s+/).filter((c) => c !== '');
    const want = V2_CONTROLLERS.filter((c) => offered.includes(c));
    try {
      if (want.length > 0) await writeFile(path.join(dir, 'cgroup.subtree_control'), want.map((c) => `+${c}`).join(' '));
    } catch (err) {
      throw failedPrecondition(`cannot enable the cgroup controllers ${want.join(', ')} in ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)}): the cgroup still holds other processes; run crius as its own systemd service (contrib/crius.service, Delegate=yes) or with cgroup_manager = "systemd"`);
    }
  }
  return notes;
}

/**
 * The pod's cgroup parent: cgroupfs, a path beneath crius's own cgroup (kubelet's cgroup_parent nested
 * under it); systemd, a slice name (the kubelet's, or crius-pod<id>.slice).
 */
export function podCgroupParent(host: CgroupHost, podId: string, requested = ''): string {
  return host.driver === 'systemd' ? podSlice(podId, requested) : cgroupParentFor(host.cgroupBase, podId, requested);
}

/** The OCI cgroupsPath of one container of a pod (systemd: "<slice>:crius:<id>", a transient scope). */
export function containerCgroupPath(host: CgroupHost, podParent: string, containerId: string): string {
  return host.driver === 'systemd' ? systemdCgroupsPath(podParent, containerId) : containerCgroupsPath(podParent, containerId);
}

/** The cgroupfs path (below the hierarchy's mount) of a container's cgroup, for stats. */
export function containerCgroupFsPath(host: CgroupHost, podParent: string, containerId: string): string {
  return host.driver === 'systemd' ? systemdScopePath(podParent, containerId) : containerCgroupsPath(podParent, containerId);
}

/** The cgroupfs path of a pod's cgroup parent, for stats and pod limits. */
export function podCgroupFsPath(host: CgroupHost, podParent: string): string {
  return host.driver === 'systemd' ? slicePath(podParent) : podParent;
}

/**
 * Removes a pod's cgroups (after its containers were deleted; the runtime removes each container's own)
 * in every hierarchy, and prunes empty parents up to the base. Idempotent; cgroups still holding
 * processes are left and listed.
 */
export async function removePodCgroup(host: CgroupHost, podParent: string): Promise<{ left: string[] }> {
  if (host.driver === 'systemd') {
    // The kubelet's slices are the kubelet's to remove; crius's own per-pod slice goes with the pod.
    // Its scopes are gone already (the runtime stops each container's, conmon's ends with conmon).
    if (isCriusPodSlice(podParent)) {
      await run('systemctl', ['stop', '--no-block', podParent], { timeoutMs: 30_000 }).catch(() => undefined);
    }
    return { left: [] };
  }
  return removeCgroup(host.layout, podParent, host.cgroupBase);
}

/**
 * At shutdown with no pods left: removes the empty cgroup base (<own>/crius) in every hierarchy, and the
 * empty parents the runtime created for it in controllers where crius itself sits at the root. A cgroup
 * with processes or children (our own, another session's) refuses rmdir and stays.
 */
export async function pruneCgroupBase(host: CgroupHost): Promise<void> {
  if (host.driver === 'systemd') return;
  for (let p = host.cgroupBase; p !== '/' && p !== ''; p = path.posix.dirname(p)) {
    for (const dir of cgroupDirs(host.layout, p)) await rmdir(dir).catch(() => undefined);
  }
}
