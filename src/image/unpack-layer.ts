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

interface UnpackOptions {
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

interface UnpackResult {
  diffId: string;
  entries: number;
  /** Bytes and inodes the unpacked tree uses on disk (st_blocks * 512, one per inode). */
  usedBytes: number;
  inodes: number;
  /** xattrs present in the layer but not applied (namespace not allowed), for the log. */
  skippedXattrs: number;
}

type Compression = 'gzip' | 'zstd' | 'none';

/** Detects compression from the blob's magic bytes (docker-save layers carry no media type). */
function detectCompression(head: Buffer): Compression {
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

/** Gives the event loop a turn when the caller has held it for a few milliseconds. */
function yielder(everyMs = 10): () => Promise<void> | undefined {
  let last = Date.now();
  return () => {
    const now = Date.now();
    if (now - last < everyMs) return undefined;
    return new Promise<void>((resolve) => setImmediate(() => { last = Date.now(); resolve(); }));
  };
}

interface PendingOps {
  mknod?: { mode: number; major: number; minor: number; uid: number; gid: number; mtime: number };
  xattrs: Xattr[];
}

const S_IFCHR = 0o020000;
// Read once: chown/chmod calls are skipped when they would change nothing (half the syscalls per file).
const EUID = process.geteuid?.() ?? 0;
const EGID = process.getegid?.() ?? 0;
const UMASK = process.umask();
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

/** The compression of a blob on disk, from its first bytes. */
export function compressionOf(path: string): Compression {
  return detectCompression(readHead(path));
}

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
async function diskUsage(root: string, breathe: () => Promise<void> | undefined = () => undefined): Promise<{ bytes: number; inodes: number }> {
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
async function unpackInto(root: string, opts: UnpackOptions): Promise<UnpackResult> {
  // One yielder for every step, so the event loop gets a turn every few milliseconds throughout.
  const breathe = yielder();
  const layer = new LayerWriter(root, opts);
  const diffId = await streamEntries(opts, layer, breathe);
  if (opts.expectedDiffId !== undefined && diffId !== opts.expectedDiffId) {
    throw new CriusError('FAILED_PRECONDITION', `image ${opts.image}: layer ${opts.layerDigest}: uncompressed digest is ${diffId} but the image config lists ${opts.expectedDiffId}; the image is corrupt`);
  }
  await layer.applyPending(opts.runner ?? run);
  await layer.applyDirTimes(breathe);
  const du = await diskUsage(root, breathe);
  return { diffId, entries: layer.entries, usedBytes: du.bytes, inodes: du.inodes, skippedXattrs: layer.skippedXattrs };
}

/**
 * Decompresses and hashes the blob and hands each tar entry to the writer, one at a time; returns the
 * diff ID. A cap passed, a cancel or a broken stream tears the whole pipeline down.
 */
async function streamEntries(opts: UnpackOptions, layer: LayerWriter, breathe: () => Promise<void> | undefined): Promise<string> {
  const compression = compressionOf(opts.blobPath);
  const src = createReadStream(opts.blobPath, { highWaterMark: 256 * 1024 });
  const maxBytes = opts.maxUnpackedBytes ?? Number.POSITIVE_INFINITY;
  const hasher = new HashTransform(maxBytes, () => layer.limitReached(new CriusError('FAILED_PRECONDITION',
    `image ${opts.image}: layer ${opts.layerDigest}: unpacks to more than ${maxBytes} bytes (the limit images.max_layer_unpacked_bytes = ${maxBytes}); refusing the layer (a decompression bomb?), nothing was kept`)));
  const ex = extract();
  const streams: Array<NodeJS.ReadableStream | NodeJS.WritableStream | NodeJS.ReadWriteStream> = [src];
  if (compression === 'gzip') streams.push(createGunzip());
  if (compression === 'zstd') streams.push(new ZstdTransform());
  streams.push(hasher, ex);

  const cancelled = (): CriusError => new CriusError('CANCELLED', `image ${opts.image}: layer ${opts.layerDigest}: unpack cancelled`);
  const consume = (async () => {
    for await (const entry of ex) {
      try {
        if (opts.signal?.aborted) throw cancelled();
        await layer.entry(entry.header, entry);
      } catch (err) {
        entry.resume();
        throw err;
      }
      entry.resume(); // drain any unread body (non-file entries)
      await breathe();
    }
  })();
  const flow = pipeline(streams);
  const onAbort = (): void => { src.destroy(cancelled()); };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.all([consume, flow]);
  } catch (err) {
    src.destroy();
    ex.destroy();
    await Promise.allSettled([consume, flow]);
    if (layer.limitErr) throw layer.limitErr;
    if (opts.signal?.aborted) throw cancelled();
    if (err instanceof CriusError) throw err;
    throw new CriusError('FAILED_PRECONDITION', `image ${opts.image}: layer ${opts.layerDigest}: cannot unpack: ${errorMessage(err)}`, { cause: err });
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  return `sha256:${hasher.hash.digest('hex')}`;
}

type Xattr = { name: string; value: Buffer };

/**
 * Writes a layer's entries under root, one call per entry, each step in proportion to what the entry
 * touches (the PathTree). Device nodes, whiteouts and xattrs are collected and made at the end in one
 * call of the native helper (applyPending); directory mtimes last of all (applyDirTimes).
 */
class LayerWriter {
  entries = 0;
  skippedXattrs = 0;
  /** The first cap passed: preferred over whatever error the torn-down pipeline reports after it. */
  limitErr: CriusError | undefined;
  /** Real directories, pending mknod/xattr work and directory mtimes, by relative path. */
  private readonly tree = new PathTree();
  /** Once a setgid dir exists, new entries may inherit its group: chown every entry from then on. */
  private setgidSeen = false;
  private readonly maxEntries: number;

  constructor(private readonly root: string, private readonly opts: UnpackOptions) {
    this.maxEntries = opts.maxEntries ?? Number.POSITIVE_INFINITY;
  }

  limitReached(err: CriusError): CriusError {
    return (this.limitErr ??= err);
  }

  /** One tar entry: checks its name, then writes it (or records what to make at the end). */
  async entry(h: Header, body: AsyncIterable<unknown>): Promise<void> {
    this.entries++;
    if (this.entries > this.maxEntries) {
      throw this.limitReached(new CriusError('FAILED_PRECONDITION', `image ${this.opts.image}: layer ${this.opts.layerDigest}: has more than ${this.maxEntries} entries (the limit images.max_layer_entries = ${this.maxEntries}); refusing the layer, nothing was kept`));
    }
    const name = h.name;
    const split = splitEntryName(name);
    if (!split.ok) throw this.refuse(name, split.reason);
    const parts = split.parts;
    const meta: EntryMeta = {
      name, type: h.type ?? 'file', uid: h.uid ?? 0, gid: h.gid ?? 0,
      perm: (h.mode ?? 0o644) & 0o7777, mtime: (h.mtime?.getTime() ?? 0) / 1000,
    };
    if (parts.length === 0) {
      this.layerRoot(meta);
      return;
    }
    const rel = parts.join('/');
    const wo = whiteoutOf(parts[parts.length - 1]!);
    if (wo.kind === 'invalid') throw this.refuse(name, wo.reason);
    if (wo.kind === 'meta') return;
    this.ensureParents(name, parts, true);
    const parentRel = parts.slice(0, -1).join('/');
    if (wo.kind === 'opaque') {
      // The parent directory hides everything below it in lower layers (overlayfs "opaque" dir).
      if (parentRel !== '') this.pendingFor(parentRel).xattrs.push({ name: 'trusted.overlay.opaque', value: Buffer.from('y') });
      return;
    }
    if (wo.kind === 'file') {
      this.whiteout(parentRel === '' ? wo.target : `${parentRel}/${wo.target}`, meta.mtime);
      return;
    }
    const xattrs = this.xattrsOf(h);
    switch (meta.type) {
      case 'directory': this.directory(rel, meta); break;
      case 'file':
      case 'contiguous-file': await this.file(rel, meta, body); break;
      case 'symlink': this.symlink(rel, meta, h.linkname ?? '', xattrs); break;
      case 'link': this.hardlink(rel, meta, h.linkname ?? ''); break;
      case 'character-device':
      case 'block-device':
      case 'fifo': this.device(rel, meta, h, xattrs); break;
      default:
        // GNU long-name records and pax headers are folded in by tar-stream; anything else is skipped.
        return;
    }
    if (xattrs.length > 0) this.pendingFor(rel).xattrs.push(...xattrs);
  }

  /** The layer root itself ("./"): only its metadata applies. */
  private layerRoot(m: EntryMeta): void {
    if (m.type !== 'directory') return;
    lchownSync(this.root, m.uid, m.gid);
    chmodSync(this.root, m.perm);
    if ((m.perm & 0o2000) !== 0) this.setgidSeen = true;
    this.tree.root.mtime = m.mtime;
  }

  /** A whited-out path: whatever this layer put there goes; an overlay whiteout is made at the end. */
  private whiteout(target: string, mtime: number): void {
    this.clear(target, false);
    // overlayfs whiteout: a character device 0/0 (Documentation/filesystems/overlayfs.rst).
    this.pendingFor(target).mknod = { mode: S_IFCHR, major: 0, minor: 0, uid: 0, gid: 0, mtime };
  }

  private xattrsOf(h: Header): Xattr[] {
    const xattrs: Xattr[] = [];
    const pax = h.pax as Record<string, string> | null | undefined;
    if (!pax) return xattrs;
    for (const [k, v] of Object.entries(pax)) {
      if (!k.startsWith('SCHILY.xattr.')) continue;
      const xn = k.slice('SCHILY.xattr.'.length);
      if (xattrAllowed(xn)) xattrs.push({ name: xn, value: xattrValueBytes(v) });
      else this.skippedXattrs++;
    }
    return xattrs;
  }

  /** chown when it changes something (or a setgid parent may have given the entry its group). */
  private needsChown(m: EntryMeta): boolean {
    return m.uid !== EUID || m.gid !== EGID || this.setgidSeen;
  }

  private directory(rel: string, m: EntryMeta): void {
    const full = this.abs(rel);
    // A device node or whiteout still pending at this path is replaced by the directory.
    if (this.tree.get(rel)?.pending?.mknod) this.dropPending(rel);
    try {
      mkdirSync(full, { mode: m.perm & 0o777 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!this.clear(rel, true)) mkdirSync(full, { mode: m.perm & 0o777 });
    }
    if (this.needsChown(m)) lchownSync(full, m.uid, m.gid);
    // After chown, which clears setuid/setgid; mkdir's mode was filtered by the umask.
    if ((m.perm & 0o7000) !== 0 || (m.perm & UMASK) !== 0) chmodSync(full, m.perm);
    if ((m.perm & 0o2000) !== 0) this.setgidSeen = true;
    const node = this.tree.get(rel, true);
    node.dir = true;
    node.mtime = m.mtime;
  }

  private async file(rel: string, m: EntryMeta, body: AsyncIterable<unknown>): Promise<void> {
    const full = this.abs(rel);
    // Create exclusively without a prior lstat: new paths are the common case; EEXIST means replace.
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    this.dropPending(rel);
    let fd: number;
    try {
      fd = openSync(full, flags, m.perm & 0o777);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      this.clear(rel, false);
      fd = openSync(full, flags, m.perm & 0o777);
    }
    try {
      // The entry's body stream yields Buffers (tar-stream's typings say unknown).
      for await (const data of body) {
        const chunk = data as Buffer;
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      }
      if (this.needsChown(m)) fchownSync(fd, m.uid, m.gid);
      if ((m.perm & 0o7000) !== 0 || (m.perm & UMASK) !== 0) fchmodSync(fd, m.perm);
      futimesSync(fd, m.mtime, m.mtime);
    } finally {
      closeSync(fd);
    }
  }

  private symlink(rel: string, m: EntryMeta, target: string, xattrs: Xattr[]): void {
    // Linux keeps user.* attributes to regular files and directories (xattr(7)): lsetxattr on a
    // symlink fails EPERM. That is the layer's fault, so say which entry before touching anything.
    const user = xattrs.find((x) => x.name.startsWith('user.'));
    if (user) throw this.unsupportedXattr(m.name, user.name, 'a symlink');
    const full = this.abs(rel);
    this.dropPending(rel);
    try {
      symlinkSync(target, full);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      this.clear(rel, false);
      symlinkSync(target, full);
    }
    lchownSync(full, m.uid, m.gid);
    lutimesSync(full, m.mtime, m.mtime);
  }

  private hardlink(rel: string, m: EntryMeta, linkname: string): void {
    const t = splitEntryName(linkname);
    if (!t.ok) throw this.refuse(m.name, `hardlink target ${JSON.stringify(linkname)}: ${t.reason}`);
    if (t.parts.length === 0) throw this.refuse(m.name, 'hardlink to the layer root');
    this.ensureParents(m.name, t.parts, false);
    const targetRel = t.parts.join('/');
    if (targetRel === rel) return;
    const pendingTarget = this.tree.get(targetRel)?.pending;
    if (pendingTarget?.mknod) {
      // A link to a device node made at the end is another node like it.
      this.clear(rel, false);
      this.pendingFor(rel).mknod = { ...pendingTarget.mknod };
      return;
    }
    const st = lstatOrUndefined(this.abs(targetRel));
    if (st === undefined) throw this.refuse(m.name, `hardlink target "${targetRel}" is not in this layer`);
    if (st.isDirectory()) throw this.refuse(m.name, `hardlink target "${targetRel}" is a directory`);
    this.clear(rel, false);
    linkSync(this.abs(targetRel), this.abs(rel));
  }

  private device(rel: string, m: EntryMeta, h: Header, xattrs: Xattr[]): void {
    const user = xattrs.find((x) => x.name.startsWith('user.'));
    if (user) throw this.unsupportedXattr(m.name, user.name, `a ${m.type}`);
    this.clear(rel, false);
    const fmt = m.type === 'character-device' ? S_IFCHR : m.type === 'block-device' ? S_IFBLK : S_IFIFO;
    this.pendingFor(rel).mknod = { mode: fmt | m.perm, major: h.devmajor ?? 0, minor: h.devminor ?? 0, uid: m.uid, gid: m.gid, mtime: m.mtime };
  }

  /** mknod and setxattr through the native helper, in one batch, device nodes before xattrs. */
  async applyPending(runner: Runner): Promise<void> {
    const nodes: string[] = [];
    const xattrs: string[] = [];
    for (const [rel, n] of this.tree.walk()) {
      const p = n.pending;
      if (!p) continue;
      if (p.mknod) {
        const m = p.mknod;
        const sec = Math.floor(m.mtime);
        nodes.push(['m', rel, String(m.mode), String(m.major), String(m.minor), String(m.uid), String(m.gid), String(sec), String(Math.round((m.mtime - sec) * 1e9))].join('\0') + '\0');
      }
      for (const x of p.xattrs) xattrs.push(['x', rel, x.name, x.value.toString('hex')].join('\0') + '\0');
    }
    if (nodes.length === 0 && xattrs.length === 0) return;
    try {
      await runner(this.opts.fsopsPath, [this.root], { input: nodes.join('') + xattrs.join(''), timeoutMs: 120_000 });
    } catch (err) {
      // An xattr the kernel or filesystem will not take (wrong file type, unsupported namespace, too
      // large) is the layer's problem: name the entry. Anything else (mknod failing) is ours.
      const x = /crius-fsops: xattr (.*) (\S+): ([^|\n]+)/.exec(errorMessage(err));
      if (x) throw this.unsupportedXattr(x[1]!, x[2]!, undefined, x[3]!.trim());
      throw new CriusError('INTERNAL', `image ${this.opts.image}: layer ${this.opts.layerDigest}: creating device nodes, whiteouts or xattrs failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Directory mtimes last (making children changed them), deepest first. */
  async applyDirTimes(breathe: () => Promise<void> | undefined): Promise<void> {
    const dirTimes: Array<[string, number]> = [];
    for (const [rel, n] of this.tree.walk()) if (n.mtime !== undefined) dirTimes.push([rel, n.mtime]);
    // Reverse pre-order puts every child before its parent.
    for (let i = dirTimes.length - 1; i >= 0; i--) {
      const [rel, t] = dirTimes[i]!;
      utimesSync(this.abs(rel), t, t);
      await breathe();
    }
  }

  /** Makes sure every parent of parts is a real directory inside root, creating missing ones (0755). */
  private ensureParents(entry: string, parts: string[], create: boolean): void {
    let rel = '';
    for (let i = 0; i < parts.length - 1; i++) {
      rel = rel === '' ? parts[i]! : `${rel}/${parts[i]!}`;
      if (this.tree.get(rel)?.dir === true) continue;
      const st = lstatOrUndefined(this.abs(rel));
      if (st === undefined) {
        if (!create) throw this.refuse(entry, `parent "${rel}" does not exist`);
        this.dropPending(rel);
        mkdirSync(this.abs(rel), { mode: 0o755 });
      } else if (st.isSymbolicLink()) {
        throw this.refuse(entry, `parent "${rel}" is a symlink`);
      } else if (!st.isDirectory()) {
        throw this.refuse(entry, `parent "${rel}" is not a directory`);
      }
      this.tree.get(rel, true).dir = true;
    }
  }

  /** Clears whatever is at rel (unless it is a directory and keepDir), so the new entry replaces it. */
  private clear(rel: string, keepDir: boolean): boolean {
    const st = lstatOrUndefined(this.abs(rel));
    // A directory entry repeated keeps the dir, its children and its pending xattrs (an opaque marker).
    if (st !== undefined && st.isDirectory() && keepDir) return true;
    this.dropPending(rel);
    if (st === undefined) return false;
    this.tree.drop(rel);
    rmSync(this.abs(rel), { recursive: true, force: true });
    return false;
  }

  private pendingFor(rel: string): PendingOps {
    return (this.tree.get(rel, true).pending ??= { xattrs: [] });
  }

  private dropPending(rel: string): void {
    const n = this.tree.get(rel);
    if (n) n.pending = undefined;
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  private refuse(entry: string, why: string): CriusError {
    return new CriusError('FAILED_PRECONDITION',
      `image ${this.opts.image}: layer ${this.opts.layerDigest}: entry ${JSON.stringify(entry)}: ${why}; refusing the layer (it tries to write outside its directory or is malformed)`);
  }

  private unsupportedXattr(entry: string, xattr: string, on: string | undefined, why?: string): CriusError {
    return new CriusError('FAILED_PRECONDITION',
      `image ${this.opts.image}: layer ${this.opts.layerDigest}: entry ${JSON.stringify(entry)}: extended attribute "${xattr}"${on ? ` on ${on}` : ''} cannot be applied`
      + `${why ? ` (${why})` : ' (Linux allows user.* attributes only on regular files and directories)'}; refusing the layer`);
  }
}

/** The parts of a tar header every entry type uses. */
interface EntryMeta {
  name: string;
  type: NonNullable<Header['type']>;
  uid: number;
  gid: number;
  /** Permission bits with setuid/setgid/sticky. */
  perm: number;
  /** Seconds since the epoch. */
  mtime: number;
}
