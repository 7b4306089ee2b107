// The one-line summary of host facts criusd logs at start (the cheap subset of `crius doctor`: no
// mounts, no runtime calls), so an operator reading the log sees at once the kernel, the cgroup mode
// and whether user-namespaced pods can work here.
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import type { Logger } from '../common/logger.js';
import { detectCgroupLayout, type CgroupLayout } from '../cgroup/mode.js';
import { checkKernel, checkUserNamespaces, type UsernsSysctls } from './kernel-checks.js';

interface HostSummary {
  kernel: string;
  cgroupMode: CgroupLayout['mode'];
  /** Kernel new enough and user namespaces enabled. */
  usernsOk: boolean;
  /** Why not, when usernsOk is false. */
  usernsProblem?: string;
}

/** Pure: the summary from the gathered facts. */
export function hostSummary(layout: CgroupLayout, sysctls: UsernsSysctls, kernelRelease: string): HostSummary {
  const problems = [checkKernel(kernelRelease), checkUserNamespaces(sysctls)]
    .filter((c) => c.status === 'fail').map((c) => `${c.detail}; fix: ${c.fix}`);
  return {
    kernel: kernelRelease,
    cgroupMode: layout.mode,
    usernsOk: problems.length === 0,
    ...(problems.length > 0 ? { usernsProblem: problems.join('; ') } : {}),
  };
}

function readSysctl(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

export function readUsernsSysctls(): UsernsSysctls {
  return {
    nsUserExists: existsSync('/proc/self/ns/user'),
    maxUserNamespaces: readSysctl('/proc/sys/user/max_user_namespaces'),
    unprivilegedUsernsClone: readSysctl('/proc/sys/kernel/unprivileged_userns_clone'),
    apparmorRestrictUnprivileged: readSysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns'),
  };
}

/** Logs the summary once (warn when user-namespaced pods cannot run); never fails the start-up. */
export async function logHostSummary(logger: Logger): Promise<HostSummary | undefined> {
  try {
    const s = hostSummary(await detectCgroupLayout(), readUsernsSysctls(), release());
    const fields = { ...s, more: 'crius doctor checks idmap, handlers, conmon and CNI' };
    if (s.usernsOk) logger.info('host', fields);
    else logger.warn('host: user-namespaced pods cannot run', fields);
    return s;
  } catch (err) {
    logger.warn('host summary unavailable', { error: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}
