// A pod's net, ipc and uts namespaces, pinned at files (nsfs bind mounts) so they live without any
// process, like CRI-O's pinns (cri-o pinns/src/pinns.c). util-linux `unshare --net=F --uts=F --ipc=F CMD` creates
// the namespaces, binds them onto the files and runs CMD inside them: CMD sets the hostname and the
// pod's sysctls by writing /proc/sys, whose kernel.hostname, net.*, kernel.shm*/msg*/sem and fs.mqueue.*
// entries follow the writer's namespaces. One process start per pod; nothing stays running.
// The PID namespace cannot be pinned this way (it needs a live init): pods with PID mode POD get an
// infra process (native/crius-pause, see infra-rootfs.ts). Pods with a user namespace use
// userns/userns-file.ts createPodNamespaces instead (its netns must be owned by the pod's userns), and
// then applyPodSysctls here for their sysctls. Result shape: {net, ipc, uts, user?}.
import { readFileSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { CriusError, internal, invalidArgument, wrap } from '../common/errors.js';
import { ExecError, run, type Runner } from '../common/exec.js';
import { removeNamespaceFiles } from '../userns/userns-file.js';

const UNSHARE = '/usr/bin/unshare';
const NSENTER = '/usr/bin/nsenter';
const SH = '/bin/sh';
const UMOUNT = '/usr/bin/umount';

export interface PinnedNamespaces {
  net?: string;
  ipc?: string;
  uts?: string;
  user?: string;
}

export interface PinRequest {
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

async function touch(file: string): Promise<void> {
  const fh = await open(file, 'a', 0o444);
  await fh.close();
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
    for (const f of files) await touch(f);
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

function mountedAmong(files: readonly string[]): string[] {
  // Mount points in mountinfo escape space, tab, newline and backslash as octal.
  const esc = (p: string): string => p.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  const points = new Set(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]));
  return files.filter((f) => points.has(esc(f)));
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
