// A CRI client for the CLI, tests and benches: the same gRPC the kubelet speaks, over the unix socket.
import * as grpc from '@grpc/grpc-js';
import { loadCriProto } from '../cri/proto.js';
import type { RuntimeServiceClient } from '../generated/runtime/v1/RuntimeService.js';
import type { ImageServiceClient } from '../generated/runtime/v1/ImageService.js';

export const DEFAULT_SOCKET = '/run/crius/crius.sock';

export function socketFromEnv(flag?: string): string {
  return flag ?? process.env['CRIUS_SOCKET'] ?? DEFAULT_SOCKET;
}

export interface CriClient {
  runtime: RuntimeServiceClient;
  image: ImageServiceClient;
  /** Calls a unary RPC by name and resolves with the response; rejects with the gRPC error. */
  call<T = Record<string, unknown>>(service: 'runtime' | 'image', method: string, request: object, timeoutMs?: number): Promise<T>;
  close(): void;
}

/** endpoint: a socket path, or unix:///path as crictl and the kubelet write it. */
/**
 * `channelOptions`: extra grpc-js channel options, e.g. `{ 'grpc.use_local_subchannel_pool': 1 }` for a
 * connection of its own (by default channels to one socket share grpc-js's global connection pool, so a
 * new client to a restarted daemon would inherit the old connection's reconnect backoff).
 */
export function connectCri(endpoint: string, channelOptions: Record<string, string | number> = {}): CriClient {
  const target = endpoint.startsWith('unix:') ? endpoint : `unix://${endpoint}`;
  const proto = loadCriProto();
  const options = { 'grpc.max_receive_message_length': 16 * 1024 * 1024, ...channelOptions };
  const runtime = new proto.runtime.v1.RuntimeService(target, grpc.credentials.createInsecure(), options);
  const image = new proto.runtime.v1.ImageService(target, grpc.credentials.createInsecure(), options);
  // A call by name goes through the service definition (path, serializers), as the generated methods do.
  const services: Record<'runtime' | 'image', { client: grpc.Client; def: grpc.ServiceDefinition }> = {
    runtime: { client: runtime, def: proto.runtime.v1.RuntimeService.service },
    image: { client: image, def: proto.runtime.v1.ImageService.service },
  };
  return {
    runtime,
    image,
    call: <T>(service: 'runtime' | 'image', method: string, request: object, timeoutMs = 120_000) => new Promise<T>((resolve, reject) => {
      const { client, def } = services[service];
      const m = def[method] ?? Object.values(def).find((d) => d.originalName === method);
      if (!m || m.requestStream || m.responseStream) { reject(new Error(`unknown ${service} RPC ${method}`)); return; }
      client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs },
        (err, res) => (err ? reject(err) : resolve(res as T)));
    }),
    close: () => { runtime.close(); image.close(); },
  };
}
