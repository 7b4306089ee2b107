// The CRI gRPC server on a unix socket: registers every RuntimeService and ImageService RPC with the
// daemon's gRPC transport (grpc/server.ts), answers UNIMPLEMENTED (naming the RPC) for those not built
// yet, logs one line per RPC and maps errors to codes.
import { chmodSync, existsSync, mkdirSync, unlinkSync, lstatSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect } from 'node:net';
import { CriusError, errorCode, errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { listenGrpc, type GrpcMethod } from '../grpc/server.js';
import { GrpcStatusError, Status, type CallStatus } from '../grpc/status.js';
import { grpcCode, grpcCodeName } from './grpc-status.js';
import { criMethods, SERVICES, type ServiceName } from './codec.js';
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

/** The largest request and response message (the kubelet's own limit). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface CriServer {
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
type TableName = 'runtime' | 'image';

const TABLE_OF: Record<ServiceName, TableName> = { 'runtime.v1.RuntimeService': 'runtime', 'runtime.v1.ImageService': 'image' };

/**
 * A table's entry for a method named by the loaded proto. The tables are typed per RPC; here the method
 * is only a string, so the entry is seen through AnyEntry (request `never`: the server passes what the
 * codec decoded for exactly that method). A method the table lacks (a proto newer than the generated
 * types) answers UNIMPLEMENTED like a NOT_IMPLEMENTED entry.
 */
function entryOf(table: Readonly<Record<string, AnyEntry>> | undefined, method: string): AnyEntry | undefined {
  return table && Object.hasOwn(table, method) ? table[method] : undefined;
}

function tableOf(handlers: CriHandlers, which: TableName): Readonly<Record<string, AnyEntry>> {
  return which === 'runtime' ? handlers.runtime : handlers.image;
}

function notImplemented(method: string): CriusError {
  return new CriusError('UNIMPLEMENTED', `${method} is not implemented by crius yet`);
}

/** The transport's abort reason (client cancelled, deadline passed) as the CriusError the domain code expects. */
function abortReason(method: string, reason: unknown): CriusError {
  return reason instanceof GrpcStatusError && reason.code === Status.DEADLINE_EXCEEDED
    ? new CriusError('DEADLINE_EXCEEDED', `${method}: the client's deadline passed`)
    : new CriusError('CANCELLED', `${method} cancelled by the client`);
}

/** What the CRI layer adds to every call: the start-up gate, one log line, the observer, the in-flight count. */
interface CallContextDeps {
  gate: HandlerGate;
  logger: Logger;
  track: { n: number };
}

/**
 * Every method of one service as the gRPC server's table entries (path -> codec + handler), dispatching
 * to the handler table through the gate.
 */
function serviceMethods(service: ServiceName, deps: CallContextDeps): [string, GrpcMethod][] {
  const { gate, logger, track } = deps;
  const which = TABLE_OF[service];
  const out: [string, GrpcMethod][] = [];
  for (const [method, def] of Object.entries(criMethods()[service])) {
    const full = `${service}/${method}`;
    const codec = { decodeRequest: def.requestDeserialize, encodeResponse: def.responseSerialize };
    /** Logs and reports one finished call (err undefined: OK). */
    const done = (started: number, err: unknown): void => {
      track.n--;
      const ms = performance.now() - started;
      const code = err === undefined ? Status.OK : grpcCode(errorCode(err));
      gate.current?.observer?.({ method: full, code: grpcCodeName(code), durationMs: ms });
      if (err === undefined) {
        logger.info('rpc', { method: full, code: 'OK', duration_ms: round(ms) });
        return;
      }
      // A non-crius error is a bug: log its stack so it can be fixed; the client gets INTERNAL.
      const fields = err instanceof CriusError ? {} : { stack: err instanceof Error ? err.stack : undefined };
      logger[code === Status.INTERNAL ? 'error' : 'info']('rpc', { method: full, code: grpcCodeName(code), duration_ms: round(ms), error: errorMessage(err), ...fields });
    };
    /** The handler table entry once the daemon is ready (Version earlier, from `early`). */
    const entry = (): Promise<AnyEntry | undefined> => {
      const early = which === 'runtime' ? entryOf(gate.early, method) : undefined;
      if (early && !gate.current) return Promise.resolve(early);
      return new Promise((resolve, reject) => gate.when((handlers) => resolve(entryOf(tableOf(handlers, which), method)), reject));
    };
    /** The signal the domain code gets: aborted with a CriusError when the transport's call is over. */
    const callSignal = (transport: AbortSignal): AbortSignal => {
      const controller = new AbortController();
      if (transport.aborted) controller.abort(abortReason(method, transport.reason));
      else transport.addEventListener('abort', () => controller.abort(abortReason(method, transport.reason)), { once: true });
      return controller.signal;
    };
    /** Runs one call against its table entry, counted in flight and logged once when it ends. */
    const tracked = async <T>(serve: (h: AnyUnary | AnyServerStream) => Promise<T>): Promise<T> => {
      const started = performance.now();
      track.n++;
      try {
        const h = await entry();
        if (h === undefined || h === NOT_IMPLEMENTED) throw notImplemented(method);
        const result = await serve(h);
        done(started, undefined);
        return result;
      } catch (err) {
        done(started, err);
        throw err;
      }
    };
    out.push([def.path, def.responseStream
      // The proto says this method streams, so its table entry is a ServerStream.
      ? { kind: 'server-stream', ...codec, handle: (request, call) => tracked((h) => (h as AnyServerStream)(request as never, call)) }
      // The proto says this method is unary, so its table entry is a Unary.
      : { kind: 'unary', ...codec, handle: (request, info) => tracked((h) => (h as AnyUnary)(request as never, { method, signal: callSignal(info.signal) })) }]);
  }
  return out;
}

/** A handler's rejection as the call's status: crius's code and message (common/errors.ts). */
function statusOf(err: unknown): CallStatus {
  return { code: grpcCode(errorCode(err)), message: errorMessage(err) };
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
  const track = { n: 0 };
  const deps = { gate, logger, track };
  const methods = new Map([...serviceMethods(SERVICES[0], deps), ...serviceMethods(SERVICES[1], deps)]);
  const server = await listenGrpc(socket, {
    methods,
    // The kubelet sends large ListContainers/stats responses; match its 16 MiB limit.
    maxReceiveBytes: MAX_MESSAGE_BYTES,
    maxSendBytes: MAX_MESSAGE_BYTES,
    statusOf,
    unknownMethod: (path) => ({ code: Status.UNIMPLEMENTED, message: `crius serves no method ${path}` }),
    onTransportStatus: (path, status) => logger.info('rpc', { method: path.slice(1), code: grpcCodeName(status.code), error: status.message }),
  });
  // Owner root (the daemon runs as root), group may connect, nobody else: the socket grants root.
  chmodSync(socket, 0o660);
  return {
    socket,
    inFlight: () => track.n,
    shutdown: (graceMs) => server.close(graceMs),
  };
}
