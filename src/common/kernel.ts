// Facts about the running kernel that decide what crius may offer (user namespaces, rro, idmap).
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';

export interface KernelFacts {
  /** Kernel release, e.g. "6.18.44". */
  release: string;
  /** Whether this kernel lets crius create user namespaces (see userns/kernel checks). */
  userNamespaces: boolean;
}

function readNumber(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/**
 * User namespaces work when the kernel has them (/proc/self/ns/user) and user.max_user_namespaces is
 * not 0. (kernel.unprivileged_userns_clone only restricts unprivileged users; crius runs as root.)
 */
export function readKernelFacts(): KernelFacts & { maxUserNamespaces?: number } {
  const max = readNumber('/proc/sys/user/max_user_namespaces');
  return {
    release: release(),
    userNamespaces: existsSync('/proc/self/ns/user') && max !== 0,
    maxUserNamespaces: max,
  };
}

/** The highest number in a kernel CPU list file ("0-3,8" -> 8), or fallback when it cannot be read. */
function highestInList(path: string, fallback: number): number {
  try {
    const text = readFileSync(path, 'utf8').trim();
    const nums = text.split(/[-,]/).map(Number).filter((n) => Number.isInteger(n));
    return nums.length > 0 ? Math.max(...nums) : fallback;
  } catch {
    return fallback;
  }
}

/** Highest CPU and NUMA node number this host can ever have (cpuset values above them are refused). */
export function readHostCpuset(): { maxCpu: number; maxMem: number } {
  return {
    maxCpu: highestInList('/sys/devices/system/cpu/possible', 0),
    // No NUMA (no node directory): node 0 only.
    maxMem: highestInList('/sys/devices/system/node/possible', 0),
  };
}
