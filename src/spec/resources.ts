// cgroup limits and the OOM score from the CRI's LinuxContainerResources.
import { invalidArgument } from '../common/errors.js';
import { parseInt64 } from '../common/int64.js';
import { containerName, ensureLinux, ensureProcess, type SpecContext, type SpecOpt } from './context.js';
import type { LinuxResources, Spec } from './oci-types.js';

/** The CPU and memory fields of the CRI's LinuxContainerResources (int64s as proto-loader decodes them). */
export interface CriCpuMemory {
  cpu_period?: string | number | null;
  cpu_quota?: string | number | null;
  cpu_shares?: string | number | null;
  memory_limit_in_bytes?: string | number | null;
  memory_swap_limit_in_bytes?: string | number | null;
  cpuset_cpus?: string | null;
  cpuset_mems?: string | null;
}

/**
 * CPU (shares, CFS quota/period, cpuset) and memory (limit, swap) as OCI resources, shared by container
 * creation and UpdateContainerResources. 0 means unset (proto3 default); negatives are refused except
 * cpu_quota, where -1 means "no quota" (cgroup v1 cpu.cfs_quota_us). `what` prefixes error messages.
 */
export function cpuMemoryFromCri(r: CriCpuMemory, what = ''): Pick<LinuxResources, 'cpu' | 'memory'> {
  const prefix = what ? `${what}: ` : '';
  const value = (v: string | number | null | undefined, field: string): number | undefined => {
    const n = parseInt64(v, field);
    if (n === undefined || n === 0) return undefined;
    if (n < 0 && field !== 'cpu_quota') throw invalidArgument(`${prefix}${field} ${n} is negative`);
    return n;
  };
  const out: Pick<LinuxResources, 'cpu' | 'memory'> = {};
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  const shares = value(r.cpu_shares, 'cpu_shares');
  const quota = value(r.cpu_quota, 'cpu_quota');
  const period = value(r.cpu_period, 'cpu_period');
  if (shares !== undefined) cpu.shares = shares;
  if (quota !== undefined) cpu.quota = quota;
  if (period !== undefined) cpu.period = period;
  if (r.cpuset_cpus) cpu.cpus = r.cpuset_cpus;
  if (r.cpuset_mems) cpu.mems = r.cpuset_mems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  const limit = value(r.memory_limit_in_bytes, 'memory_limit_in_bytes');
  const swap = value(r.memory_swap_limit_in_bytes, 'memory_swap_limit_in_bytes');
  if (limit !== undefined || swap !== undefined) {
    out.memory = {};
    if (limit !== undefined) out.memory.limit = limit;
    if (swap !== undefined) out.memory.swap = swap;
  }
  return out;
}

interface ClampedOomScoreAdj {
  value: number;
  clamped: boolean;
}

/**
 * oom_score_adj clamped into [floor, 1000]: without CAP_SYS_RESOURCE a process may raise its value
 * freely but not go below the lowest it had (oci/oom-score.ts reads that floor). Pure; the one clamp.
 */
export function clampOomScoreAdj(requested: number, floor: number): ClampedOomScoreAdj {
  const lo = Math.max(-1000, Math.min(1000, floor));
  const want = Math.max(-1000, Math.min(1000, Math.trunc(requested)));
  return want < lo ? { value: lo, clamped: true } : { value: want, clamped: want !== requested };
}

/** Sets the process's oom_score_adj, raised to the floor with a warning rather than failing. */
export function setOomScoreAdj(spec: Spec, ctx: SpecContext, requested: number, what: string): void {
  const { value, clamped } = clampOomScoreAdj(requested, ctx.runtime.oomScoreAdjMin);
  if (clamped && value > requested) ctx.warnings.push(`${what}: oom_score_adj ${requested} raised to ${value}: crius lacks CAP_SYS_RESOURCE and cannot go below its own value`);
  ensureProcess(spec).oomScoreAdj = value;
}

/**
 * CPU (shares, CFS quota/period, cpuset), memory (limit, swap), pids (runtime config), hugepages
 * (only when the hugetlb controller exists: "hugepages ignored if absent"), unified (cgroup v2 only).
 * 0 means unset for every CRI number (proto3 default). oom_score_adj is clamped to what crius may set:
 * without CAP_SYS_RESOURCE a process cannot go below its parent's value, and failing the container
 * for that would break every Guaranteed pod (kubelet asks -997), so it is clamped with a warning.
 */
export const withResources: SpecOpt = (spec, ctx) => {
  const r = ctx.container.linux?.resources ?? ctx.sandbox.linux?.resources ?? null;
  const linux = ensureLinux(spec);
  const res: LinuxResources = linux.resources ?? {};
  const what = `container "${containerName(ctx)}"`;
  if (r) {
    const cm = cpuMemoryFromCri(r, what);
    if (cm.cpu) res.cpu = { ...(res.cpu ?? {}), ...cm.cpu };
    if (cm.memory) res.memory = { ...(res.memory ?? {}), ...cm.memory };

    const huge = r.hugepage_limits ?? [];
    if (huge.length > 0) {
      if (ctx.runtime.hugetlb) {
        res.hugepageLimits = huge.map((h) => ({ pageSize: h.page_size, limit: parseInt64(h.limit, 'hugepage limit') ?? 0 }));
      } else {
        ctx.warnings.push(`${what}: hugepage limits skipped: this host has no hugetlb cgroup controller`);
      }
    }

    const unified = r.unified ?? {};
    if (Object.keys(unified).length > 0) {
      if (ctx.runtime.cgroupV2) res.unified = { ...unified };
      else ctx.warnings.push(`${what}: unified cgroup settings (${Object.keys(unified).join(', ')}) skipped: the container is not on cgroup v2`);
    }

    const oom = parseInt64(r.oom_score_adj, 'oom_score_adj');
    if (oom !== undefined) {
      if (oom < -1000 || oom > 1000) throw invalidArgument(`${what}: oom_score_adj ${oom} is outside -1000..1000`);
      setOomScoreAdj(spec, ctx, oom, what);
    }
  }
  if (ctx.runtime.pidsLimit !== undefined && ctx.runtime.pidsLimit > 0) res.pids = { limit: ctx.runtime.pidsLimit };
  linux.resources = res;
};

/** The cgroup the runtime creates for the container (beneath crius's own cgroup: chosen by the caller). */
export const withCgroupsPath: SpecOpt = (spec, ctx) => {
  const p = ctx.runtime.cgroupsPath;
  if (p) ensureLinux(spec).cgroupsPath = p;
  else delete ensureLinux(spec).cgroupsPath;
};

/**
 * The pod's sysctls. They are namespaced (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*):
 * the kubelet only allows those, and they land in the pod's shared namespaces whichever container
 * applies them. A net.* sysctl with host network would change the host, so it is refused.
 */
export const withSysctls: SpecOpt = (spec, ctx) => {
  const sysctls = ctx.sandbox.linux?.sysctls ?? {};
  const keys = Object.keys(sysctls);
  if (keys.length === 0) return;
  const ns = ctx.container.linux?.security_context?.namespace_options ?? ctx.sandbox.linux?.security_context?.namespace_options ?? {};
  for (const k of keys) {
    if (k.startsWith('net.') && ns.network === 'NODE') throw invalidArgument(`pod sysctl "${k}" cannot be set with host network: it would change the node; drop it or use the pod network`);
    if ((k.startsWith('kernel.shm') || k.startsWith('kernel.msg') || k === 'kernel.sem' || k.startsWith('fs.mqueue.')) && ns.ipc === 'NODE') {
      throw invalidArgument(`pod sysctl "${k}" cannot be set with host IPC: it would change the node; drop it or use the pod IPC namespace`);
    }
  }
  ensureLinux(spec).sysctl = { ...(spec.linux?.sysctl ?? {}), ...sysctls };
};
