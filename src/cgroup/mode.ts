// How this host mounts cgroups, where crius itself sits in them, and where containers' cgroups go.
//
// - v2: /sys/fs/cgroup is cgroup2.
// - v1: cgroup v1 controllers under /sys/fs/cgroup/<ctrl>, no cgroup2 mount.
// - hybrid: v1 controllers plus a cgroup2 mount (systemd's "unified", here holding only hugetlb).
//   crun 1.x refuses it ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2"),
//   so on hybrid hosts crius runs the runtime through native/crius-oci-wrap, which detaches the cgroup2
//   mount in a throwaway mount namespace: the runtime sees pure v1 and the host's mounts stay as they are.
//
// Containers' cgroups go beneath crius's own cgroup (the machine's supervisor owns everything else):
// cgroupsPath is absolute, `<own>/crius/<pod>/<container>`, where <own> is our path in the memory
// controller. On v1 crun and runc resolve an absolute cgroupsPath against each controller's mount root,
// so the same path is created under every controller; in the controllers where we sit at / it is still
// beneath us.
import { readFile, rmdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { invalidArgument } from '../common/errors.js';
import { parseMountInfo } from '../common/mountinfo.js';

type CgroupMode = 'v1' | 'v2' | 'hybrid';

export interface CgroupLayout {
  mode: CgroupMode;
  /** Mount points of the v1 hierarchies (one per mount, possibly several controllers each). */
  v1Mounts: string[];
  /** The cgroup2 mount point, if any (/sys/fs/cgroup on v2, /sys/fs/cgroup/unified on hybrid). */
  unifiedMount?: string;
}

/** The cgroup layout from /proc/self/mountinfo text. Pure. */
export function cgroupLayoutFromMountinfo(text: string): CgroupLayout {
  const v1Mounts: string[] = [];
  let unifiedMount: string | undefined;
  for (const { fsType, mountPoint } of parseMountInfo(text)) {
    if (fsType === 'cgroup') v1Mounts.push(mountPoint);
    else if (fsType === 'cgroup2' && unifiedMount === undefined) unifiedMount = mountPoint;
  }
  let mode: CgroupMode;
  if (v1Mounts.length === 0) mode = 'v2';
  else if (unifiedMount !== undefined) mode = 'hybrid';
  else mode = 'v1';
  return unifiedMount === undefined ? { mode, v1Mounts } : { mode, v1Mounts, unifiedMount };
}

export async function detectCgroupLayout(mountinfoPath = '/proc/self/mountinfo'): Promise<CgroupLayout> {
  return cgroupLayoutFromMountinfo(await readFile(mountinfoPath, 'utf8'));
}

/**
 * Mounts to hide from the OCI runtime (crius-oci-wrap --hide): the cgroup2 mount on hybrid hosts, where
 * crun refuses to run at all and runc would also create (and leave) cgroups in the unified hierarchy.
 */
export function runtimeHiddenMounts(layout: CgroupLayout): string[] {
  return layout.mode === 'hybrid' && layout.unifiedMount ? [layout.unifiedMount] : [];
}

/** /proc/<pid>/cgroup text as controller -> path ("" names the cgroup2 entry "0::"). Pure. */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const controllers = m[1] ?? '';
    const p = m[2] ?? '/';
    if (controllers === '') out.set('', p);
    for (const c of controllers.split(',')) if (c !== '') out.set(c, p);
  }
  return out;
}

/**
 * The path crius's containers nest under: `<own>/crius`, where <own> is our memory-controller path on
 * v1/hybrid (the one controller where the supervisor placed us below the root) or our cgroup2 path on v2.
 */
export function cgroupBaseFrom(layout: CgroupLayout, own: Map<string, string>): string {
  const mine = layout.mode === 'v2' ? own.get('') : own.get('memory') ?? own.get('');
  const root = mine && mine !== '/' ? mine.replace(/\/+$/, '') : '';
  return `${root}/crius`;
}

export async function detectCgroupBase(layout: CgroupLayout, procCgroup = '/proc/self/cgroup'): Promise<string> {
  return cgroupBaseFrom(layout, parseProcCgroup(await readFile(procCgroup, 'utf8')));
}

const SEGMENT = /^[A-Za-z0-9_.-]{1,128}$/;

function checkSegment(what: string, s: string): void {
  if (!SEGMENT.test(s) || s === '.' || s === '..') {
    throw invalidArgument(`${what} "${s}" cannot be a cgroup name: use letters, digits, "_", "-" or "." (at most 128)`);
  }
}

/**
 * The cgroup parent of a pod: `<base>/<podId>`, or, when the kubelet asks for a cgroup_parent (cgroupfs
 * driver, e.g. "/kubepods/burstable/pod<uid>"), that path nested beneath <base> so it stays under our own
 * cgroup. Systemd slice names ("x.slice") are taken as plain names: crius drives cgroupfs only.
 */
export function cgroupParentFor(base: string, podId: string, requested = ''): string {
  checkSegment('pod ID', podId);
  const parts = requested.split('/').filter((s) => s !== '');
  for (const s of parts) checkSegment('cgroup_parent segment', s);
  return parts.length > 0 ? `${base}/${parts.join('/')}/${podId}` : `${base}/${podId}`;
}

/** The cgroupsPath (OCI linux.cgroupsPath) of a container of a pod with the given parent. */
export function containerCgroupsPath(podParent: string, containerId: string): string {
  checkSegment('container ID', containerId);
  return `${podParent}/${containerId}`;
}

/** Directories (one per hierarchy) that hold the cgroup `cgPath` on this layout. */
export function cgroupDirs(layout: CgroupLayout, cgPath: string, includeUnified = true): string[] {
  const roots = layout.mode === 'v2' ? [layout.unifiedMount ?? '/sys/fs/cgroup'] : [...layout.v1Mounts];
  if (layout.mode === 'hybrid' && includeUnified && layout.unifiedMount) roots.push(layout.unifiedMount);
  return roots.map((r) => path.join(r, cgPath));
}

async function rmdirTree(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const left: string[] = [];
  for (const e of entries) if (e.isDirectory()) left.push(...await rmdirTree(path.join(dir, e.name)));
  try {
    await rmdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') left.push(`${dir} (${code ?? String(err)})`);
  }
  return left;
}

/**
 * Removes the cgroup `cgPath` (and its child cgroups) in every hierarchy; a cgroup that still has
 * processes stays (rmdir EBUSY) and is reported. Idempotent. Then prunes now-empty parents up to, but not
 * including, `stopAt` (our own cgroup base's parent), so no empty `crius/...` directories pile up.
 */
export async function removeCgroup(layout: CgroupLayout, cgPath: string, stopAt?: string): Promise<{ left: string[] }> {
  if (!cgPath.startsWith('/') || cgPath === '/' || cgPath.split('/').includes('..')) {
    throw invalidArgument(`cgroup path "${cgPath}" must be absolute and below /`);
  }
  const left: string[] = [];
  for (const dir of cgroupDirs(layout, cgPath)) left.push(...await rmdirTree(dir));
  if (stopAt !== undefined && cgPath.startsWith(`${stopAt}/`)) {
    for (let p = path.posix.dirname(cgPath); p.startsWith(`${stopAt}/`); p = path.posix.dirname(p)) {
      for (const dir of cgroupDirs(layout, p)) await rmdir(dir).catch(() => undefined);
    }
  }
  return { left };
}

/** Whether the cgroup exists in any hierarchy (for leak checks). */
export async function cgroupExists(layout: CgroupLayout, cgPath: string): Promise<string[]> {
  const found: string[] = [];
  for (const dir of cgroupDirs(layout, cgPath)) {
    try {
      await readdir(dir);
      found.push(dir);
    } catch { /* absent */ }
  }
  return found;
}
