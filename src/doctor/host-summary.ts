// The one-line summary of host facts criusd logs at start (the cheap subset of `crius doctor`: no
// mounts, no runtime calls), so an operator reading the log sees at once whether user-namespaced pods
// can work here and why crun runs through a wrapper.
import { release } from 'node:os';
import type { CgroupLayout } from '../oci/cgroup-mode.js';
import { checkKernel, checkUserNamespaces, type UsernsSysctls } from './kernel-checks.js';

export interface HostSummary {
  kernel: string;
  cgroupMode: CgroupLayout['mode'];
  /** Kernel new enough and user namespaces enabled. */
  usernsOk: boolean;
  /** Why not, when usernsOk is false. */
  usernsProblem?: string;
  hint: string;
}

export function hostSummary(layout: CgroupLayout, sysctls: UsernsSysctls, kernelRelease: string = release()): HostSummary {
  const k = checkKernel(kernelRelease);
  const u = checkUserNamespaces(sysctls);
  const problems = [k, u].filter((c) => c.status === 'fail').map((c) => `${c.detail}: ${c.fix}`);
  return {
    kernel: kernelRelease,
    cgroupMode: layout.mode,
    usernsOk: problems.length === 0,
    ...(problems.length > 0 ? { usernsProblem: problems.join('; ') } : {}),
    hint: 'run `crius doctor` for the full host check (idmap probes, handlers, conmon, CNI)',
  };
}
