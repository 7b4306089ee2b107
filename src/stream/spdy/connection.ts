// A SPDY/3.1 session over any byte Duplex (a TCP socket after the HTTP 101, or a WebSocket tunnel), with
// each SPDY stream exposed as a Node Duplex.
// Deliberate differences from a textbook SPDY/3.1 peer, all for moby/spdystream (the Go peer of kubelet,
// client-go and crictl):
//  - no send-side flow control: spdystream never sends WINDOW_UPDATE, so honouring the 64 KiB initial window
//    would stall any output above 64 KiB. Backpressure comes from the socket instead.
//  - no receive window either (spdystream ignores WINDOW_UPDATE): inbound flow control is TCP's. When a
//    stream's reader falls behind (stdin into a process that does not read it, a pod that reads slowly),
//    the connection stops reading its socket until that reader catches up, as spdystream's own read loop
//    blocks on a stream's channel. So what one stream buffers is bounded by its high-water mark plus one
//    socket read, whatever the client sends. A connection that is not read cannot see its peer vanish, so
//    while input is held it sends a PING every few seconds: a peer that reset the connection then fails
//    the write and the session ends.
//  - every PING from the peer is echoed unchanged (client-go pings every 5 s and tears the connection down
//    when pings go unanswered).
//  - the accepting side must answer every SYN_STREAM (SYN_REPLY or RST_STREAM): client-go waits 30 s for it.
import { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import {
  DATA_CHUNK, FLAG_FIN, FrameType, RstStatus, decodeControl, encodeData, encodeDataHeader, encodeGoAway, encodePing, encodeRstStream,
  encodeStreamHeaders, encodeSynStream, parseFrames, type ControlFrame, type RawFrame, type SpdyHeaders,
} from './frames.js';
import { HeaderCodec } from './header-codec.js';

const SOCKET_BUFFER_LIMIT = 1024 * 1024;
/** Bytes a stream holds for its reader before the connection stops reading the socket. */
const STREAM_INPUT_BUFFER = 64 * 1024;
/** Output the peer left unread beyond which its input is not read either (PINGs it never reads, ...). */
const OUTPUT_BACKLOG_LIMIT = 4 * SOCKET_BUFFER_LIMIT;
/**
 * The largest frame accepted. Go peers write DATA frames of at most 32 KiB (io.Copy's buffer) and small
 * header blocks; a frame declaring up to 16 MiB would otherwise be buffered whole before it is parsed.
 */
export const MAX_INBOUND_FRAME = 1024 * 1024;
/** How often a connection whose input is held checks that its peer is still there. */
export const HELD_INPUT_PROBE_MS = 5_000;

interface SpdyConnectionOptions {
  /** Servers use even stream and ping ids, clients odd ones (SPDY/3.1 section 2.3.2). */
  isServer: boolean;
}

export class SpdyStream extends Duplex {
  readonly id: number;
  /** Headers of the SYN_STREAM (accepted streams) or of the SYN_REPLY (opened streams). */
  headers: SpdyHeaders;
  /** True once the peer reset the stream or the connection died before both sides sent FIN. */
  aborted = false;
  private replied: boolean;
  private localFin = false;
  private remoteFin = false;

  constructor(private readonly conn: SpdyConnection, id: number, headers: SpdyHeaders, replied: boolean) {
    super({ allowHalfOpen: true, readableHighWaterMark: STREAM_INPUT_BUFFER });
    this.id = id;
    this.headers = headers;
    this.replied = replied;
  }

  /** Accepts a stream the peer opened. Writing on an unreplied stream replies first (spdystream drops DATA before SYN_REPLY). */
  reply(headers: SpdyHeaders = {}): void {
    if (this.replied) return;
    this.replied = true;
    this.conn.sendHeaders(FrameType.SYN_REPLY, this.id, headers, 0);
  }

  /** Refuses or cancels the stream with RST_STREAM. */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.destroyed) return;
    this.replied = true;
    this.localFin = true;
    this.remoteFin = true;
    this.conn.sendFrame(encodeRstStream(this.id, status));
    this.destroy();
  }

  override _read(): void {
    // The reader wants more: if this stream held the connection's input, let it flow again.
    this.conn.releaseInput(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.reply();
    this.conn.sendDataChunks(this.id, chunk);
    this.conn.whenWritable(cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.reply();
    this.localFin = true;
    this.conn.sendFrame(encodeData(this.id, FLAG_FIN, Buffer.alloc(0)));
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    if ((!this.localFin || !this.remoteFin) && !this.conn.isClosed()) {
      this.localFin = true;
      this.conn.sendFrame(encodeRstStream(this.id, RstStatus.CANCEL));
    }
    this.conn.forget(this.id);
    this.conn.releaseInput(this);
    cb(err);
  }

  /** @internal */
  onData(payload: Buffer, fin: boolean): void {
    if (this.remoteFin || this.destroyed) return;
    if (payload.length > 0 && !this.push(payload)) this.conn.holdInput(this);
    if (fin) this.onRemoteFin();
  }

  /** @internal */
  onRemoteFin(): void {
    if (this.remoteFin) return;
    this.remoteFin = true;
    this.push(null);
  }

  /** @internal */
  onReset(): void {
    this.aborted = true;
    this.remoteFin = true;
    this.localFin = true;
    this.emit('reset');
    this.destroy();
  }

  /** @internal */
  onConnectionGone(): void {
    if (this.localFin && this.remoteFin) return;
    this.aborted = true;
    this.destroy();
  }

  /** @internal */
  onReplied(headers: SpdyHeaders): void {
    this.replied = true;
    this.headers = headers;
  }
}

/**
 * Events: 'stream' (SpdyStream, accepted from the peer; call reply() or reset()), 'goaway', 'close',
 * 'error' (protocol or socket error; the connection is closed afterwards).
 */
export class SpdyConnection extends EventEmitter {
  private readonly codec = new HeaderCodec();
  private readonly streams = new Map<number, SpdyStream>();
  private readonly pendingReplies = new Map<number, { resolve: (s: SpdyStream) => void; reject: (e: Error) => void }>();
  private readonly pendingPings = new Map<number, () => void>();
  private readonly outQueue: Array<Buffer | Promise<Buffer>> = [];
  private readonly inQueue: RawFrame[] = [];
  private readonly writableWaiters: Array<() => void> = [];
  /** Why the socket is not being read: streams whose readers are behind, or the output backlog. */
  private readonly inputHolds = new Set<object>();
  private readonly outputBacklog = {};
  private probeTimer: NodeJS.Timeout | undefined;
  private inChunks: Buffer[] = [];
  private inLen = 0;
  private pumpingOut = false;
  private pumpingIn = false;
  private terminateWhenDrained = false;
  private closed = false;
  private goingAway = false;
  private droppingInput = false;
  private nextStreamId: number;
  private nextPingId: number;
  private lastRemoteStreamId = 0;
  readonly isServer: boolean;

  constructor(private readonly socket: Duplex, opts: SpdyConnectionOptions) {
    super();
    this.isServer = opts.isServer;
    this.nextStreamId = opts.isServer ? 2 : 1;
    this.nextPingId = opts.isServer ? 2 : 1;
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    socket.on('drain', () => { this.releaseInput(this.outputBacklog); this.notifyWritable(); });
    // Frames already received are still delivered when the peer ends the socket (a session's last frames and
    // its GOAWAY often arrive together with the FIN).
    socket.on('end', () => this.terminateAfterInput());
    socket.on('close', () => this.terminateAfterInput());
    socket.on('error', (err: Error) => this.terminate(err));
  }

  isClosed(): boolean {
    return this.closed;
  }

  /** Feeds bytes that arrived before the connection took over the socket (the HTTP upgrade `head`). */
  feed(chunk: Buffer): void {
    if (chunk.length > 0) this.onSocketData(chunk);
  }

  /** Opens a stream (client side) and resolves once the peer's SYN_REPLY arrives. */
  openStream(headers: SpdyHeaders, opts: { fin?: boolean } = {}): Promise<SpdyStream> {
    if (this.closed || this.goingAway) return Promise.reject(new Error('SPDY connection is closed'));
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const stream = new SpdyStream(this, id, {}, false);
    this.streams.set(id, stream);
    const flags = opts.fin ? FLAG_FIN : 0;
    const p = new Promise<SpdyStream>((resolve, reject) => this.pendingReplies.set(id, { resolve, reject }));
    this.sendFrame(this.codec.compress(headers).then((block) => encodeSynStream(id, 0, 0, flags, block)));
    if (opts.fin) stream.end();
    return p;
  }

  /** Sends a PING and resolves with the round trip in milliseconds. */
  ping(): Promise<number> {
    const id = this.nextProbeId();
    const start = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
      if (this.closed) { reject(new Error('SPDY connection is closed')); return; }
      this.pendingPings.set(id, () => resolve(Number(process.hrtime.bigint() - start) / 1e6));
      this.sendFrame(encodePing(id));
    });
  }

  /** Sends GOAWAY and ends the socket once queued frames are written; input from then on is read and dropped. */
  close(): void {
    if (this.closed || this.goingAway) return;
    this.goingAway = true;
    this.droppingInput = true;
    this.releaseAllInput();
    this.sendFrame(encodeGoAway(this.lastRemoteStreamId, 0));
    this.afterFlush(() => this.socket.end());
  }

  /** Drops the connection at once; streams not yet finished are marked aborted. */
  destroy(): void {
    this.socket.destroy();
    this.terminate();
  }

  /** @internal Queues a frame; frames go out in the order queued even while a header block is being compressed. */
  sendFrame(frame: Buffer | Promise<Buffer>): void {
    if (this.closed) return;
    if (this.outQueue.length === 0 && Buffer.isBuffer(frame)) {
      this.socket.write(frame);
      return;
    }
    this.outQueue.push(frame);
    if (!this.pumpingOut) void this.pumpOut();
  }

  /** @internal */
  sendHeaders(type: number, streamId: number, headers: SpdyHeaders, flags: number): void {
    this.sendFrame(this.codec.compress(headers).then((block) => encodeStreamHeaders(type, streamId, flags, block)));
  }

  /** @internal */
  sendDataChunks(streamId: number, chunk: Buffer): void {
    // Header and payload are queued as separate buffers (joined by writev under cork) rather than
    // concatenated: output is the bulk of a session's bytes, and copying it costs more than the syscalls.
    const direct = this.outQueue.length === 0 && !this.closed;
    if (direct) this.socket.cork();
    for (let off = 0; off < chunk.length; off += DATA_CHUNK) {
      const payload = chunk.subarray(off, Math.min(chunk.length, off + DATA_CHUNK));
      this.sendFrame(encodeDataHeader(streamId, 0, payload.length));
      this.sendFrame(payload);
    }
    if (direct) this.socket.uncork();
  }

  /** @internal Calls cb once queued frames are handed to the socket and the socket is below its high-water mark. */
  whenWritable(cb: () => void): void {
    if (this.closed || this.isWritableNow()) { cb(); return; }
    this.writableWaiters.push(cb);
  }

  /** @internal */
  forget(id: number): void {
    this.streams.delete(id);
  }

  /** @internal Stops reading the socket until every holder released it. */
  holdInput(holder: object): void {
    if (this.closed || this.inputHolds.has(holder)) return;
    this.inputHolds.add(holder);
    if (this.inputHolds.size > 1) return;
    this.socket.pause();
    this.probeTimer = setInterval(() => this.sendFrame(encodePing(this.nextProbeId())), HELD_INPUT_PROBE_MS);
    this.probeTimer.unref();
  }

  /** @internal */
  releaseInput(holder: object): void {
    if (!this.inputHolds.delete(holder) || this.inputHolds.size > 0) return;
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    if (!this.closed) this.socket.resume();
  }

  /** True while the socket is not read (a stream's reader is behind or the peer does not read its output). */
  isInputHeld(): boolean {
    return this.inputHolds.size > 0;
  }

  /** The next id for a PING of ours (even on servers, odd on clients). */
  private nextProbeId(): number {
    const id = this.nextPingId;
    this.nextPingId = (this.nextPingId + 2) >>> 0;
    return id;
  }

  // Streams may keep writing while less than this is buffered in the socket; the socket's own high-water
  // mark (16 KiB) is below one DATA frame, so waiting for 'drain' after every frame would serialise the
  // output with the peer's reads.
  private isWritableNow(): boolean {
    return this.outQueue.length === 0 && this.socket.writableLength < SOCKET_BUFFER_LIMIT;
  }

  private notifyWritable(): void {
    if (!this.closed && !this.isWritableNow()) return;
    const waiters = this.writableWaiters.splice(0);
    for (const w of waiters) w();
  }

  private afterFlush(fn: () => void): void {
    if (this.outQueue.length === 0) { fn(); return; }
    this.once('flushed', fn);
  }

  private async pumpOut(): Promise<void> {
    this.pumpingOut = true;
    while (this.outQueue.length > 0 && !this.closed) {
      const head = this.outQueue[0]!;
      let frame: Buffer;
      try {
        frame = Buffer.isBuffer(head) ? head : await head;
      } catch (err) {
        this.terminate(err instanceof Error ? err : new Error(String(err)));
        break;
      }
      this.outQueue.shift();
      if (!this.closed) this.socket.write(frame);
    }
    this.pumpingOut = false;
    this.notifyWritable();
    this.emit('flushed');
  }

  private onSocketData(chunk: Buffer): void {
    if (this.closed || this.droppingInput) return; // after our GOAWAY nothing more is served: drain and drop
    if (this.socket.writableLength > OUTPUT_BACKLOG_LIMIT) this.holdInput(this.outputBacklog);
    // Reads and frames rarely line up. Frames are cut out of the reads as views; only a frame spanning
    // two reads is copied, so large outputs are not copied once per read.
    this.inChunks.push(chunk);
    this.inLen += chunk.length;
    const frames: RawFrame[] = [];
    try {
      while (this.inLen >= 8) {
        if (this.inChunks[0]!.length < 8) {
          // Join the first reads so the 8-byte header is contiguous (take() counts them out; count back in).
          const head = this.take(this.firstBytes(8));
          this.inChunks.unshift(head);
          this.inLen += head.length;
        }
        const length = this.inChunks[0]!.readUIntBE(5, 3);
        if (length > MAX_INBOUND_FRAME) throw new Error(`SPDY frame of ${length} bytes exceeds the limit of ${MAX_INBOUND_FRAME}`);
        const need = 8 + length;
        if (this.inLen < need) break;
        const { frames: one } = parseFrames(this.take(need));
        frames.push(...one);
      }
    } catch (err) {
      this.protocolError(err);
      return;
    }
    if (frames.length === 0) return;
    this.inQueue.push(...frames);
    if (!this.pumpingIn) void this.pumpIn();
  }

  /** How many leading bytes to merge so the first chunk holds at least n bytes. */
  private firstBytes(n: number): number {
    let have = 0;
    for (const c of this.inChunks) {
      have += c.length;
      if (have >= n) return have;
    }
    return have;
  }

  /** Removes the first n buffered bytes: a view when they sit in one read, else a copy. */
  private take(n: number): Buffer {
    const first = this.inChunks[0]!;
    this.inLen -= n;
    if (first.length >= n) {
      if (first.length === n) this.inChunks.shift();
      else this.inChunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.inChunks[0]!;
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.inChunks.shift();
      else this.inChunks[0] = c.subarray(k);
    }
    return out;
  }

  // Frames are handled strictly in order; only header blocks make this wait (for the inflater), so DATA
  // for a new stream never overtakes its SYN_STREAM.
  private async pumpIn(): Promise<void> {
    this.pumpingIn = true;
    try {
      while (this.inQueue.length > 0 && !this.closed) {
        const f = this.inQueue.shift()!;
        if (f.kind === 'data') {
          const s = this.streams.get(f.streamId);
          if (s) s.onData(f.payload, (f.flags & FLAG_FIN) !== 0);
          continue;
        }
        await this.onControl(decodeControl(f));
      }
    } catch (err) {
      this.protocolError(err);
    } finally {
      this.pumpingIn = false;
      if (this.terminateWhenDrained) this.terminate();
    }
  }

  private terminateAfterInput(): void {
    if (this.pumpingIn || this.inQueue.length > 0) this.terminateWhenDrained = true;
    else this.terminate();
  }

  private async onControl(c: ControlFrame): Promise<void> {
    switch (c.type) {
      case 'SYN_STREAM': {
        const headers = await this.codec.decompress(c.block);
        if (this.goingAway || this.streams.has(c.streamId)) {
          this.sendFrame(encodeRstStream(c.streamId, this.goingAway ? RstStatus.REFUSED_STREAM : RstStatus.STREAM_IN_USE));
          return;
        }
        this.lastRemoteStreamId = Math.max(this.lastRemoteStreamId, c.streamId);
        const s = new SpdyStream(this, c.streamId, headers, false);
        this.streams.set(c.streamId, s);
        if (c.fin) s.onRemoteFin();
        if (this.listenerCount('stream') === 0) s.reset(RstStatus.REFUSED_STREAM);
        else this.emit('stream', s);
        return;
      }
      case 'SYN_REPLY': {
        const headers = await this.codec.decompress(c.block);
        const s = this.streams.get(c.streamId);
        const pending = this.pendingReplies.get(c.streamId);
        this.pendingReplies.delete(c.streamId);
        if (s) {
          s.onReplied(headers);
          if (c.fin) s.onRemoteFin();
          pending?.resolve(s);
        }
        return;
      }
      case 'HEADERS': {
        // Decompress even when unused: skipping the block would desynchronise the inflater.
        await this.codec.decompress(c.block);
        if (c.fin) this.streams.get(c.streamId)?.onRemoteFin();
        return;
      }
      case 'RST_STREAM': {
        const pending = this.pendingReplies.get(c.streamId);
        this.pendingReplies.delete(c.streamId);
        pending?.reject(new Error(`SPDY stream ${c.streamId} refused by the peer (status ${c.status})`));
        this.streams.get(c.streamId)?.onReset();
        return;
      }
      case 'PING': {
        const mine = (c.id % 2 === 0) === this.isServer;
        if (mine) {
          const done = this.pendingPings.get(c.id);
          this.pendingPings.delete(c.id);
          done?.();
        } else {
          this.sendFrame(encodePing(c.id));
        }
        return;
      }
      case 'GOAWAY':
        this.goingAway = true;
        this.emit('goaway', c.lastGoodStreamId, c.status);
        return;
      case 'SETTINGS':
      case 'WINDOW_UPDATE':
      case 'UNKNOWN':
        return; // no flow control (see the header comment); unknown control frames are ignored per the draft
    }
  }

  private releaseAllInput(): void {
    for (const h of [...this.inputHolds]) this.releaseInput(h);
  }

  private protocolError(err: unknown): void {
    if (this.closed) return;
    this.socket.write(encodeGoAway(this.lastRemoteStreamId, 1));
    this.terminate(err instanceof Error ? err : new Error(String(err)));
    this.socket.destroy();
  }

  private terminate(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pendingReplies.values()) p.reject(new Error('SPDY connection closed before the stream was accepted'));
    this.pendingReplies.clear();
    this.pendingPings.clear();
    for (const s of [...this.streams.values()]) s.onConnectionGone();
    this.streams.clear();
    this.outQueue.length = 0;
    this.inQueue.length = 0;
    this.inChunks = [];
    this.inLen = 0;
    this.releaseAllInput();
    this.notifyWritable();
    this.codec.close();
    if (err && this.listenerCount('error') > 0) this.emit('error', err);
    this.emit('close');
  }
}
