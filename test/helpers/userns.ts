// Shared checks for tests of user namespaces and idmapped mounts: why a test must be skipped on this host.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultIdmapHelperPath } from '../../src/userns/idmap-helper.js';

/** The reason user-namespace integration tests cannot run here, or undefined when they can. */
export function usernsSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync('/proc/self/ns/user')) return 'kernel without user namespaces';
  const max = Number(readFileSync('/proc/sys/user/max_user_namespaces', 'utf8').trim());
  if (max === 0) return 'user.max_user_namespaces is 0';
  if (!existsSync(defaultIdmapHelperPath())) return `native helper ${defaultIdmapHelperPath()} not built (make -C native)`;
  return undefined;
}

export { mountsUnder } from '../../src/common/mountinfo.js';

export const tempDir = (prefix: string): Promise<string> => mkdtemp(join(tmpdir(), prefix));
