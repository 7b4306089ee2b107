// Can this path be the source of an idmapped mount? Answered by really trying (open_tree + mount_setattr
// MOUNT_ATTR_IDMAP on a detached clone, via the native probe), cached per (filesystem type, device), and
// explained when the answer is no: the volume, the filesystem, the kernel, and what would work. This
// replaces the runtime's bare "failed to set MOUNT_ATTR_IDMAP ...: invalid argument" (runc#4157).
import { readFileSync } from 'node:fs';
import { realpath, stat, statfs } from 'node:fs/promises';
import { release } from 'node:os';
import { CriusError, failedPrecondition, notFound } from '../common/errors.js';
import type { SyscallFailure } from './idmap-helper.js';
import { mountOf, parseMountInfo } from '../common/mountinfo.js';

/** Kernel release as [major, minor], e.g. "6.18.44-fc" -> [6, 18]. */
export function kernelVersion(rel: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

const atLeast = (k: [number, number], f: [number, number]): boolean => k[0] > f[0] || (k[0] === f[0] && k[1] >= f[1]);

/**
 * What each filesystem needs for idmapped mounts (FS_ALLOW_IDMAP). Versions: kernel history as summarised
 * in the kernel's FS_ALLOW_IDMAP commits and the Kubernetes user-namespaces docs (f2fs, cephfs and fuse
 * approximate).
 */
interface IdmapFloor {
  since?: [number, number];
  /** Set when no kernel version helps: what to do instead. */
  never?: string;
  note?: string;
}

const IDMAP_FLOORS: Readonly<Record<string, IdmapFloor>> = {
  ext4: { since: [5, 12] },
  xfs: { since: [5, 12] },
  vfat: { since: [5, 12] },
  btrfs: { since: [5, 15] },
  ntfs3: { since: [5, 15] },
  f2fs: { since: [5, 18] },
  erofs: { since: [6, 8] },
  tmpfs: { since: [6, 3], note: 'kubelet secret, configMap, projected and memory emptyDir volumes are tmpfs' },
  ceph: { since: [6, 7] },
  fuse: { since: [6, 12], note: 'and the FUSE daemon must opt in (FUSE_ALLOW_IDMAP)' },
  virtiofs: { since: [6, 12], note: 'and the virtiofsd daemon must opt in' },
  overlay: {
    never: 'an overlay mount cannot itself be idmapped (only its lower layers can, which is how crius builds rootfs); ' +
      'put the volume on the filesystem under the overlay, e.g. a directory on an ext4 or xfs mount',
  },
  nfs: { never: 'NFS does not support idmapped mounts; use local storage (ext4, xfs, btrfs) for this volume' },
  nfs4: { never: 'NFS does not support idmapped mounts; use local storage (ext4, xfs, btrfs) for this volume' },
  hugetlbfs: { never: 'hugetlbfs does not support idmapped mounts (crun#1380); drop the hugepages volume or use hostUsers: true' },
  proc: { never: 'procfs cannot be idmapped' },
  sysfs: { never: 'sysfs cannot be idmapped' },
  cgroup: { never: 'cgroupfs cannot be idmapped' },
  cgroup2: { never: 'cgroupfs cannot be idmapped' },
  devtmpfs: { never: 'devtmpfs cannot be idmapped; bind individual devices through CRI devices instead' },
};

const floorKey = (fsType: string): string => (fsType.startsWith('fuse') && fsType !== 'fuseblk' ? 'fuse' : fsType);

/** One sentence saying what `fsType` needs, given the kernel release. */
export function idmapRequirement(fsType: string, kernelRelease: string): string {
  const floor = IDMAP_FLOORS[floorKey(fsType)];
  if (!floor) {
    return `${fsType} is not known to support idmapped mounts; filesystems that do: ext4/xfs (Linux 5.12), btrfs (5.15), ` +
      'tmpfs (6.3); move the volume to one of them or run the pod with hostUsers: true';
  }
  if (floor.never) return `${floor.never}; or run the pod with hostUsers: true`;
  const since = floor.since as [number, number];
  const k = kernelVersion(kernelRelease);
  const v = `${since[0]}.${since[1]}`;
  const extra = floor.note ? ` (${floor.note})` : '';
  if (!atLeast(k, since)) {
    return `${fsType} supports idmapped mounts from Linux ${v}${extra}, this kernel is ${kernelRelease}: upgrade the kernel to ${v} or newer, ` +
      'or run the pod with hostUsers: true';
  }
  return `${fsType} supports idmapped mounts from Linux ${v}${extra} and this kernel (${kernelRelease}) is newer, yet the probe failed: ` +
    'check how this filesystem is mounted (a mount in another user namespace, or a filesystem built without idmap support)';
}

interface VolumeRef {
  containerPath: string;
  hostPath: string;
}

export interface ProbeFacts {
  fsType: string;
  device: string;
  mountPoint: string;
  source: string;
}

/** The FAILED_PRECONDITION error for a volume whose filesystem cannot be idmapped. */
function idmapUnsupportedError(volume: VolumeRef, fs: ProbeFacts, failure: SyscallFailure, kernelRelease: string): CriusError {
  return failedPrecondition(
    `volume ${volume.containerPath} (host path ${volume.hostPath}) cannot be an idmapped mount for a pod with a user namespace: ` +
    `its filesystem ${fs.fsType} (${fs.source} mounted at ${fs.mountPoint}) refused ${failure.syscall} with ${failure.errno} ` +
    `on Linux ${kernelRelease}; ${idmapRequirement(fs.fsType, kernelRelease)}`);
}

type ProbeOutcome = { ok: true; fs: ProbeFacts } | { ok: false; fs: ProbeFacts; failure: SyscallFailure };

/** Tries an idmapped clone of the mount at path; the production one is probeIdmap with a pinned userns. */
export type IdmapProbeFn = (path: string) => Promise<{ ok: true } | SyscallFailure>;

interface IdmapSupportOptions {
  probe: IdmapProbeFn;
  /** Reads /proc/self/mountinfo; swapped in unit tests. */
  mountInfo?: () => string;
  kernelRelease?: string;
  /** Resolves symlinks; swapped in unit tests. */
  resolve?: (path: string) => Promise<string>;
}

export interface IdmapSupport {
  /** Probes (or answers from cache) whether path's filesystem can be idmapped. */
  probePath(path: string): Promise<ProbeOutcome>;
  /** Throws FAILED_PRECONDITION naming the volume when its host path cannot be idmapped. */
  checkVolume(volume: VolumeRef): Promise<void>;
  readonly kernelRelease: string;
}

export function createIdmapSupport(opts: IdmapSupportOptions): IdmapSupport {
  const kernelRelease = opts.kernelRelease ?? release();
  const mountInfo = opts.mountInfo ?? ((): string => readFileSync('/proc/self/mountinfo', 'utf8'));
  const resolve = opts.resolve ?? ((p: string): Promise<string> => realpath(p));
  // Promise cache so concurrent checks of one filesystem share a single probe.
  const cache = new Map<string, Promise<{ ok: true } | SyscallFailure>>();
  const facts = new Map<string, ProbeFacts>();

  async function probePath(path: string): Promise<ProbeOutcome> {
    let real: string;
    try {
      real = await resolve(path);
    } catch (err) {
      throw notFound(`${path} does not exist (${err instanceof Error ? err.message : String(err)}); create it before mounting it`);
    }
    // mountinfo grows with the pods (several mounts each: ~600 KB at 1,000 pods) and each container's
    // idmapped binds are probed: parse it once per filesystem, known by (st_dev, statfs magic). A device
    // number reused by another filesystem of the same type gets the same answer, as the probe cache below
    // (keyed by type and device) gave it anyway.
    const fsKey = await Promise.all([stat(real), statfs(real)]).then(([st, sf]) => `${st.dev}:${sf.type}`, () => undefined);
    let fs = fsKey === undefined ? undefined : facts.get(fsKey);
    if (!fs) {
      const m = mountOf(parseMountInfo(mountInfo()), real);
      fs = m
        ? { fsType: m.fsType, device: m.device, mountPoint: m.mountPoint, source: m.source }
        : { fsType: 'unknown', device: '?', mountPoint: '?', source: '?' };
      if (fsKey !== undefined && m) facts.set(fsKey, fs);
    }
    const key = `${fs.fsType}\u0000${fs.device}`;
    let p = cache.get(key);
    if (!p) {
      p = opts.probe(real);
      cache.set(key, p);
      // A probe that threw (helper missing) is not an answer about the filesystem: do not keep it.
      p.catch(() => cache.delete(key));
    }
    const r = await p;
    return r.ok ? { ok: true, fs } : { ok: false, fs, failure: r };
  }

  async function checkVolume(volume: VolumeRef): Promise<void> {
    const r = await probePath(volume.hostPath);
    if (!r.ok) throw idmapUnsupportedError(volume, r.fs, r.failure, kernelRelease);
  }

  return { probePath, checkVolume, kernelRelease };
}
