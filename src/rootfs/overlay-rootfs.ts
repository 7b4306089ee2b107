// A container's root filesystem: overlayfs over the image layers. In a user namespace the lowers are
// idmapped read-only through the pod's user namespace (open_tree + mount_setattr + handed to overlayfs),
// so the image reads as owned by the pod's root without copying or chowning it; only the upper dir's root
// is chowned to the host IDs of container 0:0 so "/" reads 0:0 inside (as containerd 2.x's overlay
// snapshotter does with idmapped lower layers, containerd PRs #5890 and #9117). The chown-copy fallback exists only when configured ([userns] rootfs = "copy").
import { chown, mkdir, readdir, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { statSync } from 'node:fs';
import { mountCountAt } from '../common/mountinfo.js';
import { internal, invalidArgument, wrap } from '../common/errors.js';
import { run, type Runner } from '../common/exec.js';
import { idmapHelper, mountOverlay, type IdmapHelper, type OverlayMethod } from '../userns/idmap-helper.js';
import { hostIdFor, type IdRange } from '../userns/mapping-rules.js';
import { shiftedLayerCopies } from './shifted-copy.js';

export interface RootfsUserns {
  /** A file pinning the pod's user namespace (nsfs bind mount or /proc/PID/ns/user). */
  file: string;
  uidMap: IdRange;
  gidMap: IdRange;
}

export interface ContainerRootfsOptions {
  /** Unpacked layer dirs, bottom (base image) first. */
  layers: readonly string[];
  upperDir: string;
  workDir: string;
  target: string;
  userns?: RootfsUserns;
  /** "idmap" (default): idmapped lowers. "copy": shifted copies of the layers, cached in copyCacheDir. */
  mode?: 'idmap' | 'copy';
  copyCacheDir?: string;
  helper?: IdmapHelper;
  runner?: Runner;
  /** How the helper hands idmapped lowers to overlayfs (default auto: by fd, else a temporary mount). */
  method?: OverlayMethod;
  /** Where the tmpdir method puts its short-lived idmapped mount. */
  tmpDir?: string;
}

interface MountedRootfs {
  target: string;
  /** plain: no user namespace; fd/tmpdir: idmapped lowers; copy: overlay over shifted copies. */
  how: 'plain' | 'fd' | 'tmpdir' | 'copy';
}

function rootPair(u: RootfsUserns): { uid: number; gid: number } {
  const uid = hostIdFor(u.uidMap, 0);
  const gid = hostIdFor(u.gidMap, 0);
  if (uid === undefined || gid === undefined) {
    throw invalidArgument(`rootfs user namespace mapping (uids ${u.uidMap.containerId}:${u.uidMap.hostId}:${u.uidMap.length}, ` +
      `gids ${u.gidMap.containerId}:${u.gidMap.hostId}:${u.gidMap.length}) does not map container ID 0`);
  }
  return { uid, gid };
}

/** Mounts the container rootfs at target (creating upper, work and target dirs). */
export async function mountContainerRootfs(o: ContainerRootfsOptions): Promise<MountedRootfs> {
  const context = `mount rootfs at ${o.target}`;
  if (o.layers.length === 0) throw invalidArgument(`${context}: no layers given; an image needs at least one (an empty dir will do)`);
  const runner = o.runner ?? run;
  const helper = o.helper ?? idmapHelper({ runner });
  try {
    // upper is the container's `/` (its mode shows inside); work is overlayfs's scratch, for the kernel only.
    for (const d of [o.upperDir, o.target]) await mkdir(d, { recursive: true, mode: 0o755 });
    await mkdir(o.workDir, { recursive: true, mode: 0o700 });
    // overlayfs wants the topmost lower first.
    const topFirst = [...o.layers].reverse();
    if (!o.userns) {
      await mountOverlay(helper, { lowers: topFirst, upper: o.upperDir, work: o.workDir, target: o.target, method: o.method, tmpDir: o.tmpDir });
      return { target: o.target, how: 'plain' };
    }
    const root = rootPair(o.userns);
    await chown(o.upperDir, root.uid, root.gid);
    if (o.mode === 'copy') {
      if (!o.copyCacheDir) throw invalidArgument(`${context}: [userns] rootfs = "copy" needs a cache dir for the shifted layer copies`);
      const copies = await shiftedLayerCopies({
        layers: o.layers, cacheDir: o.copyCacheDir, map: { uid: o.userns.uidMap, gid: o.userns.gidMap }, runner,
      });
      await mountOverlay(helper, { lowers: [...copies].reverse(), upper: o.upperDir, work: o.workDir, target: o.target, method: o.method, tmpDir: o.tmpDir });
      return { target: o.target, how: 'copy' };
    }
    const r = await mountOverlay(helper, {
      lowers: topFirst, upper: o.upperDir, work: o.workDir, target: o.target, usernsFile: o.userns.file, method: o.method, tmpDir: o.tmpDir,
    });
    return { target: o.target, how: r.method };
  } catch (err) {
    throw wrap(context, err);
  }
}

/**
 * Whether a filesystem is mounted on target, for a rootfs target (an overlay, on a plain directory of its
 * parent's filesystem): the overlay has a device of its own. A stat pair instead of a read of mountinfo,
 * which grows with the pods (~600 KB at 1,000) and was read twice per container removal.
 */
function overlayMounted(target: string): boolean {
  try {
    return statSync(target).dev !== statSync(dirname(target)).dev;
  } catch {
    return mountCountAt(target) > 0; // unreadable (a broken mount?): ask mountinfo
  }
}

/** Unmounts everything stacked at target; a no-op when nothing is mounted there. Busy mounts are detached. */
export async function unmountContainerRootfs(target: string, runner: Runner = run): Promise<void> {
  for (let i = 0; i < 16 && overlayMounted(target); i++) {
    try {
      await runner('/usr/bin/umount', [target], { timeoutMs: 30_000 });
    } catch {
      // EBUSY (a process still has its cwd there): detach now, the kernel frees it when the last user goes.
      await runner('/usr/bin/umount', ['-l', target], { timeoutMs: 30_000 }).catch(() => {});
    }
  }
  if (overlayMounted(target)) throw internal(`unmount rootfs at ${target}: still mounted after repeated umount; see /proc/self/mountinfo`);
}

/**
 * Start-up cleanup for the tmpdir method: a crash between attaching the temporary idmapped mount and
 * detaching it leaves `crius-idmap-*` dirs with a mount under tmpDir. Detach and remove them; the overlays
 * that used them hold their own references. Returns the dirs removed.
 */
export async function cleanupTemporaryIdmapMounts(tmpDir: string, runner: Runner = run): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(tmpDir)).filter((n) => n.startsWith('crius-idmap-'));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const d = join(tmpDir, n);
    for (let i = 0; i < 8 && mountCountAt(join(d, 'm')) > 0; i++) {
      await runner('/usr/bin/umount', ['-l', join(d, 'm')], { timeoutMs: 30_000 });
    }
    // Never recurse into a dir that is still a mount point: that would delete image layer files.
    if (mountCountAt(join(d, 'm')) > 0) throw internal(`cannot detach the temporary idmapped mount at ${join(d, 'm')}; left in place`);
    // rmdir only: an unexpected non-empty dir stays for a human to look at.
    await rmdir(join(d, 'm')).catch(() => {});
    await rmdir(d);
    removed.push(d);
  }
  return removed;
}
