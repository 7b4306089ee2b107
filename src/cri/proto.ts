// The CRI services as grpc-js client classes (the CLI and the tests' client): the method codecs of
// cri/codec.ts handed to grpc-js. The daemon does not load this (its server is grpc/server.ts).
import * as grpc from '@grpc/grpc-js';
import type { ProtoGrpcType } from '../generated/api.js';
import { criMethods, SERVICES } from './codec.js';

export { PROTO_LOADER_OPTIONS } from './codec.js';

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
    const methods = criMethods();
    type V1 = ProtoGrpcType['runtime']['v1'];
    const RuntimeService = clientClass<V1['RuntimeService']>(methods[SERVICES[0]] as grpc.ServiceDefinition, SERVICES[0]);
    const ImageService = clientClass<V1['ImageService']>(methods[SERVICES[1]] as grpc.ServiceDefinition, SERVICES[1]);
    // Services only: the message type entries of ProtoGrpcType are not built (nothing here reads them).
    cached = { runtime: { v1: { RuntimeService, ImageService } } } as ProtoGrpcType;
  }
  return cached;
}
