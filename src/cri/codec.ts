// The CRI schema (proto/runtime/v1/api.proto) as per-method codecs, built once from the schema
// precompiled at build time (scripts/proto-json.mjs -> src/generated/api-descriptor.ts). Same wire
// behaviour and decoded shapes as @grpc/proto-loader with PROTO_LOADER_OPTIONS (the options the generated
// types assume), without its costs at start-up: no .proto parsing and no reflection descriptor per message
// (crius serves no gRPC reflection), only the two services' method definitions. The daemon's server
// (cri/server.ts) and the CLI's grpc-js client (cri/proto.ts) both use these; this module loads no gRPC.
import protobuf from 'protobufjs/light.js';
import { API_DESCRIPTOR } from '../generated/api-descriptor.js';

/** The decoding options (keepCase is applied when the schema is precompiled). */
export const PROTO_LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

export const SERVICES = ['runtime.v1.RuntimeService', 'runtime.v1.ImageService'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** One method, with the field names grpc-js's MethodDefinition uses (the client passes it on as is). */
interface CriMethod {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize(value: object): Buffer;
  requestDeserialize(bytes: Buffer): object;
  responseSerialize(value: object): Buffer;
  responseDeserialize(bytes: Buffer): object;
  /** proto-loader's camelCase of the method name: grpc-js clients get both RunPodSandbox and runPodSandbox. */
  originalName: string;
}

function serializer(type: protobuf.Type): (value: object) => Buffer {
  return (value) => {
    if (Array.isArray(value)) throw new Error(`Failed to serialize message: expected object with ${type.name} structure, got array instead`);
    // protobuf.js writes into a Buffer under Node: no copy needed.
    return type.encode(type.fromObject(value)).finish() as Buffer;
  };
}

function deserializer(type: protobuf.Type): (bytes: Buffer) => object {
  return (buf) => type.toObject(type.decode(buf), PROTO_LOADER_OPTIONS);
}

function serviceMethods(root: protobuf.Root, name: string): Record<string, CriMethod> {
  const service = root.lookupService(name);
  const def: Record<string, CriMethod> = {};
  for (const m of service.methodsArray) {
    m.resolve();
    const req = m.resolvedRequestType!;
    const res = m.resolvedResponseType!;
    def[m.name] = {
      path: `/${name}/${m.name}`,
      requestStream: m.requestStream === true,
      responseStream: m.responseStream === true,
      requestSerialize: serializer(req),
      requestDeserialize: deserializer(req),
      responseSerialize: serializer(res),
      responseDeserialize: deserializer(res),
      originalName: m.name.charAt(0).toLowerCase() + m.name.slice(1),
    };
  }
  return def;
}

let cached: Record<ServiceName, Record<string, CriMethod>> | undefined;

/** Each service's methods by name. */
export function criMethods(): Record<ServiceName, Record<string, CriMethod>> {
  if (!cached) {
    // Not Root.fromJSON: it resolves every type up front (tens of ms). Each method's types are resolved
    // here, and a type's fields when protobuf.js first builds its encoder/decoder, on first use.
    const root = new protobuf.Root();
    root.addJSON((API_DESCRIPTOR as protobuf.INamespace).nested!);
    cached = { [SERVICES[0]]: serviceMethods(root, SERVICES[0]), [SERVICES[1]]: serviceMethods(root, SERVICES[1]) } as Record<ServiceName, Record<string, CriMethod>>;
  }
  return cached;
}
