// A gRPC server (unary and server-streaming methods) over HTTP/2 cleartext on a unix socket, on Node's
// own http2 module: what the daemon needs of gRPC and no more. It replaces @grpc/grpc-js on the server
// side (issue 14, idle memory): a bare grpc-js server idles at 53 MB here against 45.7 MB for a bare
// node:http2 one, and the idle daemon went from 60.4 to 58.5 MiB and answers Version ~18 ms sooner. Clients (the kubelet's and crictl's grpc-go, the CLI's grpc-js) see the same protocol:
// https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md. It knows nothing of CRI: methods come
// as a table of paths to codecs and handlers (cri/server.ts builds it).
import http2 from 'node:http2';
import { EventEmitter } from 'node:events';
import { Status, GrpcStatusError, type CallStatus } from './status.js';
import { encodeGrpcMessage, frameMessage, MessageReader, parseGrpcTimeout, type WireMessage } from './wire.js';

/** How one method's messages are read and written (protobuf, for CRI). */
interface MethodCodec {
  /** Throws on bytes that are not a valid request. */
  decodeRequest(payload: Buffer): object;
  encodeResponse(message: object): Uint8Array;
}

/** What a handler learns of its call besides the request. */
interface CallInfo {
  /** Aborted, with a GrpcStatusError (CANCELLED or DEADLINE_EXCEEDED) as reason, when the client is gone. */
  signal: AbortSignal;
}

interface UnaryMethod extends MethodCodec {
  kind: 'unary';
  /** The response, or a rejection that the server's statusOf turns into the call's status. */
  handle(request: object, info: CallInfo): Promise<object>;
}

interface ServerStreamMethod extends MethodCodec {
  kind: 'server-stream';
  /** Writes to the call; resolving ends the stream with OK, rejecting with statusOf(error). */
  handle(request: object, call: ServerStreamCall<object>, info: CallInfo): Promise<void>;
}

export type GrpcMethod = UnaryMethod | ServerStreamMethod;

/** The writing end of a server-streaming call, as its handler sees it (Res: the response message). */
export interface ServerStreamCall<Res> {
  /** True once the client has gone (cancelled, deadline passed, connection lost): stop writing. */
  readonly cancelled: boolean;
  /** Sends the response headers now rather than with the first message (tells the client the call is live). */
  sendHeaders(): void;
  /** Queues a message; false means the client is not reading: wait for 'drain' (or 'cancelled'). */
  write(message: Res): boolean;
  on(event: 'drain' | 'cancelled', listener: () => void): this;
  off(event: 'drain' | 'cancelled', listener: () => void): this;
}

interface GrpcServerOptions {
  /** Methods by path ("/runtime.v1.RuntimeService/Version"). */
  methods: ReadonlyMap<string, GrpcMethod>;
  /** Largest request message accepted and response message sent, in bytes. */
  maxReceiveBytes: number;
  maxSendBytes: number;
  /** The status a handler's rejection becomes. */
  statusOf(err: unknown): CallStatus;
  /** The status for a path no method serves (UNIMPLEMENTED, as the spec asks). */
  unknownMethod(path: string): CallStatus;
  /** Told of a call the transport itself refused or ended (bad framing, unknown method, deadline): for logs. */
  onTransportStatus?(path: string, status: CallStatus): void;
}

export interface GrpcServer {
  /** Stops accepting, lets open calls finish for up to graceMs, then closes every connection. */
  close(graceMs: number): Promise<void>;
}

const CONTENT_TYPE = 'application/grpc+proto';
const ACCEPT_ENCODING = 'identity,deflate,gzip';
const noop = (): void => undefined;

/** Serves the methods on a unix socket path (which must not exist: the caller claims it). */
export function listenGrpc(socket: string, options: GrpcServerOptions): Promise<GrpcServer> {
  const server = http2.createServer({
    // As grpc-js: the session's memory is bounded by the message size limits and flow control, not by
    // node's 10 MB default, which would refuse new calls while a few large List answers are in flight.
    maxSessionMemory: Number.MAX_SAFE_INTEGER,
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', noop); // a broken connection ends its calls ('close' on each stream), nothing more
  });
  server.on('sessionError', noop);
  server.on('stream', (stream, headers) => onStream(stream, headers, options));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => {
      server.off('error', reject);
      resolve({ close: (graceMs) => closeServer(server, sessions, graceMs) });
    });
  });
}

function closeServer(server: http2.Http2Server, sessions: Set<http2.ServerHttp2Session>, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { for (const s of sessions) s.destroy(); }, graceMs);
    server.close(() => { clearTimeout(timer); resolve(); });
    // GOAWAY: no new calls on open connections; each closes once its calls are done.
    for (const s of sessions) s.close();
  });
}

/** Answers a request that is not gRPC at all with a plain HTTP status. */
function refuseHttp(stream: http2.ServerHttp2Stream, status: number): void {
  try {
    stream.respond({ ':status': status }, { endStream: true });
  } catch { /* the stream is already gone */ }
  stream.resume();
}

function header(headers: http2.IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, options: GrpcServerOptions): void {
  stream.on('error', noop); // e.g. a write after the client reset the stream: the call's 'close' handles it
  const path = header(headers, ':path') ?? '';
  if (header(headers, ':method') !== 'POST') return refuseHttp(stream, 405);
  if (!/^application\/grpc(\+|;|$)/.test(header(headers, 'content-type') ?? '')) return refuseHttp(stream, 415);
  const call = new Call(stream, options.maxSendBytes);
  const refuse = (status: CallStatus): void => {
    options.onTransportStatus?.(path, status);
    call.finish(status);
  };
  const method = options.methods.get(path);
  if (!method) {
    refuse(options.unknownMethod(path));
    stream.resume();
    return;
  }
  try {
    const timeoutMs = parseGrpcTimeout(header(headers, 'grpc-timeout'));
    if (timeoutMs !== undefined) call.expireAfter(timeoutMs, () => options.onTransportStatus?.(path, { code: Status.DEADLINE_EXCEEDED, message: 'deadline exceeded' }));
  } catch (err) {
    refuse(transportStatus(err));
    stream.resume();
    return;
  }
  const encoding = header(headers, 'grpc-encoding') ?? 'identity';
  const reader = new MessageReader(options.maxReceiveBytes);
  const messages: WireMessage[] = [];
  stream.on('data', (chunk: Buffer) => {
    if (call.done) return;
    try {
      for (const m of reader.push(chunk)) messages.push(m);
    } catch (err) {
      refuse(transportStatus(err));
      // Stop the client sending the rest of what was refused (RST_STREAM NO_ERROR after the status).
      stream.close(http2.constants.NGHTTP2_NO_ERROR);
    }
  });
  stream.on('end', () => {
    if (call.done) return;
    if (messages.length !== 1 || reader.pending() !== 0) {
      refuse({ code: Status.INTERNAL, message: `${path} takes exactly one request message; received ${messages.length}${reader.pending() ? ' and a partial one' : ''}` });
      return;
    }
    readRequest(messages[0]!, encoding, method, path, options.maxReceiveBytes).then(
      (request) => dispatch(call, method, request, options),
      (err: unknown) => refuse(transportStatus(err)),
    );
  });
  stream.on('close', () => call.clientGone());
}

/** The request object, decompressed if the client compressed it, then decoded. */
async function readRequest(m: WireMessage, encoding: string, method: GrpcMethod, path: string, maxBytes: number): Promise<object> {
  let payload = m.payload;
  if (m.compressed) {
    if (encoding !== 'gzip' && encoding !== 'deflate') {
      throw new GrpcStatusError(Status.UNIMPLEMENTED, `grpc-encoding ${JSON.stringify(encoding)} is not supported (supported: ${ACCEPT_ENCODING})`);
    }
    // Loaded on first use: gRPC clients of a CRI runtime do not compress.
    const zlib = await import('node:zlib');
    try {
      payload = encoding === 'gzip' ? zlib.gunzipSync(payload, { maxOutputLength: maxBytes }) : zlib.inflateSync(payload, { maxOutputLength: maxBytes });
    } catch (err) {
      const tooBig = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      throw new GrpcStatusError(tooBig ? Status.RESOURCE_EXHAUSTED : Status.INTERNAL,
        tooBig ? `decompressed message larger than max (${maxBytes})` : `cannot decompress the ${encoding} request: ${(err as Error).message}`);
    }
  }
  try {
    return method.decodeRequest(payload);
  } catch (err) {
    throw new GrpcStatusError(Status.INVALID_ARGUMENT, `the request is not a valid ${path} request message: ${(err as Error).message}`);
  }
}

function dispatch(call: Call, method: GrpcMethod, request: object, options: GrpcServerOptions): void {
  const info: CallInfo = { signal: call.signal };
  if (method.kind === 'unary') {
    let answer: Promise<object>;
    try {
      answer = method.handle(request, info);
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (response) => call.reply(() => method.encodeResponse(response)),
      (err: unknown) => call.finish(options.statusOf(err)),
    );
    return;
  }
  const out = new StreamWriter(call, method);
  let ended: Promise<void>;
  try {
    ended = method.handle(request, out, info);
  } catch (err) {
    ended = Promise.reject(err);
  }
  ended.then(
    () => call.finish({ code: Status.OK, message: '' }),
    (err: unknown) => call.finish(options.statusOf(err)),
  );
}

function transportStatus(err: unknown): CallStatus {
  if (err instanceof GrpcStatusError) return { code: err.code, message: err.message };
  return { code: Status.INTERNAL, message: err instanceof Error ? err.message : String(err) };
}

/** One call's HTTP/2 stream: response headers, messages and the status trailer, each sent once. */
class Call extends EventEmitter {
  /** The status went out, or the client went away: nothing more is sent. */
  done = false;
  private headersSent = false;
  private trailer: CallStatus = { code: Status.OK, message: '' };
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  readonly signal = this.controller.signal;

  constructor(private readonly stream: http2.ServerHttp2Stream, readonly maxSendBytes: number) {
    super();
  }

  /** The client's deadline: past it the call ends DEADLINE_EXCEEDED and its handler's signal aborts. */
  expireAfter(ms: number, onExpire: () => void): void {
    this.timer = setTimeout(() => {
      if (this.done) return;
      onExpire();
      this.finish({ code: Status.DEADLINE_EXCEEDED, message: 'deadline exceeded' });
      this.abort(new GrpcStatusError(Status.DEADLINE_EXCEEDED, 'the client\'s deadline passed'));
    }, Math.max(0, ms));
    this.timer.unref();
  }

  /** The stream closed: if no status went out, the client cancelled or its connection broke. */
  clientGone(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.done) return;
    this.done = true;
    this.abort(new GrpcStatusError(Status.CANCELLED, 'the client cancelled the call'));
  }

  private abort(reason: GrpcStatusError): void {
    if (this.signal.aborted) return;
    this.controller.abort(reason);
    this.emit('cancelled');
  }

  sendHeaders(): void {
    if (this.headersSent || this.done || this.stream.destroyed || this.stream.closed) return;
    this.headersSent = true;
    this.stream.respond({ ':status': 200, 'content-type': CONTENT_TYPE, 'grpc-encoding': 'identity', 'grpc-accept-encoding': ACCEPT_ENCODING }, { waitForTrailers: true });
    this.stream.once('wantTrailers', () => {
      try {
        this.stream.sendTrailers(statusHeaders(this.trailer));
      } catch { /* the client reset the stream meanwhile */ }
    });
  }

  /** Encodes and frames a message; undefined (and the call ended RESOURCE_EXHAUSTED or INTERNAL) if it cannot go. */
  frame(encode: () => Uint8Array): Buffer | undefined {
    let payload: Uint8Array;
    try {
      payload = encode();
    } catch (err) {
      this.fail(new GrpcStatusError(Status.INTERNAL, `cannot encode the response: ${(err as Error).message}`));
      return undefined;
    }
    if (payload.length > this.maxSendBytes) {
      this.fail(new GrpcStatusError(Status.RESOURCE_EXHAUSTED, `response message larger than max (${payload.length} vs. ${this.maxSendBytes})`));
      return undefined;
    }
    return frameMessage(payload);
  }

  /** Ends the call on the server's side with an error and tells a still-running handler (a stream's) to stop. */
  private fail(err: GrpcStatusError): void {
    this.finish({ code: err.code, message: err.message });
    this.abort(err);
  }

  /** A unary call's answer: headers, the one message, OK. */
  reply(encode: () => Uint8Array): void {
    if (this.done) return;
    const framed = this.frame(encode);
    if (!framed) return;
    this.sendHeaders();
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.stream.end(framed);
  }

  /** One message of a stream; the boolean is the stream's back-pressure (true once the call is over: drop). */
  write(framed: Buffer): boolean {
    if (this.done || this.stream.destroyed) return true;
    this.sendHeaders();
    return this.stream.write(framed);
  }

  /** Ends the call with a status: in the trailer after what was sent, or alone (trailers-only). */
  finish(status: CallStatus): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.stream.destroyed || this.stream.closed) return;
    try {
      if (this.headersSent) {
        this.trailer = status;
        this.stream.end();
      } else {
        this.stream.respond({ ':status': 200, 'content-type': CONTENT_TYPE, ...statusHeaders(status) }, { endStream: true });
      }
    } catch { /* the client reset the stream meanwhile */ }
  }

  /** The HTTP/2 stream's own drain, for a writer that waits on back-pressure. */
  onDrain(listener: () => void): void {
    this.stream.on('drain', listener);
  }

  offDrain(listener: () => void): void {
    this.stream.off('drain', listener);
  }
}

function statusHeaders(status: CallStatus): http2.OutgoingHttpHeaders {
  return status.message ? { 'grpc-status': String(status.code), 'grpc-message': encodeGrpcMessage(status.message) } : { 'grpc-status': String(status.code) };
}

/** The handler's view of a server-streaming call (ServerStreamCall) over a Call. */
class StreamWriter implements ServerStreamCall<object> {
  constructor(private readonly call: Call, private readonly codec: MethodCodec) {}

  get cancelled(): boolean {
    return this.call.signal.aborted;
  }

  sendHeaders(): void {
    this.call.sendHeaders();
  }

  write(message: object): boolean {
    const framed = this.call.frame(() => this.codec.encodeResponse(message));
    return framed ? this.call.write(framed) : true;
  }

  on(event: 'drain' | 'cancelled', listener: () => void): this {
    if (event === 'drain') this.call.onDrain(listener);
    else this.call.on('cancelled', listener);
    return this;
  }

  off(event: 'drain' | 'cancelled', listener: () => void): this {
    if (event === 'drain') this.call.offDrain(listener);
    else this.call.off('cancelled', listener);
    return this;
  }
}
