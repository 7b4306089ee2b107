// SPDY/3.1 frame layouts (moby/spdystream spdy/{types,read,write}.go; SPDY draft 3.1). Pure functions:
// header blocks arrive here already compressed or decompressed; the zlib contexts live in header-codec.ts.
// All integers are big-endian.

const SPDY_VERSION = 3;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;
/** RST_STREAM status codes (draft 3.1 section 2.6.3). */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;

/** A frame's length field is 24 bits. */
const MAX_FRAME_PAYLOAD = 0xffffff;
/** DATA payloads are cut to this size so one stream cannot hold the socket for long (spdystream writes 32 KiB too). */
export const DATA_CHUNK = 32 * 1024;

/** Header names are lowercase on the wire; several values of one name are joined by NUL. */
export type SpdyHeaders = Record<string, string>;

export type RawFrame =
  | { kind: 'control'; type: number; flags: number; payload: Buffer }
  | { kind: 'data'; streamId: number; flags: number; payload: Buffer };

/**
 * Cuts as many complete frames as `buf` holds; `rest` is the incomplete tail to prepend to the next read.
 * Throws on a control frame of another SPDY version (the connection answers with GOAWAY and closes).
 */
export function parseFrames(buf: Buffer): { frames: RawFrame[]; rest: Buffer } {
  const frames: RawFrame[] = [];
  let off = 0;
  while (buf.length - off >= 8) {
    const length = buf.readUIntBE(off + 5, 3);
    if (buf.length - off < 8 + length) break;
    const flags = buf[off + 4]!;
    const payload = buf.subarray(off + 8, off + 8 + length);
    if (buf[off]! & 0x80) {
      const version = buf.readUInt16BE(off) & 0x7fff;
      if (version !== SPDY_VERSION) throw new Error(`SPDY control frame of version ${version}, only 3 is spoken`);
      frames.push({ kind: 'control', type: buf.readUInt16BE(off + 2), flags, payload });
    } else {
      frames.push({ kind: 'data', streamId: buf.readUInt32BE(off) & 0x7fffffff, flags, payload });
    }
    off += 8 + length;
  }
  return { frames, rest: off === 0 ? buf : buf.subarray(off) };
}

function controlHeader(type: number, flags: number, length: number): Buffer {
  if (length > MAX_FRAME_PAYLOAD) throw new Error(`SPDY frame payload of ${length} bytes exceeds 24 bits`);
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  h.writeUInt16BE(type, 2);
  h[4] = flags;
  h.writeUIntBE(length, 5, 3);
  return h;
}

export function encodeControl(type: number, flags: number, payload: Buffer): Buffer {
  return Buffer.concat([controlHeader(type, flags, payload.length), payload]);
}

/** The 8-byte header of a DATA frame carrying `length` payload bytes (sent before the payload itself). */
export function encodeDataHeader(streamId: number, flags: number, length: number): Buffer {
  if (length > MAX_FRAME_PAYLOAD) throw new Error(`SPDY DATA payload of ${length} bytes exceeds 24 bits`);
  const h = Buffer.alloc(8);
  h.writeUInt32BE(streamId & 0x7fffffff, 0);
  h[4] = flags;
  h.writeUIntBE(length, 5, 3);
  return h;
}

export function encodeData(streamId: number, flags: number, payload: Buffer): Buffer {
  return Buffer.concat([encodeDataHeader(streamId, flags, payload.length), payload]);
}

export function encodeSynStream(streamId: number, assocId: number, priority: number, flags: number, block: Buffer): Buffer {
  const p = Buffer.alloc(10);
  p.writeUInt32BE(streamId & 0x7fffffff, 0);
  p.writeUInt32BE(assocId & 0x7fffffff, 4);
  p[8] = (priority & 0x7) << 5;
  p[9] = 0; // slot: unused in SPDY/3.1
  return encodeControl(FrameType.SYN_STREAM, flags, Buffer.concat([p, block]));
}

/** SYN_REPLY and HEADERS share a layout: stream id, then the header block. */
export function encodeStreamHeaders(type: number, streamId: number, flags: number, block: Buffer): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(streamId & 0x7fffffff, 0);
  return encodeControl(type, flags, Buffer.concat([p, block]));
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(streamId & 0x7fffffff, 0);
  p.writeUInt32BE(status, 4);
  return encodeControl(FrameType.RST_STREAM, 0, p);
}

export function encodePing(id: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(id >>> 0, 0);
  return encodeControl(FrameType.PING, 0, p);
}

export function encodeGoAway(lastGoodStreamId: number, status: number): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(lastGoodStreamId & 0x7fffffff, 0);
  p.writeUInt32BE(status, 4);
  return encodeControl(FrameType.GOAWAY, 0, p);
}

/** Fields of control frames that are not header blocks; header-carrying frames keep the raw block. */
export type ControlFrame =
  | { type: 'SYN_STREAM'; streamId: number; assocId: number; priority: number; fin: boolean; block: Buffer }
  | { type: 'SYN_REPLY'; streamId: number; fin: boolean; block: Buffer }
  | { type: 'HEADERS'; streamId: number; fin: boolean; block: Buffer }
  | { type: 'RST_STREAM'; streamId: number; status: number }
  | { type: 'SETTINGS' }
  | { type: 'PING'; id: number }
  | { type: 'GOAWAY'; lastGoodStreamId: number; status: number }
  | { type: 'WINDOW_UPDATE'; streamId: number; delta: number }
  | { type: 'UNKNOWN'; code: number };

export function decodeControl(f: { type: number; flags: number; payload: Buffer }): ControlFrame {
  const p = f.payload;
  const need = (n: number): void => {
    if (p.length < n) throw new Error(`SPDY control frame type ${f.type} has ${p.length} bytes, needs ${n}`);
  };
  const fin = (f.flags & FLAG_FIN) !== 0;
  switch (f.type) {
    case FrameType.SYN_STREAM:
      need(10);
      return {
        type: 'SYN_STREAM', streamId: p.readUInt32BE(0) & 0x7fffffff, assocId: p.readUInt32BE(4) & 0x7fffffff,
        priority: p[8]! >> 5, fin, block: p.subarray(10),
      };
    case FrameType.SYN_REPLY:
      need(4);
      return { type: 'SYN_REPLY', streamId: p.readUInt32BE(0) & 0x7fffffff, fin, block: p.subarray(4) };
    case FrameType.HEADERS:
      need(4);
      return { type: 'HEADERS', streamId: p.readUInt32BE(0) & 0x7fffffff, fin, block: p.subarray(4) };
    case FrameType.RST_STREAM:
      need(8);
      return { type: 'RST_STREAM', streamId: p.readUInt32BE(0) & 0x7fffffff, status: p.readUInt32BE(4) };
    case FrameType.SETTINGS:
      return { type: 'SETTINGS' };
    case FrameType.PING:
      need(4);
      return { type: 'PING', id: p.readUInt32BE(0) };
    case FrameType.GOAWAY:
      need(8);
      return { type: 'GOAWAY', lastGoodStreamId: p.readUInt32BE(0) & 0x7fffffff, status: p.readUInt32BE(4) };
    case FrameType.WINDOW_UPDATE:
      need(8);
      return { type: 'WINDOW_UPDATE', streamId: p.readUInt32BE(0) & 0x7fffffff, delta: p.readUInt32BE(4) & 0x7fffffff };
    default:
      return { type: 'UNKNOWN', code: f.type };
  }
}

/** Name/value block before compression: u32 count, then u32-length-prefixed name and value per header. */
export function encodeNameValues(headers: SpdyHeaders): Buffer {
  const entries = Object.entries(headers);
  const parts: Buffer[] = [];
  const count = Buffer.alloc(4);
  count.writeUInt32BE(entries.length);
  parts.push(count);
  for (const [name, value] of entries) {
    for (const s of [name.toLowerCase(), value]) {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}

export function decodeNameValues(buf: Buffer): SpdyHeaders {
  const out: SpdyHeaders = {};
  if (buf.length === 0) return out;
  let off = 0;
  const u32 = (): number => {
    if (off + 4 > buf.length) throw new Error('SPDY header block truncated');
    const v = buf.readUInt32BE(off);
    off += 4;
    return v;
  };
  const str = (): string => {
    const n = u32();
    if (off + n > buf.length) throw new Error('SPDY header block truncated');
    const s = buf.toString('utf8', off, off + n);
    off += n;
    return s;
  };
  const count = u32();
  for (let i = 0; i < count; i++) {
    const name = str().toLowerCase();
    const value = str();
    out[name] = out[name] === undefined ? value : `${out[name]}\0${value}`;
  }
  return out;
}
