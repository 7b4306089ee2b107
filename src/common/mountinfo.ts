// /proc/self/mountinfo (proc(5)), parsed in one place: "id parent major:minor root mountpoint opts
// [optional tags...] - fstype source superopts". Paths in it escape space, tab, newline and backslash as
// octal (\040); every field here is unescaped, so callers compare plain paths.
import { readFileSync } from 'node:fs';

export interface MountInfoEntry {
  mountId: number;
  /** "major:minor" of the filesystem (st_dev). */
  device: string;
  /** Root of the mount within its filesystem. */
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
  /** Per-superblock options, e.g. an overlay's "rw,lowerdir=...,upperdir=...". */
  superOptions: string;
}

// V8 makes substrings (split, slice) as views into the string they came from, so one kept field would
// keep the whole mountinfo text alive (900 KB here, megabytes on a node with 1,000 pods). Every field is
// copied into a string of its own.
const own = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');
const unescape = (s: string): string => own(s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));

/** Parses mountinfo text. Pure. Malformed lines are skipped. */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const f = line.split(' ');
    // The optional tags end at a lone "-", after the six fixed fields.
    const dash = f.indexOf('-', 6);
    if (dash < 0 || f.length < dash + 3) continue;
    out.push({
      mountId: Number(f[0]),
      device: own(f[2] ?? ''),
      root: unescape(f[3] ?? ''),
      mountPoint: unescape(f[4] ?? ''),
      fsType: own(f[dash + 1] ?? ''),
      source: unescape(f[dash + 2] ?? ''),
      superOptions: unescape(f.slice(dash + 3).join(' ')),
    });
  }
  return out;
}

/** This process's mount table, read now (a procfs read: no disk I/O). */
export function readMountInfo(): MountInfoEntry[] {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** How many mounts are stacked exactly at path (0: not a mount point). */
export function mountCountAt(path: string, mounts: readonly MountInfoEntry[] = readMountInfo()): number {
  return mounts.filter((m) => m.mountPoint === path).length;
}

/** Mount points at or below dir, in mountinfo order (parents before what is mounted on them). */
export function mountsUnder(dir: string, mounts: readonly MountInfoEntry[] = readMountInfo()): string[] {
  return mounts.map((m) => m.mountPoint).filter((mp) => mp === dir || mp.startsWith(`${dir}/`));
}

/** The mount holding `path` (absolute, resolved): longest mount point prefix; the last of stacked mounts. */
export function mountOf(mounts: readonly MountInfoEntry[], path: string): MountInfoEntry | undefined {
  let best: MountInfoEntry | undefined;
  for (const m of mounts) {
    const mp = m.mountPoint;
    const covers = mp === '/' || path === mp || path.startsWith(`${mp}/`);
    if (covers && (!best || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}
