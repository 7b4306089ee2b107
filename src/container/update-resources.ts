// UpdateContainerResources: the CRI's LinuxContainerResources as the OCI LinuxResources object that
// `crun/runc update --resources` takes. CPU and memory go through the same function as container creation
// (spec/resources.ts cpuMemoryFromCri): a 0 is "unset" (proto3 default) and leaves the current value
// alone; unified keys only on cgroup v2.
// oom_score_adj and hugepages cannot be changed by `update`: they are reported as warnings, not errors,
// because the kubelet sends the whole resources message on every resize.
import { invalidArgument } from '../common/errors.js';
import type { LinuxResources } from '../spec/oci-types.js';
import { cpuMemoryFromCri, type CriCpuMemory } from '../spec/resources.js';

/** The fields crius reads (int64s arrive as decimal strings from proto-loader). */
export interface CriLinuxResources extends CriCpuMemory {
  oom_score_adj?: string | number | null;
  unified?: Record<string, string> | null;
  hugepage_limits?: unknown[] | null;
}

function num(v: string | number | null | undefined, field: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isSafeInteger(n)) throw invalidArgument(`${field} "${String(v)}" is not an integer`);
  return n === 0 ? undefined : n;
}

export function ociResourcesFromCri(r: CriLinuxResources, o: { cgroupV2: boolean }): { resources: LinuxResources; warnings: string[] } {
  const warnings: string[] = [];
  const res: LinuxResources = cpuMemoryFromCri(r);
  const unified = r.unified ?? {};
  if (Object.keys(unified).length > 0) {
    if (o.cgroupV2) res.unified = { ...unified };
    else warnings.push(`unified cgroup settings (${Object.keys(unified).join(', ')}) skipped: the container is not on cgroup v2`);
  }
  if (num(r.oom_score_adj, 'oom_score_adj') !== undefined) warnings.push('oom_score_adj cannot change after creation (OCI update has no such field); kept as created');
  if ((r.hugepage_limits?.length ?? 0) > 0) warnings.push('hugepage limits are not updated in place; kept as created');
  return { resources: res, warnings };
}
