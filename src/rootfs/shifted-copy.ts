// The opt-in fallback for kernels or filesystems without idmapped lowers ([userns] rootfs = "copy"):
// each layer copied once per (layers, mapping) with every owner shifted into the pod's host range, then a
// plain overlay over the copies. This is containerd's slow_chown path; it costs one image copy per
// distinct mapping, which is why it is never chosen automatically.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod, lchown, lstat, mkdir, opendir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument, wrap } from '../common/errors.js';
import { run, type Runner } from '../common/exec.js';
import { hostIdFor, mapArg, type IdRange } from '../userns/mapping-rules.js';
import { readMountInfo, type MountInfoEntry } from '../common/mountinfo.js';

interface ShiftedCopyOptions {
  /** Layer dirs, bottom first. */
  layers: readonly string[];
  cacheDir: string;
  map: { uid: IdRange; gid: IdRange };
  runner?: Runner;
}

/** The cache of shifted copies beneath the image store's root (<rootDir>/images/shifted). */
export function shiftedCacheDir(imagesRoot: string): string {
  return join(imagesRoot, 'shifted');
}

/** The cache dir holding the shifted copies for these layers and this mapping. */
export function shiftedCopyDir(o: Pick<ShiftedCopyOptions, 'layers' | 'cacheDir' | 'map'>): string {
  const key = createHash('sha256')
    .update(JSON.stringify({ layers: o.layers, uid: mapArg(o.map.uid), gid: mapArg(o.map.gid) }))
    .digest('hex').slice(0, 32);
  return join(o.cacheDir, key);
}

const DONE = '.complete';
/** The layer dirs a copy was made from (JSON array), so image GC can tell when they are gone. */
const LAYERS = 'layers.json';

async function shiftTree(root: string, map: ShiftedCopyOptions['map']): Promise<void> {
  const shiftOne = async (path: string): Promise<void> => {
    const st = await lstat(path);
    const uid = hostIdFor(map.uid, st.uid);
    const gid = hostIdFor(map.gid, st.gid);
    if (uid === undefined || gid === undefined) {
      // containerd #12329: "container ID N cannot be mapped to a host ID".
      throw invalidArgument(`${path} is owned by ${st.uid}:${st.gid}, outside the pod's mapping ` +
        `(uids ${mapArg(map.uid)}, gids ${mapArg(map.gid)}); use a longer mapping or the idmap rootfs`);
    }
    await lchown(path, uid, gid);
    // chown(2) clears setuid/setgid on regular files; put them back (containerd remapRootFS does the same).
    if (st.isFile() && (st.mode & 0o6000) !== 0) await chmod(path, st.mode & 0o7777);
  };
  const walk = async (dir: string): Promise<void> => {
    await shiftOne(dir);
    for await (const e of await opendir(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else await shiftOne(p);
    }
  };
  await walk(root);
}

/** Returns the shifted copies (bottom first), making them once; concurrent callers converge on one copy. */
export async function shiftedLayerCopies(o: ShiftedCopyOptions): Promise<string[]> {
  const runner = o.runner ?? run;
  const dir = shiftedCopyDir(o);
  const copies = o.layers.map((_l, i) => join(dir, String(i)));
  if (existsSync(join(dir, DONE))) return copies;
  await mkdir(o.cacheDir, { recursive: true, mode: 0o700 });
  const tmp = `${dir}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await mkdir(tmp, { mode: 0o711 });
    for (const [i, layer] of o.layers.entries()) {
      // cp -a keeps hard links, devices (overlay whiteouts), xattrs (opaque dirs) and modes.
      await runner('/bin/cp', ['-a', '--reflink=auto', `${layer}/.`, join(tmp, String(i))], { timeoutMs: 30 * 60_000 });
      await shiftTree(join(tmp, String(i)), o.map);
    }
    await writeFile(join(tmp, LAYERS), JSON.stringify(o.layers));
    await writeFile(join(tmp, DONE), '');
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Someone else finished first (rename onto a non-empty dir fails): use theirs.
      if (!existsSync(join(dir, DONE))) throw err;
      await rm(tmp, { recursive: true, force: true });
    }
    return copies;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw wrap(`copy layers with owners shifted to uids ${mapArg(o.map.uid)} gids ${mapArg(o.map.gid)} into ${o.cacheDir}`, err);
  }
}

/**
 * Image GC's share: removes the copies no container can need any more. A copy goes when a layer it was
 * made from is gone (GC removes a layer only when no image has it, and an image a container uses cannot
 * be removed) or when it names no layers (made before copies recorded them), and in both cases only
 * when no mount uses it: an overlay lists its lower dirs in mountinfo's super options. Copies still being
 * made (<key>.tmp-*) are left; start-up removes those (removeInterruptedCopies). Synchronous, like the rest
 * of image GC, which runs under the image store's exclusive lock. Returns the dirs removed.
 */
export function pruneShiftedCopies(cacheDir: string, mounts: readonly MountInfoEntry[] = readMountInfo(), exists: (p: string) => boolean = existsSync): string[] {
  if (!exists(cacheDir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(cacheDir)) {
    if (name.includes('.tmp-')) continue;
    const dir = join(cacheDir, name);
    if (mounts.some((m) => m.superOptions.includes(`${dir}/`))) continue;
    let layers: unknown;
    try {
      layers = JSON.parse(readFileSync(join(dir, LAYERS), 'utf8'));
    } catch {
      layers = undefined; // none recorded, or unreadable: nothing says which image it belongs to
    }
    const stale = !Array.isArray(layers) || layers.some((l) => typeof l !== 'string' || !exists(l));
    if (!stale) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/** Start-up: half-made copies from a crash (nothing is copying before the daemon serves). */
export function removeInterruptedCopies(cacheDir: string): void {
  if (!existsSync(cacheDir)) return;
  for (const name of readdirSync(cacheDir)) {
    if (name.includes('.tmp-')) rmSync(join(cacheDir, name), { recursive: true, force: true });
  }
}
