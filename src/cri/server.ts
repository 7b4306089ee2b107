// The CRI gRPC server on a unix socket: registers every RuntimeService and ImageService RPC, answers
// UNIMPLEMENTED (naming the RPC) for those not built yet, logs one line per RPC and maps errors to codes.
import * as grpc from '@grpc/grpc-js';
import { chmodSync, existsSync, mkdirSync, unlinkSync, lstatSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect } from 'node:net';
import { CriusError, errorCode, errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { grpcCode, grpcCodeName } from './grpc-status.js';
import { loadCriProto } from './proto.js';

/** A unary RPC implementation: takes the decoded request, returns the response object. */
// `never` makes any concretely typed handler assignable; each handler module types its own request.
export type UnaryHandler = (request: never, ctx: CallContext) => Promise<object>;
/** A server-streaming RPC implementation (GetContainerEvents). */
export type StreamHandler = (request: never, call: grpc.ServerWritableStream<object, object>) => Promise<void>;

interface CallContext {
  method: string;
  /** Aborted when the client cancels or its deadline passes. */
  signal: AbortSignal;
}

export interface CriHandlers {
  unary: Record<string, UnaryHandler>;
  stream?: Record<string, StreamHandler>;
  /** Told of every finished RPC (metrics); must not throw or block. */
  observer?: RpcObserver;
}

type RpcObserver = (o: { method: string; code: string; durationMs: number }) => void;

export interface CriServer {
  server: grpc.Server;
  socket: string;
  /** Stops accepting, lets in-flight calls finish for up to graceMs, then forces the rest closed. */
  shutdown(graceMs: number): Promise<void>;
  inFlight(): number;
}

/**
 * The handlers as the server sees them while the daemon starts: `early` ones (Version) answer at once;
 * every other RPC waits until `ready` gives the full set (the daemon has recovered its pods and
 * containers), or fails UNAVAILABLE if start-up failed.
 */
class HandlerGate {
  current: CriHandlers | undefined;
  private readonly ready: Promise<CriHandlers>;

  constructor(handlers: CriHandlers | Promise<CriHandlers>, readonly early: Record<string, UnaryHandler>) {
    this.ready = Promise.resolve(handlers).then((h) => { this.current = h; return h; });
    // A failed start-up is reported by whoever awaits it (startDaemon); waiting RPCs get UNAVAILABLE.
    this.ready.catch(() => undefined);
  }

  /** Calls fn with the full handlers once they exist (at once if they do). */
  when(fn: (h: CriHandlers) => void, failed: (err: unknown) => void): void {
    if (this.current) fn(this.current);
    else this.ready.then(fn, (err: unknown) => failed(new CriusError('UNAVAILABLE', `crius did not finish starting: ${errorMessage(err)}`)));
  }
}

function serviceImplementation(
  service: grpc.ServiceDefinition,
  serviceName: string,
  gate: HandlerGate,
  logger: Logger,
  track: { n: number },
): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [method, def] of Object.entries(service)) {
    const full = `${serviceName}/${method}`;
    if (def.responseStream) {
      impl[method] = (call: grpc.ServerWritableStream<object, object>) => {
        const started = performance.now();
        track.n++;
        const done = (code: grpc.status, message?: string): void => {
          track.n--;
          const ms = performance.now() - started;
          gate.current?.observer?.({ method: full, code: grpcCodeName(code), durationMs: ms });
          logger.info('rpc', { method: full, code: grpcCodeName(code), duration_ms: round(ms), ...(message ? { error: message } : {}) });
        };
        gate.when((handlers) => serveStream(handlers.stream?.[method]), (err) => {
          const code = grpcCode(errorCode(err));
          done(code, errorMessage(err));
          failStream(call, code, errorMessage(err));
        });
        function serveStream(h: StreamHandler | undefined): void {
          if (!h) {
            done(grpc.status.UNIMPLEMENTED);
            failStream(call, grpc.status.UNIMPLEMENTED, `${method} is not implemented by crius yet`);
            return;
          }
          h(call.request as never, call).then(
            () => { done(grpc.status.OK); call.end(); },
            (err: unknown) => {
              const code = grpcCode(errorCode(err));
              done(code, errorMessage(err));
              failStream(call, code, errorMessage(err));
            },
          );
        }
      };
      continue;
    }
    impl[method] = (call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
      const started = performance.now();
      track.n++;
      const controller = new AbortController();
      call.on('cancelled', () => controller.abort(new CriusError('CANCELLED', `${method} cancelled by the client`)));
      // grpc-js answers DEADLINE_EXCEEDED itself when the client's deadline passes, without a 'cancelled'
      // event: abort the signal then too, so a create knows its caller is gone (common/create-handoff.ts).
      const deadline = call.getDeadline();
      const leftMs = (deadline instanceof Date ? deadline.getTime() : Number(deadline)) - Date.now();
      const deadlineTimer = Number.isFinite(leftMs)
        ? setTimeout(() => controller.abort(new CriusError('DEADLINE_EXCEEDED', `${method}: the client's deadline passed`)), Math.max(0, leftMs))
        : undefined;
      deadlineTimer?.unref();
      const finish = (err: unknown, response?: object): void => {
        if (deadlineTimer) clearTimeout(deadlineTimer);
        track.n--;
        const ms = round(performance.now() - started);
        gate.current?.observer?.({ method: full, code: err === undefined ? 'OK' : grpcCodeName(grpcCode(errorCode(err))), durationMs: performance.now() - started });
        if (err === undefined) {
          logger.info('rpc', { method: full, code: 'OK', duration_ms: ms });
          callback(null, response);
          return;
        }
        const code = grpcCode(errorCode(err));
        const message = errorMessage(err);
        // A non-crius error is a bug: log its stack so it can be fixed; the client gets INTERNAL.
        const fields = err instanceof CriusError ? {} : { stack: err instanceof Error ? err.stack : undefined };
        logger[code === grpc.status.INTERNAL ? 'error' : 'info']('rpc', { method: full, code: grpcCodeName(code), duration_ms: ms, error: message, ...fields });
        callback({ code, details: message, name: 'Error', message });
      };
      const serve = (h: UnaryHandler | undefined): void => {
        if (!h) {
          finish(new CriusError('UNIMPLEMENTED', `${method} is not implemented by crius yet`));
          return;
        }
        let promise: Promise<object>;
        try {
          promise = h(call.request as never, { method, signal: controller.signal });
        } catch (err) {
          finish(err);
          return;
        }
        promise.then((res) => finish(undefined, res), (err: unknown) => finish(err));
      };
      const early = gate.early[method];
      if (early && !gate.current) serve(early);
      else gate.when((handlers) => serve(handlers.unary[method]), finish);
    };
  }
  return impl;
}

/**
 * Ends a server stream with a status. grpc-js sends the status from the stream's own 'error' handler
 * (after the messages already written); destroy() would drop it and leave the client waiting forever.
 */
function failStream(call: grpc.ServerWritableStream<object, object>, code: grpc.status, message: string): void {
  call.emit('error', Object.assign(new Error(message), { code, details: message }));
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** True when something accepts connections on the unix socket at path. */
function socketIsLive(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const t = setTimeout(() => { s.destroy(); resolve(false); }, timeoutMs);
    s.once('connect', () => { clearTimeout(t); s.destroy(); resolve(true); });
    s.once('error', () => { clearTimeout(t); resolve(false); });
  });
}

/**
 * Prepares the socket path: a stale socket (nobody listening) left by a crashed daemon is removed;
 * a live one means another daemon serves it, and that is refused.
 */
async function claimSocket(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
  if (!existsSync(path)) return;
  const st = lstatSync(path);
  if (!st.isSocket()) {
    throw new CriusError('FAILED_PRECONDITION', `${path} exists and is not a socket; move it away or choose another --socket`);
  }
  if (await socketIsLive(path)) {
    throw new CriusError('FAILED_PRECONDITION', `another daemon is already serving ${path}; stop it first or choose another --socket`);
  }
  unlinkSync(path);
}

/**
 * Serves CRI on the unix socket. `handlers` may still be in the making (a promise): RPCs then wait for
 * it, except those in `early`, answered at once (the daemon serves Version while it recovers pods).
 */
export async function startCriServer(socket: string, handlers: CriHandlers | Promise<CriHandlers>, logger: Logger, early: Record<string, UnaryHandler> = {}): Promise<CriServer> {
  await claimSocket(socket);
  const gate = new HandlerGate(handlers, early);
  const proto = loadCriProto();
  const server = new grpc.Server({
    // The kubelet sends large ListContainers/stats responses; match its 16 MiB limit.
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    'grpc.max_send_message_length': 16 * 1024 * 1024,
  });
  const track = { n: 0 };
  server.addService(proto.runtime.v1.RuntimeService.service, serviceImplementation(proto.runtime.v1.RuntimeService.service, 'runtime.v1.RuntimeService', gate, logger, track));
  server.addService(proto.runtime.v1.ImageService.service, serviceImplementation(proto.runtime.v1.ImageService.service, 'runtime.v1.ImageService', gate, logger, track));
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  });
  // Owner root (the daemon runs as root), group may connect, nobody else: the socket grants root.
  chmodSync(socket, 0o660);
  return {
    server,
    socket,
    inFlight: () => track.n,
    shutdown: (graceMs) => new Promise<void>((resolve) => {
      const timer = setTimeout(() => { server.forceShutdown(); resolve(); }, graceMs);
      server.tryShutdown(() => { clearTimeout(timer); resolve(); });
    }),
  };
}
