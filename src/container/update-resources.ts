// UpdateContainerResources: the CRI's LinuxContainerResources as the OCI LinuxResources object that
// `crun/runc update --resources` takes. Same rules as container creation (spec/resources.ts): a 0 is
// "unset" (proto3 default) and leaves the current value alone; unified keys only on cgroup v2.
// oom_score_adj and hugepages cannot be changed by `update`: they are reported as warnings, not errors,
// because the kubelet sends the whole resources message on every resize.
import { invalidArgument } from '../common/errors.js';
import type { LinuxResources } from '../spec/oci-types.js';

/** The fields crius reads (int64s arrive as decimal strings from proto-loader). */
export interface CriLinuxResources {
  cpu_period?: string | number | null;
  cpu_quota?: string | number | null;
  cpu_shares?: string | number | null;
  memory_limit_in_bytes?: string | number | null;
  memory_swap_limit_in_bytes?: string | number | null;
  oom_score_adj?: string | number | null;
  cpuset_cpus?: string | null;
  cpuset_mems?: string | null;
  unified?: Record<string, string> | null;
  hugepage_limits?: unknown[] | null;
}

function num(v: string | number | null | undefined, field: string, allowNegative = false): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isSafeInteger(n)) throw invalidArgument(`${field} "${String(v)}" is not an integer`);
  if (n === 0) return undefined;
  if (n < 0 && !allowNegative) throw invalidArgument(`${field} ${n} is negative`);
  return n;
}

export function ociResourcesFromCri(r: CriLinuxResources, o: { cgroupV2: boolean }): { resources: LinuxResources; warnings: string[] } {
  const warnings: string[] = [];
  const res: LinuxResources = {};
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  const shares = num(r.cpu_shares, 'cpu_shares');
  // -1 is "no quota" (cgroup v1 cpu.cfs_quota_us), the one negative value that means something.
  const quota = num(r.cpu_quota, 'cpu_quota', true);
  const period = num(r.cpu_period, 'cpu_period');
  if (shares !== undefined) cpu.shares = shares;
  if (quota !== undefined) cpu.quota = quota;
  if (period !== undefined) cpu.period = period;
  if (r.cpuset_cpus) cpu.cpus = r.cpuset_cpus;
  if (r.cpuset_mems) cpu.mems = r.cpuset_mems;
  if (Object.keys(cpu).length > 0) res.cpu = cpu;
  const limit = num(r.memory_limit_in_bytes, 'memory_limit_in_bytes');
  const swap = num(r.memory_swap_limit_in_bytes, 'memory_swap_limit_in_bytes');
  if (limit !== undefined || swap !== undefined) {
    res.memory = {};
    if (limit !== undefined) res.memory.limit = limit;
    if (swap !== undefined) res.memory.swap = swap;
  }
  const unified = r.unified ?? {};
  if (Object.keys(unified).length > 0) {
    if (o.cgroupV2) res.unified = { ...unified };
    else warnings.push(`unified cgroup settings (${Object.keys(unified).join(', ')}) skipped: the container is not on cgroup v2`);
  }
  if (num(r.oom_score_adj, 'oom_score_adj', true) !== undefined) warnings.push('oom_score_adj cannot change after creation (OCI update has no such field); kept as created');
  if ((r.hugepage_limits?.length ?? 0) > 0) warnings.push('hugepage limits are not updated in place; kept as created');
  return { resources: res, warnings };
}
