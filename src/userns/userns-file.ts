// User namespaces pinned at files (nsfs bind mounts), so they outlive the process that created them:
// - a bare user namespace for idmap probes and idmapped rootfs/volume mounts (a mount_setattr userns fd);
// - through pinWithPodnsHelper, every pod's namespaces (pod/namespaces.ts, where all pod namespace
//   pinning lives): with a user namespace, the net, uts and ipc namespaces are created inside it.
// native/build/crius-podns forks a child into a new user namespace, writes its uid_map/gid_map from
// outside, lets it unshare net/uts/ipc (and set the hostname and sysctls) as root of that namespace, and
// bind-mounts the namespaces onto the files. util-linux `unshare --map-users` is not used: Debian 12's
// 2.38 maps only through newuidmap (uidmap package, /etc/subuid entries for root) and 2.39 changed the
// option's syntax.
import { rm } from 'node:fs/promises';
import { readFileSync, statSync } from 'node:fs';
import { nativeBuildPath } from '../common/install-root.js';
import { alreadyExists, CriusError, failedPrecondition, internal, invalidArgument, wrap } from '../common/errors.js';
import { ExecError, run, type Runner } from '../common/exec.js';
import { MAX_ID, mapArg, type IdRange } from './mapping-rules.js';

export interface IdMappingPair {
  uid: IdRange;
  gid: IdRange;
}

const UMOUNT = '/usr/bin/umount';

/** native/build/crius-podns. */
function podnsHelperPath(): string {
  return nativeBuildPath('crius-podns');
}

function helperError(what: string, err: unknown): CriusError {
  if (err instanceof ExecError && err.notFound) {
    return failedPrecondition(`${what}: ${podnsHelperPath()} is missing; build crius's native helpers (make -C native, npm run build:native)`);
  }
  const stderr = err instanceof ExecError ? err.stderr.trim() : '';
  // The helper names a sysctl or hostname the kernel refused ("cannot set PATH: REASON"): the pod's.
  const refused = stderr.split('\n').filter((l) => l.includes('cannot set'));
  if (err instanceof ExecError && err.code !== null && refused.length > 0) {
    return invalidArgument(`${what}: ${refused.join(' | ')} (a sysctl or the hostname was rejected by the kernel)`);
  }
  if (/Invalid argument|Operation not permitted|No space left/.test(stderr) && maxUserNamespaces() === 0) {
    return failedPrecondition(`${what}: user namespaces are disabled (user.max_user_namespaces = 0); set the sysctl above 0`);
  }
  return internal(`${what}: ${err instanceof Error ? err.message : String(err)}`, err);
}

function maxUserNamespaces(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/user/max_user_namespaces', 'utf8').trim());
  } catch {
    return undefined;
  }
}

// The kernel would take a range running past 4294967295 as wrapping into an ID that maps to host root
// (seen with util-linux 2.41's unshare), and the helper checks too; check here first for a clear error.
function checkRange(r: IdRange, what: string): void {
  const ok = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= MAX_ID;
  if (!ok(r.containerId) || !ok(r.hostId) || !Number.isInteger(r.length) || r.length < 1 ||
      r.hostId + r.length - 1 > MAX_ID || r.containerId + r.length - 1 > MAX_ID) {
    throw invalidArgument(`${what} mapping ${mapArg(r)} is invalid: IDs must be integers, length >= 1, and the range must end at or below ${MAX_ID}`);
  }
}

function checkMapping(map: IdMappingPair): void {
  checkRange(map.uid, 'uid');
  checkRange(map.gid, 'gid');
}

/**
 * Runs crius-podns with args to create namespaces pinned at files (a user namespace with the given
 * mappings among them when map is given); on failure nothing is left behind.
 */
export async function pinWithPodnsHelper(files: string[], map: IdMappingPair | undefined, args: string[], what: string, runner: Runner): Promise<void> {
  if (map) checkMapping(map);
  // A second bind would stack on the first and hide it; a leftover pin is the caller's to remove.
  const pinned = files.find(isMountPoint);
  if (pinned) throw alreadyExists(`${what}: ${pinned} already pins a namespace; remove it first (removeNamespaceFiles)`);
  try {
    // The helper creates the files it binds onto (0444, like `ip netns`'s).
    await runner(podnsHelperPath(), args, { timeoutMs: 15_000 });
  } catch (err) {
    // Leave nothing behind: whatever got bound is unmounted and the files are removed.
    await removeNamespaceFiles(files, runner).catch(() => {});
    if (err instanceof CriusError) throw err;
    throw helperError(what, err);
  }
}

/** Creates a user namespace with the given mappings, pinned at `file` (created if missing). */
export async function createUsernsFile(file: string, map: IdMappingPair, runner: Runner = run): Promise<void> {
  await pinWithPodnsHelper([file], map, ['--uid', mapArg(map.uid), '--gid', mapArg(map.gid), '--user', file], `create user namespace (uids ${mapArg(map.uid)}, gids ${mapArg(map.gid)}) at ${file}`, runner);
}

let nsfs: number | undefined;

/** st_dev of nsfs, the filesystem of every namespace file (/proc/PID/ns/* and their bind mounts). */
export function nsfsDev(): number {
  return (nsfs ??= statSync('/proc/self/ns/net').dev);
}

/**
 * Whether a namespace is bind-mounted on `path` (a pin). A pin's stat is the namespace's nsfs inode, so
 * its st_dev is nsfs's; the placeholder file underneath is on another filesystem. One stat instead of
 * reading /proc/self/mountinfo, which with 1,000 pods is ~600 KB (and was read on every pod start).
 */
function isMountPoint(path: string): boolean {
  try {
    return statSync(path).dev === nsfsDev();
  } catch {
    return false;
  }
}

/** Unpins (lazy unmount, repeated for stacked pins) and unlinks each file. Missing files are fine. */
export async function removeNamespaceFiles(files: readonly string[], runner: Runner = run): Promise<void> {
  const errors: string[] = [];
  for (const f of files) {
    try {
      for (let i = 0; i < 8 && isMountPoint(f); i++) await runner(UMOUNT, ['-l', f], { timeoutMs: 10_000 });
      await rm(f, { force: true });
    } catch (err) {
      errors.push(`${f}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (errors.length > 0) throw internal(`remove namespace files: ${errors.join('; ')}`);
}

export const removeUsernsFile = (file: string, runner: Runner = run): Promise<void> =>
  removeNamespaceFiles([file], runner).catch((err: unknown) => { throw wrap(`remove user namespace ${file}`, err); });

/** The uid_map/gid_map of a pinned user namespace, as the kernel shows them (lines "inside outside count"). */
export async function readPinnedMaps(file: string, runner: Runner = run): Promise<{ uidMap: string; gidMap: string }> {
  const r = await runner('/usr/bin/nsenter', [`--user=${file}`, '/bin/cat', '/proc/self/uid_map', '/proc/self/gid_map']);
  const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  return { uidMap: lines[0] ?? '', gidMap: lines[1] ?? '' };
}
