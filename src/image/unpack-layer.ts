// Streams one layer blob (gzip, zstd or plain tar) into its own directory, ready to be an overlay lower
// dir: OCI whiteouts become overlay whiteouts (0/0 char devices, trusted.overlay.opaque=y), numeric
// ownership, modes (setuid included), mtimes, xattrs, device nodes and fifos are kept. Nothing can be
// written outside the directory: absolute names, `..`, entries under a symlinked parent, hardlinks and
// whiteouts naming outside paths are refused with an error naming the image, the layer and the entry.
// The layer is unpacked into a temp dir and renamed into place when complete and its diff ID verified,
// so a crash never leaves a half layer that a later pull trusts.
// A layer is hostile input: its uncompressed size and entry count are capped (a decompression bomb stops
// at the cap and leaves nothing), the bookkeeping is a tree so whiteouts and replacements cost time in
// proportion to what they remove (not to the layer's size), and the loop yields to the event loop every
// few milliseconds so the daemon keeps answering while a large layer unpacks.
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync, constants, createReadStream, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync,
  lutimesSync, mkdirSync, openSync, readSync, renameSync, rmSync, symlinkSync, utimesSync, chmodSync, writeSync,
  readdirSync, type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { extract, type Header } from 'tar-stream';
import { CriusError, errorMessage } from '../common/errors.js';
import { run, type Runner } from '../common/exec.js';
import { splitEntryName, whiteoutOf, xattrAllowed } from './tar-path.js';
import { installBinaryPaxDecoder, xattrValueBytes } from './tar-pax.js';

installBinaryPaxDecoder();

export interface UnpackOptions {
  /** Compressed (or plain) layer blob on disk. */
  blobPath: string;
  /** Final directory; the unpacked tree is `<dest>/fs`. Must not exist yet. */
  dest: string;
  /** Verified against the uncompressed stream when given (the config's rootfs.diff_ids entry). */
  expectedDiffId?: string;
  /** For error messages: the image reference and the layer's blob digest. */
  image: string;
  layerDigest: string;
  /** Path of native/build/crius-fsops (mknod, setxattr). */
  fsopsPath: string;
  runner?: Runner;
  /** Aborts the unpack (the temp dir is removed). */
  signal?: AbortSignal;
  /** Most bytes of uncompressed tar stream (images.max_layer_unpacked_bytes). Default: unbounded. */
  maxUnpackedBytes?: number;
  /** Most tar entries (images.max_layer_entries). Default: unbounded. */
  maxEntries?: number;
}

export interface UnpackResult {
  diffId: string;
  entries: number;
  /** Bytes and inodes the unpacked tree uses on disk (st_blocks * 512, one per inode). */
  usedBytes: number;
  inodes: number;
  /** xattrs present in the layer but not applied (namespace not allowed), for the log. */
  skippedXattrs: number;
}

export type Compression = 'gzip' | 'zstd' | 'none';

/** Detects compression from the blob's magic bytes (docker-save layers carry no media type). */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

class ZstdTransform extends Transform {
  private readonly z = new ZstdDecompress((chunk) => { this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)); });
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try { this.z.push(chunk); cb(); } catch (err) { cb(err as Error); }
  }
  override _flush(cb: TransformCallback): void {
    try { this.z.push(new Uint8Array(0), true); cb(); } catch (err) { cb(err as Error); }
  }
}

/** Hashes the uncompressed stream (the diff ID) and stops it once it passes `max` bytes. */
class HashTransform extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly max: number, private readonly tooBig: () => Error) { super(); }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.max) { cb(this.tooBig()); return; }
    this.hash.update(chunk);
    cb(null, chunk);
  }
}

/**
 * What the unpack remembers about a path inside the layer, in a tree: dropping a path and everything
 * below it (a whiteout, a replaced directory) is one Map delete, whatever the layer's size.
 */
interface PathNode {
  children?: Map<string, PathNode>;
  /** A real directory (not a symlink) made or checked during this unpack. */
  dir?: boolean;
  pending?: PendingOps;
  /** Directory mtime to set at the end (creating children changes it). */
  mtime?: number;
}

class PathTree {
  readonly root: PathNode = { dir: true };

  get(rel: string, create: true): PathNode;
  get(rel: string, create?: false): PathNode | undefined;
  get(rel: string, create = false): PathNode | undefined {
    if (rel === '') return this.root;
    let n: PathNode = this.root;
    for (const part of rel.split('/')) {
      let c = n.children?.get(part);
      if (!c) {
        if (!create) return undefined;
        c = {};
        (n.children ??= new Map()).set(part, c);
      }
      n = c;
    }
    return n;
  }

  /** Forgets rel and everything below it. */
  drop(rel: string): void {
    const i = rel.lastIndexOf('/');
    const parent = this.get(i < 0 ? '' : rel.slice(0, i));
    parent?.children?.delete(i < 0 ? rel : rel.slice(i + 1));
  }

  /** Every node, parents before children (pre-order), with its relative path. */
  *walk(): Generator<[string, PathNode]> {
    const stack: Array<[string, PathNode]> = [['', this.root]];
    while (stack.length > 0) {
      const [rel, n] = stack.pop()!;
      yield [rel, n];
      if (n.children) for (const [name, c] of n.children) stack.push([rel === '' ? name : `${rel}/${name}`, c]);
    }
  }
}

/**
 * Gives the event loop a turn when the caller has held it for a few milliseconds. 4 ms, not 10: an RPC
 * takes a few turns to be read, run and answered, so with 10 ms slices Status p99 was 20-30 ms during a
 * 20,000-file unpack, 11 ms with 4 (bench/pull-responsiveness.ts); the unpack's wall time did not change.
 */
function yielder(everyMs = 4): () => Promise<void> | undefined {
  let last = Date.now();
  return () => {
    const now = Date.now();
    if (now - last < everyMs) return undefined;
    return new Promise<void>((resolve) => setImmediate(() => { last = Date.now(); resolve(); }));
  };
}

interface PendingOps {
  mknod?: { mode: number; major: number; minor: number; uid: number; gid: number; mtime: number };
  xattrs: Array<{ name: string; value: Buffer }>;
}

const S_IFCHR = 0o020000;
// Read once: chown/chmod calls are skipped when they would change nothing (half the syscalls per file).
const EUID = process.geteuid?.() ?? 0;
const EGID = process.getegid?.() ?? 0;
const UMASK = process.umask();
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

function readHead(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    const n = readSync(fd, b, 0, 4, 0);
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function lstatOrUndefined(p: string): Stats | undefined {
  return lstatSync(p, { throwIfNoEntry: false });
}

/** Disk usage of a tree: st_blocks * 512 and inode count, hardlinks counted once. */
export async function diskUsage(root: string, breathe: () => Promise<void> | undefined = () => undefined): Promise<{ bytes: number; inodes: number }> {
  const seen = new Set<number>();
  let bytes = 0;
  let inodes = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const name of readdirSync(dir)) {
      await breathe();
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.nlink > 1) {
        if (seen.has(st.ino)) continue;
        seen.add(st.ino);
      }
      bytes += st.blocks * 512;
      inodes++;
      if (st.isDirectory()) await walk(p);
    }
  };
  const st = lstatSync(root);
  bytes += st.blocks * 512;
  inodes++;
  if (st.isDirectory()) await walk(root);
  return { bytes, inodes };
}

export async function unpackLayer(opts: UnpackOptions): Promise<UnpackResult> {
  const tmp = `${opts.dest}.tmp-${randomBytes(6).toString('hex')}`;
  const root = join(tmp, 'fs');
  mkdirSync(tmp, { mode: 0o700 });
  mkdirSync(root, { mode: 0o755 });
  try {
    const result = await unpackInto(root, opts);
    try {
      renameSync(tmp, opts.dest);
    } catch (err) {
      // Another process finished the same layer first: theirs is as good as ours.
      if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    return result;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Unpacks into an existing empty directory `root` (exported for tests and import). */
export async function unpackInto(root: string, opts: UnpackOptions): Promise<UnpackResult> {
  const refuse = (entry: string, why: string): CriusError => new CriusError('FAILED_PRECONDITION',
    `image ${opts.image}: layer ${opts.layerDigest}: entry ${JSON.stringify(entry)}: ${why}; refusing the layer (it tries to write outside its directory or is malformed)`);
  const compression = detectCompression(readHead(opts.blobPath));
  const src = createReadStream(opts.blobPath, { highWaterMark: 256 * 1024 });
  const maxBytes = opts.maxUnpackedBytes ?? Number.POSITIVE_INFINITY;
  const maxEntries = opts.maxEntries ?? Number.POSITIVE_INFINITY;
  /** The first cap passed: preferred over whatever error the torn-down pipeline reports after it. */
  let limitErr: CriusError | undefined;
  const hasher = new HashTransform(maxBytes, () => (limitErr ??= new CriusError('FAILED_PRECONDITION',
    `image ${opts.image}: layer ${opts.layerDigest}: unpacks to more than ${maxBytes} bytes (the limit images.max_layer_unpacked_bytes = ${maxBytes}); refusing the layer (a decompression bomb?), nothing was kept`)));
  const ex = extract();
  const stages: NodeJS.ReadWriteStream[] = [];
  if (compression === 'gzip') stages.push(createGunzip());
  if (compression === 'zstd') stages.push(new ZstdTransform());

  /** Real directories, pending mknod/xattr work and directory mtimes, by relative path. */
  const tree = new PathTree();
  const isKnownDir = (rel: string): boolean => tree.get(rel)?.dir === true;
  const dropPending = (rel: string): void => { const n = tree.get(rel); if (n) n.pending = undefined; };
  const pendingOf = (rel: string): PendingOps | undefined => tree.get(rel)?.pending;
  let entries = 0;
  let skippedXattrs = 0;
  /** Once a setgid dir exists, new entries may inherit its group: chown every entry from then on. */
  let setgidSeen = false;

  const abs = (rel: string): string => (rel === '' ? root : join(root, rel));
  const unsupportedXattr = (entry: string, xattr: string, on: string | undefined, why?: string): CriusError => new CriusError('FAILED_PRECONDITION',
    `image ${opts.image}: layer ${opts.layerDigest}: entry ${JSON.stringify(entry)}: extended attribute "${xattr}"${on ? ` on ${on}` : ''} cannot be applied`
    + `${why ? ` (${why})` : ' (Linux allows user.* attributes only on regular files and directories)'}; refusing the layer`);

  const forget = (rel: string): void => tree.drop(rel);

  /** Makes sure every parent of parts is a real directory inside root, creating missing ones (0755). */
  const ensureParents = (entry: string, parts: string[], create: boolean): void => {
    let rel = '';
    for (let i = 0; i < parts.length - 1; i++) {
      rel = rel === '' ? parts[i]! : `${rel}/${parts[i]!}`;
      if (isKnownDir(rel)) continue;
      const st = lstatOrUndefined(abs(rel));
      if (st === undefined) {
        if (!create) throw refuse(entry, `parent "${rel}" does not exist`);
        dropPending(rel);
        mkdirSync(abs(rel), { mode: 0o755 });
      } else if (st.isSymbolicLink()) {
        throw refuse(entry, `parent "${rel}" is a symlink`);
      } else if (!st.isDirectory()) {
        throw refuse(entry, `parent "${rel}" is not a directory`);
      }
      tree.get(rel, true).dir = true;
    }
  };

  /** Clears whatever is at rel (unless it is a directory and keepDir), so the new entry replaces it. */
  const clear = (rel: string, keepDir: boolean): boolean => {
    const st = lstatOrUndefined(abs(rel));
    // A directory entry repeated keeps the dir, its children and its pending xattrs (an opaque marker).
    if (st !== undefined && st.isDirectory() && keepDir) return true;
    dropPending(rel);
    if (st === undefined) return false;
    forget(rel);
    rmSync(abs(rel), { recursive: true, force: true });
    return false;
  };

  const pendingFor = (rel: string): PendingOps => {
    const n = tree.get(rel, true);
    return (n.pending ??= { xattrs: [] });
  };

  const handle = async (h: Header, body: AsyncIterable<Buffer>): Promise<void> => {
    entries++;
    if (entries > maxEntries) {
      throw (limitErr ??= new CriusError('FAILED_PRECONDITION', `image ${opts.image}: layer ${opts.layerDigest}: has more than ${maxEntries} entries (the limit images.max_layer_entries = ${maxEntries}); refusing the layer, nothing was kept`));
    }
    const name = h.name;
    const split = splitEntryName(name);
    if (!split.ok) throw refuse(name, split.reason);
    const parts = split.parts;
    const type = h.type ?? 'file';
    const uid = h.uid ?? 0;
    const gid = h.gid ?? 0;
    const perm = (h.mode ?? 0o644) & 0o7777;
    const mtime = (h.mtime?.getTime() ?? 0) / 1000;
    if (parts.length === 0) {
      // The layer root itself ("./"): only its metadata applies.
      if (type === 'directory') {
        lchownSync(root, uid, gid);
        chmodSync(root, perm);
        if ((perm & 0o2000) !== 0) setgidSeen = true;
        tree.root.mtime = mtime;
      }
      return;
    }
    const rel = parts.join('/');
    const base = parts[parts.length - 1]!;
    const wo = whiteoutOf(base);
    if (wo.kind === 'invalid') throw refuse(name, wo.reason);
    if (wo.kind === 'meta') return;
    ensureParents(name, parts, true);
    const parentRel = parts.slice(0, -1).join('/');
    if (wo.kind === 'opaque') {
      // The parent directory hides everything below it in lower layers (overlayfs "opaque" dir).
      if (parentRel !== '') pendingFor(parentRel).xattrs.push({ name: 'trusted.overlay.opaque', value: Buffer.from('y') });
      return;
    }
    if (wo.kind === 'file') {
      const target = parentRel === '' ? wo.target : `${parentRel}/${wo.target}`;
      clear(target, false);
      // overlayfs whiteout: a character device 0/0 (Documentation/filesystems/overlayfs.rst).
      pendingFor(target).mknod = { mode: S_IFCHR, major: 0, minor: 0, uid: 0, gid: 0, mtime };
      return;
    }
    const xattrs: Array<{ name: string; value: Buffer }> = [];
    const pax = h.pax as Record<string, string> | null | undefined;
    if (pax) {
      for (const [k, v] of Object.entries(pax)) {
        if (!k.startsWith('SCHILY.xattr.')) continue;
        const xn = k.slice('SCHILY.xattr.'.length);
        if (xattrAllowed(xn)) xattrs.push({ name: xn, value: xattrValueBytes(v) });
        else skippedXattrs++;
      }
    }
    const full = abs(rel);
    switch (type) {
      case 'directory': {
        // A device node or whiteout still pending at this path is replaced by the directory.
        if (pendingOf(rel)?.mknod) dropPending(rel);
        try {
          mkdirSync(full, { mode: perm & 0o777 });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          if (!clear(rel, true)) mkdirSync(full, { mode: perm & 0o777 });
        }
        if (uid !== EUID || gid !== EGID || setgidSeen) lchownSync(full, uid, gid);
        // After chown, which clears setuid/setgid; mkdir's mode was filtered by the umask.
        if ((perm & 0o7000) !== 0 || (perm & UMASK) !== 0) chmodSync(full, perm);
        if ((perm & 0o2000) !== 0) setgidSeen = true;
        const node = tree.get(rel, true);
        node.dir = true;
        node.mtime = mtime;
        break;
      }
      case 'file':
      case 'contiguous-file': {
        // Create exclusively without a prior lstat: new paths are the common case; EEXIST means replace.
        const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
        dropPending(rel);
        let fd: number;
        try {
          fd = openSync(full, flags, perm & 0o777);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          clear(rel, false);
          fd = openSync(full, flags, perm & 0o777);
        }
        try {
          for await (const chunk of body) {
            let off = 0;
            while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
          }
          if (uid !== EUID || gid !== EGID || setgidSeen) fchownSync(fd, uid, gid);
          if ((perm & 0o7000) !== 0 || (perm & UMASK) !== 0) fchmodSync(fd, perm);
          futimesSync(fd, mtime, mtime);
        } finally {
          closeSync(fd);
        }
        break;
      }
      case 'symlink': {
        // Linux keeps user.* attributes to regular files and directories (xattr(7)): lsetxattr on a
        // symlink fails EPERM. That is the layer's fault, so say which entry before touching anything.
        const user = xattrs.find((x) => x.name.startsWith('user.'));
        if (user) throw unsupportedXattr(name, user.name, 'a symlink');
        dropPending(rel);
        try {
          symlinkSync(h.linkname ?? '', full);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          clear(rel, false);
          symlinkSync(h.linkname ?? '', full);
        }
        lchownSync(full, uid, gid);
        lutimesSync(full, mtime, mtime);
        break;
      }
      case 'link': {
        const t = splitEntryName(h.linkname ?? '');
        if (!t.ok) throw refuse(name, `hardlink target ${JSON.stringify(h.linkname)}: ${t.reason}`);
        if (t.parts.length === 0) throw refuse(name, 'hardlink to the layer root');
        ensureParents(name, t.parts, false);
        const targetRel = t.parts.join('/');
        if (targetRel === rel) break;
        const pendingTarget = pendingOf(targetRel);
        if (pendingTarget?.mknod) {
          clear(rel, false);
          pendingFor(rel).mknod = { ...pendingTarget.mknod };
          break;
        }
        const st = lstatOrUndefined(abs(targetRel));
        if (st === undefined) throw refuse(name, `hardlink target "${targetRel}" is not in this layer`);
        if (st.isDirectory()) throw refuse(name, `hardlink target "${targetRel}" is a directory`);
        clear(rel, false);
        linkSync(abs(targetRel), full);
        break;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        const user = xattrs.find((x) => x.name.startsWith('user.'));
        if (user) throw unsupportedXattr(name, user.name, `a ${type}`);
        clear(rel, false);
        const fmt = type === 'character-device' ? S_IFCHR : type === 'block-device' ? S_IFBLK : S_IFIFO;
        pendingFor(rel).mknod = { mode: fmt | perm, major: h.devmajor ?? 0, minor: h.devminor ?? 0, uid, gid, mtime };
        break;
      }
      default:
        // GNU long-name records and pax headers are folded in by tar-stream; anything else is skipped.
        return;
    }
    if (xattrs.length > 0) pendingFor(rel).xattrs.push(...xattrs);
  };

  const breathe = yielder();
  const cancelled = (): CriusError => new CriusError('CANCELLED', `image ${opts.image}: layer ${opts.layerDigest}: unpack cancelled`);
  const consume = (async () => {
    for await (const entry of ex) {
      try {
        if (opts.signal?.aborted) throw cancelled();
        await handle(entry.header, entry as unknown as AsyncIterable<Buffer>);
      } catch (err) {
        entry.resume();
        throw err;
      }
      entry.resume(); // drain any unread body (non-file entries)
      await breathe();
    }
  })();
  const flow = pipeline([src, ...stages, hasher, ex] as unknown as Parameters<typeof pipeline>[0][]);
  const onAbort = (): void => { src.destroy(cancelled()); };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.all([consume, flow]);
  } catch (err) {
    src.destroy();
    ex.destroy();
    await Promise.allSettled([consume, flow]);
    if (limitErr) throw limitErr;
    if (opts.signal?.aborted) throw cancelled();
    if (err instanceof CriusError) throw err;
    throw new CriusError('FAILED_PRECONDITION', `image ${opts.image}: layer ${opts.layerDigest}: cannot unpack: ${errorMessage(err)}`, { cause: err });
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }

  const diffId = `sha256:${hasher.hash.digest('hex')}`;
  if (opts.expectedDiffId !== undefined && diffId !== opts.expectedDiffId) {
    throw new CriusError('FAILED_PRECONDITION', `image ${opts.image}: layer ${opts.layerDigest}: uncompressed digest is ${diffId} but the image config lists ${opts.expectedDiffId}; the image is corrupt`);
  }

  // mknod and setxattr go through the native helper in one batch, device nodes before xattrs.
  const pending: Array<[string, PendingOps]> = [];
  const dirTimes: Array<[string, number]> = [];
  for (const [rel, n] of tree.walk()) {
    if (n.pending) pending.push([rel, n.pending]);
    if (n.mtime !== undefined) dirTimes.push([rel, n.mtime]);
  }
  if (pending.length > 0) {
    const chunks: string[] = [];
    for (const [rel, p] of pending) {
      if (p.mknod) {
        const m = p.mknod;
        const sec = Math.floor(m.mtime);
        chunks.push(['m', rel, String(m.mode), String(m.major), String(m.minor), String(m.uid), String(m.gid), String(sec), String(Math.round((m.mtime - sec) * 1e9))].join('\0') + '\0');
      }
    }
    for (const [rel, p] of pending) {
      for (const x of p.xattrs) chunks.push(['x', rel, x.name, x.value.toString('hex')].join('\0') + '\0');
    }
    try {
      await (opts.runner ?? run)(opts.fsopsPath, [root], { input: chunks.join(''), timeoutMs: 120_000 });
    } catch (err) {
      // An xattr the kernel or filesystem will not take (wrong file type, unsupported namespace, too
      // large) is the layer's problem: name the entry. Anything else (mknod failing) is ours.
      const x = /crius-fsops: xattr (.*) (\S+): ([^|\n]+)/.exec(errorMessage(err));
      if (x) throw unsupportedXattr(x[1]!, x[2]!, undefined, x[3]!.trim());
      throw new CriusError('INTERNAL', `image ${opts.image}: layer ${opts.layerDigest}: creating device nodes, whiteouts or xattrs failed: ${errorMessage(err)}`, { cause: err });
    }
  }
  // Directory mtimes last, deepest first (reverse pre-order puts every child before its parent).
  for (let i = dirTimes.length - 1; i >= 0; i--) {
    const [rel, t] = dirTimes[i]!;
    utimesSync(abs(rel), t, t);
    await breathe();
  }

  const du = await diskUsage(root, breathe);
  return { diffId, entries, usedBytes: du.bytes, inodes: du.inodes, skippedXattrs };
}
