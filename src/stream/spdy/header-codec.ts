// SPDY/3 header compression: one zlib stream per direction for the whole connection, primed with the SPDY/3
// dictionary, each header block ending in Z_SYNC_FLUSH. The peer keeps its decompressor across frames, so a
// fresh context per frame (zlib.deflateSync) would desynchronise it after the first block.
// Node has no synchronous API on a persistent zlib context (processChunkSync closes the handle), so the
// codec is asynchronous and serialises its calls; the connection keeps frame order around it.
import zlib from 'node:zlib';
import { SPDY3_DICTIONARY } from './dictionary.js';
import { decodeNameValues, encodeNameValues, type SpdyHeaders } from './frames.js';

type ZlibStream = zlib.Deflate | zlib.Inflate;

function flushThrough(z: ZlibStream, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    z.once('error', onError);
    if (input.length > 0) z.write(input);
    z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      z.off('error', onError);
      const chunks: Buffer[] = [];
      for (let c: Buffer | null = z.read() as Buffer | null; c !== null; c = z.read() as Buffer | null) chunks.push(c);
      resolve(Buffer.concat(chunks));
    });
  });
}

export class HeaderCodec {
  private readonly deflate = zlib.createDeflate({ dictionary: SPDY3_DICTIONARY, level: 9 });
  private readonly inflate = zlib.createInflate({ dictionary: SPDY3_DICTIONARY });
  private deflateTail: Promise<unknown> = Promise.resolve();
  private inflateTail: Promise<unknown> = Promise.resolve();

  /** Compressed block for `headers`; calls complete in the order they were made. */
  compress(headers: SpdyHeaders): Promise<Buffer> {
    const nv = encodeNameValues(headers);
    const p = this.deflateTail.then(() => flushThrough(this.deflate, nv));
    this.deflateTail = p.catch(() => undefined);
    return p;
  }

  /** Headers of a received block; an empty block (allowed for SYN_REPLY) decodes to no headers. */
  decompress(block: Buffer): Promise<SpdyHeaders> {
    if (block.length === 0) return Promise.resolve({});
    const p = this.inflateTail.then(() => flushThrough(this.inflate, block)).then(decodeNameValues);
    this.inflateTail = p.catch(() => undefined);
    return p;
  }

  close(): void {
    this.deflate.close();
    this.inflate.close();
  }
}
