// The precompiled CRI schema (src/cri/proto.ts) must behave on the wire exactly as @grpc/proto-loader's
// reading of proto/runtime/v1/api.proto with the same options: same methods, paths and streaming flags,
// same bytes out, same decoded objects in (int64 as strings, enums as names, defaults, oneofs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import type * as grpc from '@grpc/grpc-js';
import { loadCriProto, PROTO_LOADER_OPTIONS } from '../../../src/cri/proto.js';

const protoFile = fileURLToPath(new URL('../../../../proto/runtime/v1/api.proto', import.meta.url));
const reference = protoLoader.loadSync(protoFile, { ...PROTO_LOADER_OPTIONS });
const ours = loadCriProto();

const services: [string, grpc.ServiceDefinition][] = [
  ['runtime.v1.RuntimeService', ours.runtime.v1.RuntimeService.service],
  ['runtime.v1.ImageService', ours.runtime.v1.ImageService.service],
];

test('every method of both services, with the same path, streaming flags and client alias', () => {
  for (const [name, def] of services) {
    const ref = reference[name] as protoLoader.ServiceDefinition;
    assert.deepEqual(Object.keys(def).sort(), Object.keys(ref).sort(), name);
    for (const [m, d] of Object.entries(def)) {
      const r = ref[m]!;
      assert.deepEqual([d.path, d.requestStream, d.responseStream, d.originalName], [r.path, r.requestStream, r.responseStream, r.originalName], `${name}/${m}`);
    }
  }
});

// Messages that exercise int64 (longs as strings), enums, maps, repeated, nested messages and defaults.
const samples: [string, string, object][] = [
  ['runtime.v1.RuntimeService', 'RunPodSandbox', {
    config: {
      metadata: { name: 'p', uid: 'u', namespace: 'n', attempt: 3 },
      labels: { a: 'b' },
      linux: {
        security_context: {
          namespace_options: { network: 'NODE', pid: 'CONTAINER', userns_options: { mode: 'POD', uids: [{ host_id: 65536, container_id: 0, length: 65536 }] } },
          run_as_user: { value: '1000' },
        },
        resources: { cpu_period: '100000', memory_limit_in_bytes: '9007199254740993' },
      },
      port_mappings: [{ protocol: 'UDP', container_port: 53, host_port: 5353 }],
    },
    runtime_handler: 'crun',
  }],
  ['runtime.v1.RuntimeService', 'ContainerStatus', { status: { id: 'c', state: 'CONTAINER_EXITED', created_at: '1700000000000000001', exit_code: 137, labels: { x: 'y' } }, info: { k: 'v' } }],
  ['runtime.v1.RuntimeService', 'ListContainerStats', { stats: [{ attributes: { id: 'c' }, cpu: { timestamp: '5', usage_core_nano_seconds: { value: '18446744073709551615' } } }] }],
  ['runtime.v1.ImageService', 'ListImages', { images: [{ id: 'sha256:x', repo_tags: ['a:b'], size: '12345', pinned: true }] }],
];

test('requests and responses encode to the same bytes and decode to the same objects', () => {
  const services = { 'runtime.v1.RuntimeService': ours.runtime.v1.RuntimeService.service, 'runtime.v1.ImageService': ours.runtime.v1.ImageService.service } as Record<string, grpc.ServiceDefinition>;
  for (const [svc, method, message] of samples) {
    const d = services[svc]![method]!;
    const r = (reference[svc] as protoLoader.ServiceDefinition)[method]!;
    // The same object serves as request (RunPodSandbox) or response (the others): try it both ways.
    const [ser, refSer, de, refDe] = method === 'RunPodSandbox'
      ? [d.requestSerialize, r.requestSerialize, d.requestDeserialize, r.requestDeserialize]
      : [d.responseSerialize, r.responseSerialize, d.responseDeserialize, r.responseDeserialize];
    const bytes = ser(message);
    assert.deepEqual(Buffer.from(bytes), Buffer.from(refSer(message)), `${method} bytes`);
    assert.ok(bytes.length > 10, `${method} encoded something`);
    assert.deepEqual(de(bytes), refDe(bytes), `${method} decoded`);
    // An empty message decodes with every default filled in, as the handlers expect.
    assert.deepEqual(de(Buffer.alloc(0)), refDe(Buffer.alloc(0)), `${method} defaults`);
  }
});

test('an array where a message belongs is refused, as proto-loader refuses it', () => {
  const d = ours.runtime.v1.RuntimeService.service['Version']!;
  assert.throws(() => d.requestSerialize([] as never), /expected object with VersionRequest structure/);
});
