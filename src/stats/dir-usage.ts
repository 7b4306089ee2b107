// Bytes and inodes a directory tree uses: the container's writable layer (overlay upper dir). Counted
// like `du`: allocated blocks (st_blocks * 512), each inode once (hard links inside the tree count once),
// without crossing into other filesystems (a mount inside upper is not the container's writes).
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

export interface DirUsage {
  bytes: number;
  inodes: number;
}

export async function dirUsage(root: string): Promise<DirUsage | undefined> {
  let top;
  try {
    top = await lstat(root);
  } catch {
    return undefined;
  }
  const seen = new Set<number>();
  let bytes = 0;
  let inodes = 0;
  const visit = async (p: string, st: Awaited<ReturnType<typeof lstat>>): Promise<void> => {
    if (st.dev !== top.dev) return;
    const ino = Number(st.ino);
    if (st.nlink > 1) {
      if (seen.has(ino)) return;
      seen.add(ino);
    }
    inodes++;
    bytes += Number(st.blocks) * 512;
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = await readdir(p);
    } catch {
      return; // removed while we walked
    }
    for (const n of names) {
      const child = path.join(p, n);
      let cst;
      try {
        cst = await lstat(child);
      } catch {
        continue;
      }
      await visit(child, cst);
    }
  };
  await visit(root, top);
  return { bytes, inodes };
}
