// The gRPC-over-HTTP/2 wire format, as pure functions (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
// length-prefixed messages in DATA frames, the grpc-timeout header, and grpc-message's percent-encoding.
import { GrpcStatusError, Status } from './status.js';

/** Bytes before each message: a compressed flag (1 byte) and the length (4 bytes, big-endian). */
const PREFIX = 5;

/** One message as framed on the wire: prefix + payload, never compressed (crius does not compress). */
export function frameMessage(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(PREFIX + payload.length);
  out[0] = 0;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, PREFIX);
  return out;
}

export interface WireMessage {
  compressed: boolean;
  payload: Buffer;
}

/**
 * Cuts a request body (arriving in DATA chunks of any size) into messages. A message whose declared
 * length exceeds maxBytes is refused as soon as its prefix is read, before its bytes are buffered.
 */
export class MessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxBytes: number) {}

  /** Adds a chunk; returns the messages it completed (throws GrpcStatusError for a too-large one). */
  push(chunk: Buffer): WireMessage[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: WireMessage[] = [];
    for (;;) {
      if (this.buffered < PREFIX) return out;
      const head = this.peek(PREFIX);
      const flag = head[0]!;
      const length = head.readUInt32BE(1);
      if (flag > 1) throw new GrpcStatusError(Status.INTERNAL, `malformed gRPC message: compressed flag ${flag} (0 or 1 expected)`);
      if (length > this.maxBytes) {
        throw new GrpcStatusError(Status.RESOURCE_EXHAUSTED, `received message larger than max (${length} vs. ${this.maxBytes})`);
      }
      if (this.buffered < PREFIX + length) return out;
      const whole = this.take(PREFIX + length);
      out.push({ compressed: flag === 1, payload: whole.subarray(PREFIX) });
    }
  }

  /** Bytes received that do not yet make a whole message (the body must end with none). */
  pending(): number {
    return this.buffered;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return all.subarray(0, n);
  }
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * The client's deadline from its grpc-timeout header ("5S", "1999999u": at most 8 digits and a unit), in
 * ms from now; undefined when absent. A malformed one is refused (the spec leaves no other reading).
 */
export function parseGrpcTimeout(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(header);
  if (!m) throw new GrpcStatusError(Status.INTERNAL, `malformed grpc-timeout header ${JSON.stringify(header.slice(0, 20))}`);
  return Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]!;
}

/**
 * grpc-message as the spec asks: UTF-8, with every byte outside printable ASCII (and '%' itself)
 * percent-encoded, so any error text (a path, a name with non-ASCII) survives as a header value.
 */
export function encodeGrpcMessage(message: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(message)) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
