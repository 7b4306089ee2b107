// The shape of crius's CRI handler tables, derived from the grpc-js types generated from api.proto
// (src/generated/runtime/v1/{Runtime,Image}Service.ts): one entry per RPC of each service, each either a
// handler taking that RPC's request and returning its response, or NOT_IMPLEMENTED. A misspelt, missing
// or mistyped RPC in daemon/wiring.ts is therefore a compile error, and a new RPC in a newer api.proto
// must be decided on (implemented or explicitly NOT_IMPLEMENTED) before crius builds again. (grpc-js is
// imported for its types only: the daemon's server is grpc/server.ts.)
import type * as grpc from '@grpc/grpc-js';
import type { ServerStreamCall } from '../grpc/server.js';
import type { RuntimeServiceHandlers } from '../generated/runtime/v1/RuntimeService.js';
import type { ImageServiceHandlers } from '../generated/runtime/v1/ImageService.js';

interface CallContext {
  /** The RPC's method name (e.g. "CreateContainer"). */
  method: string;
  /** Aborted when the client cancels or its deadline passes. */
  signal: AbortSignal;
}

/** The table entry of an RPC crius does not serve: the server answers UNIMPLEMENTED naming the RPC. */
export const NOT_IMPLEMENTED = Symbol('crius: RPC not implemented');
type NotImplemented = typeof NOT_IMPLEMENTED;

/** A unary RPC as crius writes it: the decoded request in, the response (or a thrown CriusError) out. */
type Unary<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;
/** A server-streaming RPC: writes to the call, resolves when the stream is to end with OK. */
type ServerStream<Req, Res> = (request: Req, call: ResponseStream<Res>) => Promise<void>;

/** The writing end of a server stream, typed by its response message. */
export type ResponseStream<Res> = ServerStreamCall<Res>;

/** crius's form of one generated grpc-js handler type. */
type Promised<H> =
  H extends grpc.handleServerStreamingCall<infer Req, infer Res> ? ServerStream<Req, Res>
  : H extends grpc.handleUnaryCall<infer Req, infer Res> ? Unary<Req, Res>
  : never;

/** The RPC names of a generated handler interface (without grpc-js's string index signature). */
type RpcNames<H> = keyof { [K in keyof H as string extends K ? never : K]: H[K] };

type Table<H> = { [K in RpcNames<H>]: Promised<H[K]> | NotImplemented };

/** Every RuntimeService RPC: a handler or NOT_IMPLEMENTED. */
export type RuntimeRpcs = Table<RuntimeServiceHandlers>;
/** Every ImageService RPC: a handler or NOT_IMPLEMENTED. */
export type ImageRpcs = Table<ImageServiceHandlers>;

/** The handler of one ImageService RPC (for a handler wrapped apart from its table). */
export type ImageRpc<K extends keyof ImageRpcs> = Exclude<ImageRpcs[K], NotImplemented>;

/**
 * Any entry, as the server dispatches it by the method name it reads from the loaded proto. The request
 * is `never`: the server passes what grpc-js decoded for that method, which is the generated __Output
 * type the table's own entry is typed with.
 */
export type AnyUnary = (request: never, ctx: CallContext) => Promise<object>;
export type AnyServerStream = (request: never, call: ServerStreamCall<object>) => Promise<void>;
export type AnyEntry = AnyUnary | AnyServerStream | NotImplemented;
