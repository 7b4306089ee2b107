// Image VOLUME copy-up: on first create, a container's VOLUME dir is a copy of what the image holds at
// that path, with the image's ownership and modes (Docker's and containerd's behaviour: postgres, redis,
// nginx ship content and ownership there). The copy is taken from the container's own mounted rootfs,
// which already shows each file's owner as the container's user namespace needs it on disk: the image's
// IDs without a user namespace, the pod's host range with one (idmapped lower layers or the shifted copy).
// So the copy needs no idmapped mount: on disk every file is inside the pod's range, and the pod's mapping
// shows the image's IDs. It runs before the container exists, so nothing in the rootfs can race it.
import { lstat, mkdir, readlink, chown } from 'node:fs/promises';
import { dirname, posix } from 'node:path';
import { failedPrecondition, wrap } from '../common/errors.js';
import { run, type Runner } from '../common/exec.js';

const MAX_SYMLINKS = 40;

/**
 * The host path of container path `p` inside `root`, following symlinks as the container would (an
 * absolute target restarts at `root`, ".." stops at `root`): never a path outside `root`. Returns
 * undefined when a component does not exist.
 */
export async function resolveInRoot(root: string, p: string): Promise<string | undefined> {
  const todo = p.split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') { done.pop(); continue; }
    const host = posix.join(root, ...done, part);
    let st;
    try {
      st = await lstat(host);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw err;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw failedPrecondition(`${p}: too many levels of symbolic links in the image`);
      const target = await readlink(host);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    done.push(part);
  }
  return posix.join(root, ...done);
}

interface ImageVolumeCopy {
  /** The container's mounted rootfs (the image as the container will see it, not started yet). */
  rootfs: string;
  /** The VOLUME path in the container. */
  containerPath: string;
  /** The volume's host dir; must not exist yet. */
  target: string;
  /** Owner of an empty volume when the image has nothing at that path: the container's root on the host. */
  emptyOwner: { uid: number; gid: number };
}

/**
 * Makes `target` a copy of the image's content at `containerPath` (cp -a: owners, modes incl. setuid and
 * sticky bits, timestamps, symlinks, hard links, xattrs), or an empty 0755 dir owned by `emptyOwner`
 * when the image has no such path.
 */
export async function copyImageVolume(o: ImageVolumeCopy, runner: Runner = run): Promise<'copied' | 'empty'> {
  const what = `image VOLUME ${o.containerPath}`;
  const src = await resolveInRoot(o.rootfs, o.containerPath);
  await mkdir(dirname(o.target), { recursive: true, mode: 0o711 });
  if (src !== undefined) {
    const st = await lstat(src);
    if (!st.isDirectory()) throw failedPrecondition(`${what}: the image has a ${st.isFile() ? 'file' : 'non-directory'} there; a VOLUME must be a directory`);
    try {
      // -T: target becomes the copy of src itself (its own owner and mode too), not a dir inside it.
      await runner('/bin/cp', ['-a', '-T', '--', src, o.target], { timeoutMs: 10 * 60_000 });
    } catch (err) {
      throw wrap(`${what}: copy the image's content into ${o.target}`, err);
    }
    return 'copied';
  }
  await mkdir(o.target, { recursive: true, mode: 0o755 });
  await chown(o.target, o.emptyOwner.uid, o.emptyOwner.gid);
  return 'empty';
}
