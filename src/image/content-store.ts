// Blobs by digest under <root>/content/blobs/sha256/<hex>, shared between images. A blob is written to
// a unique temp file under <root>/content/ingest, verified (size and sha256) while it streams in, and
// renamed into place only when both match: an interrupted or corrupt download never becomes trusted.
// No fsync: like the store's SQLite (synchronous=NORMAL) this survives a process crash, not power loss.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CriusError, invalidArgument } from '../common/errors.js';
import { isDigest } from './reference.js';

export interface BlobInfo {
  digest: string;
  size: number;
}

export class ContentStore {
  readonly blobDir: string;
  readonly ingestDir: string;

  constructor(readonly root: string) {
    this.blobDir = join(root, 'content', 'blobs', 'sha256');
    this.ingestDir = join(root, 'content', 'ingest');
    mkdirSync(this.blobDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.ingestDir, { recursive: true, mode: 0o700 });
  }

  /** Removes temp files a crash left behind; call once at start-up, before any pull runs. */
  cleanIngest(): void {
    for (const f of readdirSync(this.ingestDir)) rmSync(join(this.ingestDir, f), { force: true, recursive: true });
  }

  path(digest: string): string {
    if (!isDigest(digest)) throw invalidArgument(`blob digest ${JSON.stringify(digest)} is not sha256:<64 hex>`);
    return join(this.blobDir, digest.slice('sha256:'.length));
  }

  has(digest: string): boolean {
    try {
      return statSync(this.path(digest)).isFile();
    } catch {
      return false;
    }
  }

  size(digest: string): number | undefined {
    try {
      return statSync(this.path(digest)).size;
    } catch {
      return undefined;
    }
  }

  read(digest: string): Buffer {
    return readFileSync(this.path(digest));
  }

  delete(digest: string): void {
    rmSync(this.path(digest), { force: true });
  }

  list(): BlobInfo[] {
    return readdirSync(this.blobDir).filter((h) => /^[a-f0-9]{64}$/.test(h)).map((h) => ({
      digest: `sha256:${h}`,
      size: statSync(join(this.blobDir, h)).size,
    }));
  }

  /** A fresh temp file path in the ingest dir (same filesystem as the blobs, so rename is atomic). */
  tempPath(): string {
    return join(this.ingestDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
  }

  /**
   * Streams `source` into the store, checking the expected digest (and size, when given) as it goes.
   * A mismatch is FAILED_PRECONDITION naming both digests (retrying the same registry would not help)
   * and keeps nothing.
   */
  async ingest(expected: { digest?: string; size?: number }, source: AsyncIterable<Uint8Array>, what: string): Promise<BlobInfo> {
    const tmp = this.tempPath();
    const fd = openSync(tmp, 'wx', 0o600);
    const hash = createHash('sha256');
    let size = 0;
    let closed = false;
    try {
      for await (const chunk of source) {
        size += chunk.length;
        if (expected.size !== undefined && size > expected.size) {
          throw new CriusError('FAILED_PRECONDITION', `${what}: received more than the ${expected.size} bytes the manifest declares; the registry served the wrong content, nothing was kept`);
        }
        hash.update(chunk);
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      }
      const digest = `sha256:${hash.digest('hex')}`;
      if (expected.size !== undefined && size !== expected.size) {
        throw new CriusError('FAILED_PRECONDITION', `${what}: received ${size} bytes but the manifest declares ${expected.size}; the download was cut short or the registry served the wrong content, nothing was kept`);
      }
      if (expected.digest !== undefined && digest !== expected.digest) {
        throw new CriusError('FAILED_PRECONDITION', `${what}: content digest is ${digest} but ${expected.digest} was expected; nothing was kept (a corrupt registry or a tampering proxy)`);
      }
      closeSync(fd);
      closed = true;
      renameSync(tmp, this.path(digest));
      return { digest, size };
    } finally {
      if (!closed) closeSync(fd);
      rmSync(tmp, { force: true });
    }
  }

  /** Stores bytes already in memory (manifests, configs), verifying the digest when one is expected. */
  async put(bytes: Buffer, what: string, expectedDigest?: string): Promise<BlobInfo> {
    const exp: { digest?: string; size: number } = { size: bytes.length };
    if (expectedDigest !== undefined) exp.digest = expectedDigest;
    return this.ingest(exp, (async function* () { yield bytes; })(), what);
  }
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
