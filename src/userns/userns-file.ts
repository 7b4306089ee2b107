// User namespaces pinned at files (nsfs bind mounts), so they outlive the process that created them:
// - a bare user namespace for idmap probes and idmapped rootfs/volume mounts (a mount_setattr userns fd);
// - the pod form: a user namespace with the net, uts and ipc namespaces created inside it in the same
//   unshare(2) call, so they are owned by the pod's user namespace. A netns owned by the host userns
//   breaks sysfs in the pod (mounting sysfs needs CAP_SYS_ADMIN over the netns's owner; containerd
//   creates the netns inside the pod's userns for this, setupNetnsWithinUserns, PR #10607).
// native/build/crius-userns forks a child into a new user namespace, writes its uid_map/gid_map from
// outside, lets it unshare net/uts/ipc (and set the hostname) as root of that namespace, and bind-mounts
// the namespaces onto the files. util-linux `unshare --map-users` is not used: Debian 12's 2.38 maps only
// through newuidmap (uidmap package, /etc/subuid entries for root) and 2.39 changed the option's syntax.
import { open, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { nativeBuildPath } from '../common/install-root.js';
import { alreadyExists, CriusError, failedPrecondition, internal, invalidArgument, wrap } from '../common/errors.js';
import { ExecError, run, type Runner } from '../common/exec.js';
import { MAX_ID, mapArg, type IdRange } from './mapping-rules.js';

export interface IdMappingPair {
  uid: IdRange;
  gid: IdRange;
}

export interface PodNamespaceFiles {
  user: string;
  net: string;
  uts: string;
  ipc: string;
}

const UMOUNT = '/usr/bin/umount';

/** native/build/crius-userns. */
export function usernsHelperPath(): string {
  return nativeBuildPath('crius-userns');
}

/** A hostname set inside at creation: RFC 1123 labels (anything else is the caller's to set or refuse). */
const PLAIN_HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,62})$/;

async function touch(file: string): Promise<void> {
  // The bind-mount target must exist; 0444 like the files `ip netns` makes.
  const fh = await open(file, 'a', 0o444);
  await fh.close();
}

function helperError(what: string, err: unknown): CriusError {
  if (err instanceof ExecError && err.notFound) {
    return failedPrecondition(`${what}: ${usernsHelperPath()} is missing; build crius's native helpers (make -C native, npm run build:native)`);
  }
  const stderr = err instanceof ExecError ? err.stderr.trim() : '';
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

export function checkMapping(map: IdMappingPair): void {
  checkRange(map.uid, 'uid');
  checkRange(map.gid, 'gid');
}

async function createPinned(files: string[], map: IdMappingPair, args: string[], what: string, runner: Runner): Promise<void> {
  checkMapping(map);
  // A second bind would stack on the first and hide it; a leftover pin is the caller's to remove.
  const pinned = files.find(isMountPoint);
  if (pinned) throw alreadyExists(`${what}: ${pinned} already pins a namespace; remove it first (removeNamespaceFiles)`);
  try {
    for (const f of files) await touch(f);
    await runner(usernsHelperPath(), args, { timeoutMs: 15_000 });
  } catch (err) {
    // Leave nothing behind: whatever got bound is unmounted and the files are removed.
    await removeNamespaceFiles(files, runner).catch(() => {});
    if (err instanceof CriusError) throw err;
    throw helperError(what, err);
  }
}

/** Creates a user namespace with the given mappings, pinned at `file` (created if missing). */
export async function createUsernsFile(file: string, map: IdMappingPair, runner: Runner = run): Promise<void> {
  await createPinned([file], map, ['--uid', mapArg(map.uid), '--gid', mapArg(map.gid), '--user', file], `create user namespace (uids ${mapArg(map.uid)}, gids ${mapArg(map.gid)}) at ${file}`, runner);
}

/**
 * Creates the pod's user namespace and, inside it, its net, uts and ipc namespaces, all pinned at the
 * given files. The pid namespace is left to the OCI runtime (it needs a process to live).
 */
export async function createPodNamespaces(files: PodNamespaceFiles, map: IdMappingPair, runner: Runner = run, opts: { hostname?: string } = {}): Promise<void> {
  // With a hostname, the helper's child sets it as root of the new user namespace, which owns the new
  // UTS namespace, so sethostname(2) is allowed there. That saves a separate nsenter spawn per pod.
  const inside = opts.hostname !== undefined && canSetHostnameInside(opts.hostname, map) ? ['--hostname', opts.hostname] : [];
  await createPinned([files.user, files.net, files.uts, files.ipc], map, [
    '--uid', mapArg(map.uid), '--gid', mapArg(map.gid),
    '--user', files.user, '--net', files.net, '--uts', files.uts, '--ipc', files.ipc, ...inside,
  ], `create pod namespaces (uids ${mapArg(map.uid)}, gids ${mapArg(map.gid)}) at ${files.user}`, runner);
}

/**
 * Whether createPodNamespaces sets this hostname itself (else the caller must, e.g. applyPodSysctls):
 * a plain RFC 1123 name, and uid/gid 0 mapped (KEP-127 pod mappings start at 0), as before.
 */
export function canSetHostnameInside(hostname: string, map: IdMappingPair): boolean {
  return PLAIN_HOSTNAME.test(hostname) && map.uid.containerId === 0 && map.gid.containerId === 0;
}

function isMountPoint(path: string): boolean {
  // Pins are bind mounts on the file itself: the mount point field equals the path. (Paths with spaces are
  // octal-escaped in mountinfo.)
  const esc = path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  return text.split('\n').some((l) => l.split(' ')[4] === esc);
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

export const removePodNamespaces = (files: PodNamespaceFiles, runner: Runner = run): Promise<void> =>
  removeNamespaceFiles([files.net, files.uts, files.ipc, files.user], runner);

/** The uid_map/gid_map of a pinned user namespace, as the kernel shows them (lines "inside outside count"). */
export async function readPinnedMaps(file: string, runner: Runner = run): Promise<{ uidMap: string; gidMap: string }> {
  const r = await runner('/usr/bin/nsenter', [`--user=${file}`, '/bin/cat', '/proc/self/uid_map', '/proc/self/gid_map']);
  const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  return { uidMap: lines[0] ?? '', gidMap: lines[1] ?? '' };
}
