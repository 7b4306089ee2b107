// Facts about the running kernel that decide what crius may offer (user namespaces, rro, idmap).
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import type { KernelFacts } from '../oci/features.js';

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
