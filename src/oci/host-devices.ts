// Host device nodes for CRI `devices` (stat of each host_path) and for privileged containers (every
// device under the host's /dev), as the spec builder wants them (spec/types.ts DeviceNodeInfo).
import { readdir, stat, lstat } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { DeviceNodeInfo } from '../spec/types.js';

/** glibc's gnu_dev_major/gnu_dev_minor: the dev_t split into the major and minor numbers. */
export function majorMinor(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

function nodeOf(st: BigIntStats): DeviceNodeInfo | undefined {
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) return undefined;
  return { type, ...majorMinor(st.rdev), fileMode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) };
}

/** The device node at path (symlinks followed, as /dev/disk/by-id/... are links), or undefined when it is none. */
export async function deviceNode(path: string): Promise<DeviceNodeInfo | undefined> {
  try {
    return nodeOf(await stat(path, { bigint: true }));
  } catch {
    return undefined;
  }
}

/**
 * Directories of /dev that are mounts of their own or runtime-made (runc's HostDevices skips the same):
 * the container gets its own devpts, shm and mqueue, and console is set up by the runtime.
 */
const SKIP_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', 'hugepages', '.lxc', '.lxd-mounts', '.udev']);

/** Every character and block device under root (default /dev), by path; symlinks are not followed. */
export async function hostDevices(root = '/dev'): Promise<Record<string, DeviceNodeInfo>> {
  const out: Record<string, DeviceNodeInfo> = {};
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (depth === 0 && SKIP_DIRS.has(e.name)) continue;
        await walk(p, depth + 1);
        continue;
      }
      if (!e.isCharacterDevice() && !e.isBlockDevice()) continue;
      if (depth === 0 && e.name === 'console') continue;
      const st = await lstat(p, { bigint: true }).catch(() => undefined);
      const node = st && nodeOf(st);
      if (node) out[p] = node;
    }
  };
  await walk(root, 0);
  return out;
}
