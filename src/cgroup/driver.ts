// Which cgroup driver crius uses, and what each one means for cgroup names (KEP-4033: the kubelet reads
// the runtime's driver from RuntimeConfig and must use the same one).
//
// - cgroupfs: crius names cgroup paths itself, beneath its own cgroup (mode.ts). On a pure v2 host
//   the controllers must be enabled in cgroup.subtree_control down to the containers (host.ts prepareV2Subtree).
// - systemd: the kubelet's cgroup_parent is a slice name ("kubepods-burstable-pod<uid>.slice"); each
//   container and each conmon is a transient scope under it, created by crun/runc (--systemd-cgroup,
//   cgroupsPath "<slice>:crius:<id>") and by systemd-run. systemd enables the controllers the scopes
//   ask for up the tree, and removes a scope when its last process is gone.
import { invalidArgument } from '../common/errors.js';
import type { CgroupLayout } from './mode.js';

export type CgroupDriver = 'systemd' | 'cgroupfs';

/** The driver when the config does not name one: systemd where PID 1 is systemd on a pure v2 host. Pure. */
export function defaultCgroupDriver(layout: CgroupLayout, pid1IsSystemd: boolean): CgroupDriver {
  return layout.mode === 'v2' && pid1IsSystemd ? 'systemd' : 'cgroupfs';
}

/** Why a configured driver cannot work on this host, or undefined. Pure. */
export function cgroupDriverProblem(driver: CgroupDriver, layout: CgroupLayout, pid1IsSystemd: boolean): string | undefined {
  if (driver !== 'systemd') return undefined;
  if (!pid1IsSystemd) return 'cgroup_manager = "systemd" needs systemd as PID 1; use "cgroupfs" here';
  if (layout.mode !== 'v2') return `cgroup_manager = "systemd" is supported on pure cgroup v2 hosts only (this host is ${layout.mode}); use "cgroupfs"`;
  return undefined;
}

const SLICE = /^[A-Za-z0-9_.-]{1,200}\.slice$/;
const SCOPE_PREFIX = 'crius';

/** The slice a pod's cgroups go in: the kubelet's cgroup_parent (a slice name) or crius's own per-pod slice. */
export function podSlice(podId: string, requested = ''): string {
  if (!/^[A-Za-z0-9_]{1,128}$/.test(podId)) throw invalidArgument(`pod ID "${podId}" cannot be part of a systemd slice name`);
  const r = requested.trim();
  if (r === '') return `${SCOPE_PREFIX}-pod${podId}.slice`;
  // The kubelet sends the slice's name; a full path to one ("/kubepods.slice/.../x.slice") names its last part.
  const name = r.includes('/') ? r.split('/').filter((s) => s !== '').pop() ?? '' : r;
  if (!SLICE.test(name) || name.startsWith('-') || name.includes('--') || name.endsWith('-.slice')) {
    throw invalidArgument(`cgroup_parent "${requested}" is not a systemd slice name (like "kubepods-burstable-pod<uid>.slice"); crius uses the systemd cgroup driver here (cgroup_manager), so the kubelet must too`);
  }
  return name;
}

/** Whether crius made up this slice (and so removes it with the pod). */
export function isCriusPodSlice(slice: string): boolean {
  return slice.startsWith(`${SCOPE_PREFIX}-pod`) && slice.endsWith('.slice');
}

/** "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice" (systemd's slice nesting by dashes); "-.slice" -> "/". Pure. */
export function slicePath(slice: string): string {
  if (slice === '-.slice') return '/';
  const base = slice.slice(0, -'.slice'.length);
  const parts = base.split('-');
  const out: string[] = [];
  for (let i = 1; i <= parts.length; i++) out.push(`${parts.slice(0, i).join('-')}.slice`);
  return `/${out.join('/')}`;
}

/** The transient scope of a container (or a pod's infra process): crius-<id>.scope. */
export function containerScope(id: string): string {
  return `${SCOPE_PREFIX}-${id}.scope`;
}

/** The transient scope conmon of a container runs in. */
export function conmonScope(id: string): string {
  return `${SCOPE_PREFIX}-conmon-${id}.scope`;
}

/** OCI linux.cgroupsPath in the systemd form crun and runc take with --systemd-cgroup. */
export function systemdCgroupsPath(slice: string, id: string): string {
  return `${slice}:${SCOPE_PREFIX}:${id}`;
}

/** The cgroupfs path (below the cgroup2 mount) of a container's scope. Pure. */
export function systemdScopePath(slice: string, id: string): string {
  const p = slicePath(slice);
  return `${p === '/' ? '' : p}/${containerScope(id)}`;
}
