// UpdatePodSandboxResources applied to the pod's cgroup parent (KEP-1287 in-place pod resize: the kubelet
// sends the pod's new totals). crius nests every pod cgroup beneath its own (mode.ts), so the
// kubelet's own writes to /kubepods/... never reach these cgroups: crius writes the limits itself. The
// runtime is not involved (OCI `update` is per container), so these are plain cgroup file writes.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { invalidArgument, wrap } from '../common/errors.js';
import { parseInt64 } from '../common/int64.js';
import { cgroupDirs, type CgroupLayout } from './mode.js';
import { run, type Runner } from '../common/exec.js';

export interface PodLimits {
  cpuShares?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  memoryLimit?: number;
}

interface CgroupWrite {
  /** v1 controller whose hierarchy holds the file; '' for the cgroup2 hierarchy. */
  controller: string;
  file: string;
  value: string;
}

/** cpu.shares -> cpu.weight as runc converts it (integer division; 2..262144 -> 1..10000). */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((Math.min(Math.max(shares, 2), 262144) - 2) * 9999) / 262142);
}

/** The files to write, in a safe order (period before quota). Pure. */
export function podCgroupWrites(v2: boolean, l: PodLimits): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (v2) {
    if (l.cpuShares !== undefined) out.push({ controller: '', file: 'cpu.weight', value: String(sharesToWeight(l.cpuShares)) });
    if (l.cpuQuota !== undefined || l.cpuPeriod !== undefined) {
      const quota = l.cpuQuota === undefined || l.cpuQuota < 0 ? 'max' : String(l.cpuQuota);
      out.push({ controller: '', file: 'cpu.max', value: `${quota} ${l.cpuPeriod ?? 100000}` });
    }
    if (l.memoryLimit !== undefined) out.push({ controller: '', file: 'memory.max', value: String(l.memoryLimit) });
    return out;
  }
  if (l.cpuShares !== undefined) out.push({ controller: 'cpu', file: 'cpu.shares', value: String(l.cpuShares) });
  if (l.cpuPeriod !== undefined) out.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(l.cpuPeriod) });
  if (l.cpuQuota !== undefined) out.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(l.cpuQuota) });
  if (l.memoryLimit !== undefined) out.push({ controller: 'memory', file: 'memory.limit_in_bytes', value: String(l.memoryLimit) });
  return out;
}

/** The pod's limits from the CRI's LinuxContainerResources (0 = unset, as everywhere in the CRI). */
export function podLimitsFromCri(r: { cpu_shares?: string | number | null; cpu_quota?: string | number | null; cpu_period?: string | number | null; memory_limit_in_bytes?: string | number | null }): PodLimits {
  const n = (v: string | number | null | undefined, field: string, allowMinusOne = false): number | undefined => {
    const x = parseInt64(v, field);
    if (x !== undefined && x < 0 && !(allowMinusOne && x === -1)) throw invalidArgument(`${field} "${String(v)}" is not a valid value`);
    return x === 0 ? undefined : x;
  };
  const l: PodLimits = {};
  const shares = n(r.cpu_shares, 'cpu_shares');
  const quota = n(r.cpu_quota, 'cpu_quota', true);
  const period = n(r.cpu_period, 'cpu_period');
  const mem = n(r.memory_limit_in_bytes, 'memory_limit_in_bytes');
  if (shares !== undefined) l.cpuShares = shares;
  if (quota !== undefined) l.cpuQuota = quota;
  if (period !== undefined) l.cpuPeriod = period;
  if (mem !== undefined) l.memoryLimit = mem;
  return l;
}

/**
 * Writes the limits into the pod cgroup in each hierarchy that has the file's controller, creating the
 * pod cgroup if no container made it yet (pod removal takes it away in every hierarchy).
 */
export async function applyPodLimits(layout: CgroupLayout, podCgroup: string, l: PodLimits): Promise<CgroupWrite[]> {
  const v2 = layout.mode === 'v2';
  const writes = podCgroupWrites(v2, l);
  for (const w of writes) {
    // v1: the hierarchy whose mount directory names the controller ("cpu", "cpu,cpuacct").
    const mount = v2 ? undefined : layout.v1Mounts.find((m) => path.basename(m).split(',').includes(w.controller));
    const dir = v2 ? cgroupDirs(layout, podCgroup, false)[0] : mount && path.join(mount, podCgroup);
    if (!dir) continue;
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, w.file), w.value);
    } catch (err) {
      throw wrap(`write ${w.value} to ${path.join(dir, w.file)}`, err);
    }
  }
  return writes;
}

/**
 * The same limits as systemd unit properties of the pod's slice (systemd driver): systemd owns the
 * slice's cgroup files and would put its own values back on the next reload, so the change goes through
 * it (`systemctl set-property --runtime`, which also enables the controllers the slice needs). Pure.
 */
export function sliceProperties(l: PodLimits): string[] {
  const out: string[] = [];
  if (l.cpuShares !== undefined) out.push(`CPUWeight=${sharesToWeight(l.cpuShares)}`);
  if (l.cpuQuota !== undefined || l.cpuPeriod !== undefined) {
    const period = l.cpuPeriod ?? 100000;
    out.push(`CPUQuotaPeriodSec=${period}us`);
    // CPUQuota is a percentage of one CPU, to 1/100 of a percent; empty means no quota.
    out.push(l.cpuQuota === undefined || l.cpuQuota < 0 ? 'CPUQuota=' : `CPUQuota=${(Math.max(1, Math.round((l.cpuQuota / period) * 10000)) / 100).toFixed(2)}%`);
  }
  if (l.memoryLimit !== undefined) out.push(`MemoryMax=${l.memoryLimit}`);
  return out;
}

export async function applySliceLimits(slice: string, l: PodLimits, runner: Runner = run): Promise<CgroupWrite[]> {
  const props = sliceProperties(l);
  if (props.length === 0) return [];
  try {
    await runner('systemctl', ['set-property', '--runtime', slice, ...props], { timeoutMs: 30_000 });
  } catch (err) {
    throw wrap(`set ${props.join(' ')} on ${slice}`, err);
  }
  return props.map((p) => ({ controller: '', file: slice, value: p }));
}
