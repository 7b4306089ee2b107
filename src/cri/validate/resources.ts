// LinuxContainerResources numbers the kernel would refuse (EINVAL deep inside the runtime, reported as
// INTERNAL) or that make no sense: refused at the edge, naming the field, before the runtime is called.
import { invalidArgument } from '../../common/errors.js';
import { shown } from './text.js';
import { parseInt64 } from '../../common/int64.js';
import type { CriCpuMemory } from '../../spec/resources.js';

/** CFS bandwidth (kernel/sched/core.c): period within 1 ms..1 s, quota at least 1 ms, in microseconds. */
const MIN_CFS_PERIOD_US = 1000;
const MAX_CFS_PERIOD_US = 1_000_000;
const MIN_CFS_QUOTA_US = 1000;
/** cpu.shares range (cgroup v1; the kubelet's MinShares and MaxShares). */
const MIN_CPU_SHARES = 2;
const MAX_CPU_SHARES = 262_144;

/** Highest CPU and memory-node number this host can have (/sys/devices/system/{cpu,node}/possible). */
export interface HostCpuset {
  maxCpu: number;
  maxMem: number;
}

/** The CPU fields checked here, as spec/ reads them. */
export type ResourcesInput = Pick<CriCpuMemory, 'cpu_period' | 'cpu_quota' | 'cpu_shares' | 'cpuset_cpus' | 'cpuset_mems'>;

/** 0 when unset (proto3's default). */
const int = (v: string | number | null | undefined, field: string): number => parseInt64(v, field) ?? 0;

/** Parses a cpuset list ("0-3,8,10-11") into its highest number; refuses bad syntax, reversed ranges and numbers above max. */
export function parseCpuList(list: string, max: number, field: string): number {
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(list)) throw invalidArgument(`${field} ${shown(list)} is not a list such as "0-3,8"`);
  let highest = 0;
  for (const part of list.split(',')) {
    const [a, b = a] = part.split('-').map(Number) as [number, number?];
    if (b < a) throw invalidArgument(`${field} ${shown(list)}: range ${part} is reversed`);
    if (b > max) throw invalidArgument(`${field} ${shown(list)} names ${b}, but this node's highest is ${max}`);
    highest = Math.max(highest, b);
  }
  return highest;
}

/** `field` is the resources message's path, e.g. "config.linux.resources". 0 means unset (proto3). */
export function checkResources(r: ResourcesInput | null | undefined, field: string, host: HostCpuset): void {
  if (!r) return;
  const period = int(r.cpu_period, `${field}.cpu_period`);
  if (period !== 0 && (period < MIN_CFS_PERIOD_US || period > MAX_CFS_PERIOD_US)) {
    throw invalidArgument(`${field}.cpu_period ${period} is outside ${MIN_CFS_PERIOD_US}..${MAX_CFS_PERIOD_US} microseconds (the kernel's CFS period range)`);
  }
  const quota = int(r.cpu_quota, `${field}.cpu_quota`);
  if (quota !== 0 && quota !== -1 && quota < MIN_CFS_QUOTA_US) {
    throw invalidArgument(`${field}.cpu_quota ${quota} must be -1 (no limit) or at least ${MIN_CFS_QUOTA_US} microseconds`);
  }
  const shares = int(r.cpu_shares, `${field}.cpu_shares`);
  if (shares !== 0 && (shares < MIN_CPU_SHARES || shares > MAX_CPU_SHARES)) {
    throw invalidArgument(`${field}.cpu_shares ${shares} is outside ${MIN_CPU_SHARES}..${MAX_CPU_SHARES}`);
  }
  if (r.cpuset_cpus) parseCpuList(r.cpuset_cpus, host.maxCpu, `${field}.cpuset_cpus`);
  if (r.cpuset_mems) parseCpuList(r.cpuset_mems, host.maxMem, `${field}.cpuset_mems`);
}
