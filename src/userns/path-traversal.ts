// Can a user-namespaced pod's host IDs reach its root filesystem? The OCI runtime resolves the rootfs path
// (and makes it private: mount(MS_PRIVATE) on `rootfs`) after entering the pod's user namespace, i.e. as
// the pod's host root (e.g. uid 65536), which owns none of the directories above it. Every directory on
// the path must therefore be searchable by that uid: `other` x (0711 is enough) unless the pod's uid or gid
// owns it. A 0700 parent (a root dir under `mktemp -d`, a locked-down /var/lib/x) otherwise surfaces as an
// opaque "make `rootfs` private: Permission denied" from crun. Pure rules here; statPathChain does the I/O.
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface DirFact {
  path: string;
  mode: number;
  uid: number;
  gid: number;
}

interface TraversalBlock {
  dir: DirFact;
  /** The host uid/gid that cannot search it. */
  uid: number;
  gid: number;
}

/** Whether uid/gid (no supplementary groups: the pod's root has none on the host) may search dir. */
export function canSearch(dir: DirFact, uid: number, gid: number): boolean {
  if (uid === 0) return true;
  if (dir.uid === uid) return (dir.mode & 0o100) !== 0;
  if (dir.gid === gid) return (dir.mode & 0o010) !== 0;
  return (dir.mode & 0o001) !== 0;
}

/** The first directory on the chain (outermost first) that uid/gid cannot search, or null. */
export function firstBlockingDir(chain: readonly DirFact[], uid: number, gid: number): TraversalBlock | null {
  for (const dir of chain) if (!canSearch(dir, uid, gid)) return { dir, uid, gid };
  return null;
}

/** "directory /tmp/x (mode 0700, owner 0:0)" */
export function describeDir(d: DirFact): string {
  return `directory ${d.path} (mode ${(d.mode & 0o7777).toString(8).padStart(4, '0')}, owner ${d.uid}:${d.gid})`;
}

/** "directory /tmp/x (mode 0700, owner 0:0) is not searchable by host uid 65536 / gid 65536" */
export function describeBlock(b: TraversalBlock): string {
  return `${describeDir(b.dir)} is not searchable by host uid ${b.uid} / gid ${b.gid}`;
}

/** A host ID that owns nothing, as every pod range: what `other` may do is what a pod may do. */
export const UNRELATED_ID = 2 ** 31 - 2;

export const TRAVERSAL_FIX = 'user-namespaced pods need search permission on every directory above their root filesystem: chmod o+x on it (0711 keeps it unlistable)';

/** Stats `/` and every directory down to `path` (which must exist up to its last existing ancestor). */
export function statPathChain(path: string): DirFact[] {
  const dirs: string[] = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    dirs.unshift(p);
    if (p === dirname(p)) break;
  }
  const chain: DirFact[] = [];
  for (const p of dirs) {
    try {
      const st = statSync(p);
      chain.push({ path: p, mode: st.mode, uid: st.uid, gid: st.gid });
    } catch {
      break; // not created yet: the daemon creates it with a searchable mode
    }
  }
  return chain;
}
