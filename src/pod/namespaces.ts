// A pod's namespaces, pinned at files (nsfs bind mounts) so they live without any process, like CRI-O's
// pinns (cri-o pinns/src/pinns.c): one start of native/crius-podns per pod creates them, binds them onto
// the files, brings up lo in the netns, sets the hostname and the pod's sysctls inside them, and mounts
// the pod's /dev/shm tmpfs (five process starts before: unshare, sh, mount, nsenter and ip; ~8 ms of
// RunPodSandbox on this host, plus two processes competing with the CNI plugins for the CPUs).
// Pods with a user namespace get it from the same call, and their net, uts and ipc namespaces are created
// inside it, so the pod's user namespace owns them: a netns owned by the host userns breaks sysfs in the
// pod (mounting sysfs needs CAP_SYS_ADMIN over the netns's owner; containerd creates the netns inside the
// pod's userns for this, setupNetnsWithinUserns, PR #10607).
// The PID namespace cannot be pinned this way (it needs a live init): pods with PID mode POD get an
// infra process (native/crius-pause, see infra-rootfs.ts).
// createPodNamespaces picks the files for a pod; removePinnedNamespaces takes them apart.
import { statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { invalidArgument, wrap } from '../common/errors.js';
import { run, type Runner } from '../common/exec.js';
import { nsfsDev, pinWithPodnsHelper, removeNamespaceFiles, type IdMappingPair } from '../userns/userns-file.js';
import { mapArg } from '../userns/mapping-rules.js';
import type { NamespaceRequest, ShmRequest } from './ports.js';
import type { PodNamespacePaths } from './types.js';

const UMOUNT = '/usr/bin/umount';

/** The pinned files (the pid namespace is never pinned: it needs a live process). */
export type PinnedNamespaces = Omit<PodNamespacePaths, 'pid'>;

/** What crius-podns sets up along with the namespaces. */
interface NamespaceSettings {
  /** Set inside the new uts ns. */
  hostname?: string;
  /** Namespaced sysctls, applied inside the new namespaces. */
  sysctls?: Record<string, string>;
  /** A user namespace with these mappings, pinned too, that owns the others. */
  userns?: IdMappingPair;
  /** The pod's /dev/shm tmpfs, mounted by the same call. */
  shm?: ShmRequest;
}

interface PinRequest extends NamespaceSettings {
  /** Directory for the files, e.g. <state>/ns/<podId>; created if missing. */
  dir: string;
  /** Pin a new netns (false: host network, no file). */
  net: boolean;
  /** Pin a new ipc ns (false: host IPC). */
  ipc: boolean;
  /** Pin a new uts ns (false only for host network pods, which share the host's hostname). */
  uts: boolean;
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

/** The files of one pod's pinned namespaces. */
interface NamespaceFiles extends PinnedNamespaces {
  user?: string;
}

/** crius-podns's arguments for these files and settings. Pure. */
export function podnsArgs(files: NamespaceFiles, o: NamespaceSettings): string[] {
  const args: string[] = [];
  if (o.userns) {
    if (!files.user) throw invalidArgument('a user namespace mapping needs a file to pin the user namespace on');
    args.push('--uid', mapArg(o.userns.uid), '--gid', mapArg(o.userns.gid), '--user', files.user);
  }
  if (files.net) args.push('--net', files.net);
  if (files.uts) args.push('--uts', files.uts);
  if (files.ipc) args.push('--ipc', files.ipc);
  if (o.hostname) args.push('--hostname', o.hostname);
  for (const [key, value] of Object.entries(o.sysctls ?? {})) args.push('--sysctl', sysctlPath(key), value);
  if (o.shm) {
    const { sizeBytes, owner } = o.shm;
    args.push('--shm', o.shm.dir, '--shm-options', `mode=1777,size=${sizeBytes},uid=${owner.uid},gid=${owner.gid}`);
  }
  return args;
}

/** Refuses settings the namespaces being made cannot take: a sysctl or hostname for one the pod shares with the host. */
function checkSettings(files: NamespaceFiles, o: NamespaceSettings): void {
  checkSysctls(o.sysctls ?? {}, { net: files.net !== undefined, ipc: files.ipc !== undefined, uts: files.uts !== undefined });
  if (o.hostname !== undefined && o.hostname !== '' && !files.uts) {
    throw invalidArgument('a hostname can only be set in the pod\'s own UTS namespace (not with host networking)');
  }
  if (o.hostname !== undefined && /[\0\n]/.test(o.hostname)) throw invalidArgument(`hostname ${JSON.stringify(o.hostname)} has a newline or NUL`);
}

/**
 * Creates the namespaces named by files (a user namespace first, owning the others, when o.userns is
 * given), pins them there, applies the hostname and sysctls inside and mounts o.shm, in one call of
 * crius-podns. On failure no pin is left; the helper unmounts the tmpfs itself when it fails, but one
 * killed mid-way (timeout) can leave it mounted, for the caller's undo (the pod's 'shm' step).
 */
async function pinNamespaceFiles(files: NamespaceFiles, o: NamespaceSettings, what: string, runner: Runner): Promise<void> {
  checkSettings(files, o);
  const pins = Object.values(files).filter((f): f is string => f !== undefined);
  await pinWithPodnsHelper(pins, o.userns, podnsArgs(files, o), what, runner);
}

/** Creates and pins the requested namespaces under req.dir; applies hostname and sysctls inside. */
export async function pinPodNamespaces(req: PinRequest, runner: Runner = run): Promise<NamespaceFiles> {
  const out: NamespaceFiles = {};
  if (req.userns) out.user = path.join(req.dir, 'user');
  if (req.net) out.net = path.join(req.dir, 'net');
  if (req.ipc) out.ipc = path.join(req.dir, 'ipc');
  if (req.uts) out.uts = path.join(req.dir, 'uts');
  if (Object.keys(out).length === 0) {
    checkSettings(out, req);
    return out;
  }
  await mkdir(req.dir, { recursive: true, mode: req.userns ? 0o711 : 0o700 });
  const kinds = Object.keys(out).join(', ');
  const what = req.userns
    ? `create pod namespaces (${kinds}; uids ${mapArg(req.userns.uid)}, gids ${mapArg(req.userns.gid)}) in ${req.dir}`
    : `pin namespaces (${kinds}) in ${req.dir}`;
  await pinNamespaceFiles(out, req, what, runner);
  return out;
}

/**
 * The pod's user namespace with its net, uts and ipc namespaces inside, pinned at the given files; the
 * pid namespace is left to the OCI runtime (it needs a process to live).
 */
export async function pinUsernsPodNamespaces(files: Required<NamespaceFiles>, map: IdMappingPair, runner: Runner = run, opts: { hostname?: string } = {}): Promise<void> {
  await pinNamespaceFiles(files, { userns: map, hostname: opts.hostname }, `create pod namespaces (uids ${mapArg(map.uid)}, gids ${mapArg(map.gid)}) at ${files.user}`, runner);
}

/**
 * The pod's namespaces, pinned under req.dir, with its hostname, sysctls and /dev/shm: inside the pod's
 * user namespace when it has one (the netns is then owned by it), else the host's.
 */
export async function createPodNamespaces(req: NamespaceRequest, runner: Runner = run): Promise<{ paths: PodNamespacePaths; netnsOwnedByUserns: boolean }> {
  const pod = req.userns.kind === 'pod';
  // A user-namespaced pod always has its own net, uts and ipc (host namespaces with a user namespace are
  // refused before this).
  const paths = await pinPodNamespaces({
    dir: req.dir, net: pod || !req.hostNetwork, ipc: pod || !req.hostIpc, uts: pod || !req.hostNetwork,
    hostname: pod || !req.hostNetwork ? req.hostname : undefined, sysctls: req.sysctls, shm: req.shm,
    ...(req.userns.kind === 'pod' ? { userns: { uid: req.userns.uid, gid: req.userns.gid } } : {}),
  }, runner);
  // Without a user namespace the host's owns the netns, which is also the one the pod runs in.
  return { paths, netnsOwnedByUserns: true };
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
