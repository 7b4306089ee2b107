// Reads one file of an image as a container of it would see it (the topmost layer that has the path
// wins), for what the spec needs from the image itself: /etc/passwd and /etc/group, to resolve a user
// name or a supplemental group. The image is untrusted: only a regular file is read (a whiteout, a device
// node, a FIFO or a symlink ends the search as "absent"), opened without following a symlink swapped in
// meanwhile, and at most IMAGE_FILE_MAX_BYTES of it: a larger one is FAILED_PRECONDITION naming the file.
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition } from '../common/errors.js';

/** The largest image file read whole (4 MiB): far above any real passwd or group file. */
const IMAGE_FILE_MAX_BYTES = 4 * 1024 * 1024;

/**
 * The text of `rel` (relative to the image's root, e.g. "etc/passwd") in the unpacked layers (lowest
 * first), or undefined when no layer has it as a regular file.
 */
export async function readImageFile(layerDirs: readonly string[], rel: string, maxBytes = IMAGE_FILE_MAX_BYTES): Promise<string | undefined> {
  for (const dir of [...layerDirs].reverse()) {
    const p = join(dir, rel);
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue;
    if (!st.isFile()) return undefined;
    if (st.size > maxBytes) throw tooBig(rel, st.size, maxBytes);
    // O_NOFOLLOW|O_NONBLOCK: a symlink or FIFO swapped in after the lstat fails or does not block.
    const fh = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
    if (!fh) return undefined;
    try {
      const now = await fh.stat();
      if (!now.isFile()) return undefined;
      // One byte more than allowed: a file that grew past the cap since the stat is still refused.
      const buf = Buffer.alloc(Math.min(now.size, maxBytes) + 1);
      let n = 0;
      while (n < buf.length) {
        const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      if (n > maxBytes) throw tooBig(rel, n, maxBytes);
      return buf.subarray(0, n).toString('utf8');
    } finally {
      await fh.close();
    }
  }
  return undefined;
}

function tooBig(rel: string, size: number, maxBytes: number) {
  return failedPrecondition(`the image's /${rel} is ${size} bytes, more than the ${maxBytes} bytes crius reads of an image file; the image is not usable as is`);
}
