// The CRI schema (proto/runtime/v1/api.proto) as gRPC service definitions, built once from the schema
// precompiled at build time (scripts/proto-json.mjs -> src/generated/api-descriptor.ts). Same wire
// behaviour and decoded shapes as @grpc/proto-loader with PROTO_LOADER_OPTIONS (the options the generated
// types assume), without its costs at start-up: no .proto parsing and no reflection descriptor per message
// (crius serves no gRPC reflection), only the two services' method definitions.
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs/light.js';
import type { ProtoGrpcType } from '../generated/api.js';
import { API_DESCRIPTOR } from '../generated/api-descriptor.js';

/** The decoding options (keepCase is applied when the schema is precompiled). */
export const PROTO_LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

const SERVICES = ['runtime.v1.RuntimeService', 'runtime.v1.ImageService'] as const;

function serializer(type: protobuf.Type): grpc.serialize<object> {
  return (value) => {
    if (Array.isArray(value)) throw new Error(`Failed to serialize message: expected object with ${type.name} structure, got array instead`);
    // protobuf.js writes into a Buffer under Node: no copy needed.
    return type.encode(type.fromObject(value)).finish() as Buffer;
  };
}

function deserializer(type: protobuf.Type): grpc.deserialize<object> {
  return (buf) => type.toObject(type.decode(buf), PROTO_LOADER_OPTIONS);
}

function serviceDefinition(root: protobuf.Root, name: string): grpc.ServiceDefinition {
  const service = root.lookupService(name);
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
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
      // proto-loader's camelCase of the method name: clients get both RunPodSandbox and runPodSandbox.
      originalName: m.name.charAt(0).toLowerCase() + m.name.slice(1),
    };
  }
  return def;
}

/**
 * grpc-js makes the client class from the definition at run time and types it as "some service"; the
 * generated type C names each method of it. The one unchecked step from grpc-js's types to the generated
 * ones (the definition and the generated types come from the same api.proto).
 */
function clientClass<C>(def: grpc.ServiceDefinition, name: string): C {
  return grpc.makeClientConstructor(def, name) as C;
}

let cached: ProtoGrpcType | undefined;

/** The runtime.v1 package for grpc-js: services only (message type entries are not built). */
export function loadCriProto(): ProtoGrpcType {
  if (!cached) {
    // Not Root.fromJSON: it resolves every type up front (tens of ms). Each method's types are resolved
    // here, and a type's fields when protobuf.js first builds its encoder/decoder, on first use.
    const root = new protobuf.Root();
    root.addJSON((API_DESCRIPTOR as protobuf.INamespace).nested!);
    type V1 = ProtoGrpcType['runtime']['v1'];
    const RuntimeService = clientClass<V1['RuntimeService']>(serviceDefinition(root, SERVICES[0]), SERVICES[0]);
    const ImageService = clientClass<V1['ImageService']>(serviceDefinition(root, SERVICES[1]), SERVICES[1]);
    // Services only: the message type entries of ProtoGrpcType are not built (nothing here reads them).
    cached = { runtime: { v1: { RuntimeService, ImageService } } } as ProtoGrpcType;
  }
  return cached;
}
