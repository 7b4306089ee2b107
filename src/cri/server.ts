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
import { NOT_IMPLEMENTED, type AnyEntry, type AnyServerStream, type AnyUnary, type ImageRpcs, type RuntimeRpcs } from './rpc-table.js';

/**
 * The full handler set: one table per service, typed from the generated service types (cri/rpc-table.ts),
 * so every RPC is either served or explicitly NOT_IMPLEMENTED.
 */
export interface CriHandlers {
  runtime: RuntimeRpcs;
  image: ImageRpcs;
  /** Told of every finished RPC (metrics); must not throw or block. */
  observer?: RpcObserver;
}

/** RPCs answered while the daemon still starts (Version): RuntimeService entries only. */
export type EarlyRpcs = Partial<RuntimeRpcs>;

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

  constructor(handlers: CriHandlers | Promise<CriHandlers>, readonly early: EarlyRpcs) {
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

/** Which of the two tables a service's RPCs come from. */
type ServiceName = 'runtime' | 'image';

/**
 * A table's entry for a method named by the loaded proto. The tables are typed per RPC; here the method
 * is only a string, so the entry is seen through AnyEntry (request `never`: the server passes what grpc-js
 * decoded for exactly that method). A method the table lacks (a proto newer than the generated types)
 * answers UNIMPLEMENTED like a NOT_IMPLEMENTED entry.
 */
function entryOf(table: Readonly<Record<string, AnyEntry>> | undefined, method: string): AnyEntry | undefined {
  return table && Object.hasOwn(table, method) ? table[method] : undefined;
}

function tableOf(handlers: CriHandlers, which: ServiceName): Readonly<Record<string, AnyEntry>> {
  return which === 'runtime' ? handlers.runtime : handlers.image;
}

function notImplemented(method: string): CriusError {
  return new CriusError('UNIMPLEMENTED', `${method} is not implemented by crius yet`);
}

function serviceImplementation(
  service: grpc.ServiceDefinition,
  which: ServiceName,
  gate: HandlerGate,
  logger: Logger,
  track: { n: number },
): grpc.UntypedServiceImplementation {
  const serviceName = which === 'runtime' ? 'runtime.v1.RuntimeService' : 'runtime.v1.ImageService';
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
        gate.when((handlers) => serveStream(entryOf(tableOf(handlers, which), method)), (err) => {
          const code = grpcCode(errorCode(err));
          done(code, errorMessage(err));
          failStream(call, code, errorMessage(err));
        });
        function serveStream(h: AnyEntry | undefined): void {
          if (h === undefined || h === NOT_IMPLEMENTED) {
            const err = notImplemented(method);
            done(grpc.status.UNIMPLEMENTED, err.message);
            failStream(call, grpc.status.UNIMPLEMENTED, err.message);
            return;
          }
          // The proto says this method streams, so its table entry is a ServerStream.
          (h as AnyServerStream)(call.request as never, call as never).then(
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
      const serve = (h: AnyEntry | undefined): void => {
        if (h === undefined || h === NOT_IMPLEMENTED) {
          finish(notImplemented(method));
          return;
        }
        let promise: Promise<object>;
        try {
          // The proto says this method is unary, so its table entry is a Unary.
          promise = (h as AnyUnary)(call.request as never, { method, signal: controller.signal });
        } catch (err) {
          finish(err);
          return;
        }
        promise.then((res) => finish(undefined, res), (err: unknown) => finish(err));
      };
      const early = which === 'runtime' ? entryOf(gate.early, method) : undefined;
      if (early && !gate.current) serve(early);
      else gate.when((handlers) => serve(entryOf(tableOf(handlers, which), method)), finish);
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
export async function startCriServer(socket: string, handlers: CriHandlers | Promise<CriHandlers>, logger: Logger, early: EarlyRpcs = {}): Promise<CriServer> {
  await claimSocket(socket);
  const gate = new HandlerGate(handlers, early);
  const proto = loadCriProto();
  const server = new grpc.Server({
    // The kubelet sends large ListContainers/stats responses; match its 16 MiB limit.
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    'grpc.max_send_message_length': 16 * 1024 * 1024,
  });
  const track = { n: 0 };
  server.addService(proto.runtime.v1.RuntimeService.service, serviceImplementation(proto.runtime.v1.RuntimeService.service, 'runtime', gate, logger, track));
  server.addService(proto.runtime.v1.ImageService.service, serviceImplementation(proto.runtime.v1.ImageService.service, 'image', gate, logger, track));
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
