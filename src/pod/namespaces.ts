// A pod's net, ipc and uts namespaces, pinned at files (nsfs bind mounts) so they live without any
// process, like CRI-O's pinns (cri-o pinns/src/pinns.c). util-linux `unshare --net=F --uts=F --ipc=F
// CMD` creates the namespaces, binds them onto the files and runs CMD inside them: CMD sets the hostname
// and the pod's sysctls by writing /proc/sys, whose kernel.hostname, net.*, kernel.shm*/msg*/sem and
// fs.mqueue.* entries follow the writer's namespaces. One process start per pod; nothing stays running.
// The PID namespace cannot be pinned this way (it needs a live init): pods with PID mode POD get an
// infra process (native/crius-pause, see infra-rootfs.ts).
// Pods with a user namespace get it and, inside it, their net, uts and ipc namespaces from one call of
// native/crius-userns (pinUsernsPodNamespaces), so the pod's user namespace owns them: a netns owned by
// the host userns breaks sysfs in the pod (mounting sysfs needs CAP_SYS_ADMIN over the netns's owner;
// containerd creates the netns inside the pod's userns for this, setupNetnsWithinUserns, PR #10607);
// their sysctls then go through applyPodSysctls.
// createPodNamespaces picks the form; removePinnedNamespaces takes either apart.
import { statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { CriusError, internal, invalidArgument, wrap } from '../common/errors.js';
import { ExecError, run, type Runner } from '../common/exec.js';
import { nsfsDev, pinWithUsernsHelper, removeNamespaceFiles, touchPinTarget, type IdMappingPair } from '../userns/userns-file.js';
import { mapArg } from '../userns/mapping-rules.js';
import type { NamespaceRequest } from './ports.js';
import type { PodNamespacePaths } from './types.js';

const UNSHARE = '/usr/bin/unshare';
const NSENTER = '/usr/bin/nsenter';
const SH = '/bin/sh';
const UMOUNT = '/usr/bin/umount';

/** The pinned files (the pid namespace is never pinned: it needs a live process). */
export type PinnedNamespaces = Omit<PodNamespacePaths, 'pid'>;

interface PinRequest {
  /** Directory for the files, e.g. <state>/ns/<podId>; created if missing. */
  dir: string;
  /** Pin a new netns (false: host network, no file). */
  net: boolean;
  /** Pin a new ipc ns (false: host IPC). */
  ipc: boolean;
  /** Pin a new uts ns (false only for host network pods, which share the host's hostname). */
  uts: boolean;
  /** Set inside the new uts ns. */
  hostname?: string;
  /** Namespaced sysctls, applied inside the new namespaces. */
  sysctls?: Record<string, string>;
}

// A sysctl is namespaced (safe to set per pod) only in these families (kubelet's namespaced-sysctl
// list, pkg/kubelet/sysctl): which namespace each follows decides whether the pod must own that ns.
export function sysctlNamespace(key: string): 'net' | 'ipc' | 'uts' | undefined {
  const k = key.replace(/\//g, '.');
  if (k.startsWith('net.')) return 'net';
  if (/^kernel\.(shm_rmid_forced|shmmax|shmall|shmmni|msgmax|msgmnb|msgmni|sem)$/.test(k) || k.startsWith('fs.mqueue.')) return 'ipc';
  if (k === 'kernel.hostname' || k === 'kernel.domainname') return 'uts';
  return undefined;
}

/** /proc/sys path of a sysctl key ("net.ipv4.ip_forward" or "net/ipv4/conf/eth0.100/rp_filter"). Pure. */
export function sysctlPath(key: string): string {
  if (!/^[A-Za-z0-9_./-]+$/.test(key) || key.split(/[./]/).some((s) => s === '' || s === '..')) {
    throw invalidArgument(`sysctl "${key}" is not a valid name: use dot- or slash-separated segments of letters, digits, "_" and "-"`);
  }
  return `/proc/sys/${key.includes('/') ? key : key.replace(/\./g, '/')}`;
}

/**
 * Checks the pod's sysctls against its namespaces: each must be namespaced and the pod must own that
 * namespace (a net.* sysctl on a host-network pod would change the host). Pure.
 */
export function checkSysctls(sysctls: Record<string, string>, own: { net: boolean; ipc: boolean; uts: boolean }): void {
  for (const [key, value] of Object.entries(sysctls)) {
    sysctlPath(key);
    const ns = sysctlNamespace(key);
    if (ns === undefined) throw invalidArgument(`sysctl "${key}" is not namespaced; only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* can be set per pod`);
    if (!own[ns]) throw invalidArgument(`sysctl "${key}" needs the pod's own ${ns} namespace, but the pod uses the host's (host${ns === 'net' ? 'Network' : ns === 'ipc' ? 'IPC' : 'Network'})`);
    if (/[\n\0]/.test(value)) throw invalidArgument(`sysctl "${key}" has a value with a newline or NUL`);
  }
}

// Runs inside the new namespaces: "$1" is the hostname ("" = leave), then key/value pairs of /proc/sys
// paths. Values are positional parameters, never parsed by the shell.
const APPLY_SCRIPT = 'h=$1; shift; if [ -n "$h" ]; then printf %s "$h" > /proc/sys/kernel/hostname || exit 1; fi; ' +
  'while [ $# -gt 1 ]; do printf %s "$2" > "$1" || { echo "cannot set $1" >&2; exit 1; }; shift 2; done';

function applyArgs(hostname: string | undefined, sysctls: Record<string, string>): string[] {
  return [SH, '-c', APPLY_SCRIPT, 'crius-ns', hostname ?? '', ...Object.entries(sysctls).flatMap(([k, v]) => [sysctlPath(k), v])];
}

function nsError(what: string, err: unknown): CriusError {
  if (err instanceof CriusError) return err;
  if (err instanceof ExecError) {
    const stderr = err.stderr.trim();
    if (err.code !== null && /cannot set|Permission denied|Invalid argument|No such file/.test(stderr)) {
      return invalidArgument(`${what}: ${stderr.split('\n').slice(-2).join(' | ')} (a sysctl or the hostname was rejected by the kernel)`);
    }
    return internal(`${what}: ${stderr || err.message}`, err);
  }
  return internal(`${what}: ${err instanceof Error ? err.message : String(err)}`, err);
}

/** Creates and pins the requested namespaces under req.dir; applies hostname and sysctls inside. */
export async function pinPodNamespaces(req: PinRequest, runner: Runner = run): Promise<PinnedNamespaces> {
  const sysctls = req.sysctls ?? {};
  checkSysctls(sysctls, { net: req.net, ipc: req.ipc, uts: req.uts });
  if (req.hostname !== undefined && req.hostname !== '' && !req.uts) {
    throw invalidArgument('a hostname can only be set in the pod\'s own UTS namespace (not with host networking)');
  }
  const out: PinnedNamespaces = {};
  if (req.net) out.net = path.join(req.dir, 'net');
  if (req.ipc) out.ipc = path.join(req.dir, 'ipc');
  if (req.uts) out.uts = path.join(req.dir, 'uts');
  const files = Object.values(out) as string[];
  if (files.length === 0) return out;
  const what = `pin namespaces (${Object.keys(out).join(', ')}) in ${req.dir}`;
  try {
    await mkdir(req.dir, { recursive: true, mode: 0o700 });
    for (const f of files) await touchPinTarget(f);
    const args: string[] = [];
    if (out.net) args.push(`--net=${out.net}`);
    if (out.ipc) args.push(`--ipc=${out.ipc}`);
    if (out.uts) args.push(`--uts=${out.uts}`);
    await runner(UNSHARE, [...args, ...applyArgs(req.hostname, sysctls)], { timeoutMs: 15_000 });
  } catch (err) {
    await removeNamespaceFiles(files, runner).catch(() => undefined);
    throw nsError(what, err);
  }
  return out;
}

interface PodNamespaceFiles {
  user: string;
  net: string;
  uts: string;
  ipc: string;
}

/** A hostname set inside at creation: RFC 1123 labels (anything else is the caller's to set or refuse). */
const PLAIN_HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,62})$/;

/**
 * Creates the pod's user namespace and, inside it, its net, uts and ipc namespaces, all pinned at the
 * given files. The pid namespace is left to the OCI runtime (it needs a process to live).
 */
export async function pinUsernsPodNamespaces(files: PodNamespaceFiles, map: IdMappingPair, runner: Runner = run, opts: { hostname?: string } = {}): Promise<void> {
  // With a hostname, the helper's child sets it as root of the new user namespace, which owns the new
  // UTS namespace, so sethostname(2) is allowed there. That saves a separate nsenter spawn per pod.
  const inside = opts.hostname !== undefined && canSetHostnameInside(opts.hostname, map) ? ['--hostname', opts.hostname] : [];
  await pinWithUsernsHelper([files.user, files.net, files.uts, files.ipc], map, [
    '--uid', mapArg(map.uid), '--gid', mapArg(map.gid),
    '--user', files.user, '--net', files.net, '--uts', files.uts, '--ipc', files.ipc, ...inside,
  ], `create pod namespaces (uids ${mapArg(map.uid)}, gids ${mapArg(map.gid)}) at ${files.user}`, runner);
}

/**
 * Whether pinUsernsPodNamespaces sets this hostname itself (else the caller must, e.g. applyPodSysctls):
 * a plain RFC 1123 name, and uid/gid 0 mapped (KEP-127 pod mappings start at 0).
 */
export function canSetHostnameInside(hostname: string, map: IdMappingPair): boolean {
  return PLAIN_HOSTNAME.test(hostname) && map.uid.containerId === 0 && map.gid.containerId === 0;
}

/**
 * The pod's namespaces, pinned under req.dir: inside the pod's user namespace when it has one (the
 * netns is then owned by it), else the host's (pinPodNamespaces).
 */
export async function createPodNamespaces(req: NamespaceRequest, runner: Runner = run): Promise<{ paths: PodNamespacePaths; netnsOwnedByUserns: boolean }> {
  if (req.userns.kind === 'pod') {
    checkSysctls(req.sysctls, { net: true, ipc: true, uts: true });
    const files = { user: path.join(req.dir, 'user'), net: path.join(req.dir, 'net'), uts: path.join(req.dir, 'uts'), ipc: path.join(req.dir, 'ipc') };
    await mkdir(req.dir, { recursive: true, mode: 0o711 });
    const map = { uid: req.userns.uid, gid: req.userns.gid };
    // The hostname is set by the process that creates the namespaces when it can be: one spawn per pod.
    const setInside = canSetHostnameInside(req.hostname, map);
    await pinUsernsPodNamespaces(files, map, runner, setInside ? { hostname: req.hostname } : {});
    // No `ip link set lo up` here: CNI ADD brings lo up in every pinned netns (network/cni.ts), and a
    // user-namespaced pod always has its own netns and goes through CNI (host network with a user
    // namespace is refused), so a second nsenter+ip spawn per pod would only cost time.
    try {
      await applyPodSysctls(files, req.sysctls, setInside ? undefined : req.hostname, runner);
    } catch (err) {
      await removeNamespaceFiles(Object.values(files), runner).catch(() => undefined);
      throw wrap('set up the pod namespaces', err);
    }
    return { paths: files, netnsOwnedByUserns: true };
  }
  const paths = await pinPodNamespaces({
    dir: req.dir, net: !req.hostNetwork, ipc: !req.hostIpc, uts: !req.hostNetwork,
    hostname: req.hostNetwork ? undefined : req.hostname, sysctls: req.sysctls,
  }, runner);
  // No user namespace: nothing owns the netns but the host's, which is what the pod runs in.
  return { paths, netnsOwnedByUserns: true };
}

/** Sets sysctls (and optionally the hostname) inside already pinned namespaces (e.g. a userns pod's). */
export async function applyPodSysctls(ns: PinnedNamespaces, sysctls: Record<string, string>, hostname?: string, runner: Runner = run): Promise<void> {
  checkSysctls(sysctls, { net: ns.net !== undefined, ipc: ns.ipc !== undefined, uts: ns.uts !== undefined });
  if (Object.keys(sysctls).length === 0 && !hostname) return;
  const args: string[] = [];
  // Host root may write the /proc/sys entries of namespaces owned by a pod user namespace, so there is
  // no need to enter it.
  if (ns.net) args.push(`--net=${ns.net}`);
  if (ns.ipc) args.push(`--ipc=${ns.ipc}`);
  if (ns.uts) args.push(`--uts=${ns.uts}`);
  try {
    await runner(NSENTER, [...args, ...applyArgs(hostname, sysctls)], { timeoutMs: 15_000 });
  } catch (err) {
    throw nsError('apply pod sysctls', err);
  }
}

/** The files a namespace is still bound on: their stat is nsfs's (a stat each, not a mountinfo read). */
function mountedAmong(files: readonly string[]): string[] {
  const dev = nsfsDev();
  return files.filter((f) => {
    try {
      return statSync(f).dev === dev;
    } catch {
      return false;
    }
  });
}

/**
 * Unpins (lazy unmount, all files in one umount call, repeated for stacked pins) and removes the files;
 * idempotent, missing files are fine.
 */
export async function removePinnedNamespaces(ns: PinnedNamespaces, runner: Runner = run): Promise<void> {
  const files = [ns.net, ns.ipc, ns.uts, ns.user].filter((f): f is string => f !== undefined);
  try {
    for (let i = 0; i < 8; i++) {
      const mounted = mountedAmong(files);
      if (mounted.length === 0) break;
      await runner(UMOUNT, ['-l', ...mounted], { timeoutMs: 10_000 });
    }
    for (const f of files) await rm(f, { force: true });
  } catch {
    // Fall back to one file at a time, which names the file that cannot be removed.
    await removeNamespaceFiles(files, runner).catch((e: unknown) => { throw wrap('remove pod namespaces', e); });
  }
}
