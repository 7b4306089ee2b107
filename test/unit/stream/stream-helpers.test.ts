import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenCache } from '../../../src/stream/tokens.js';
import { negotiate, splitHeaderList, REMOTECOMMAND_SPDY_PROTOCOLS } from '../../../src/stream/protocols.js';
import { ResizeQueue, parseTerminalSize } from '../../../src/stream/resize-queue.js';
import { encodeStatus } from '../../../src/stream/status.js';
import { validateExec, validateAttach, validatePortForward } from '../../../src/stream/requests.js';
import { CriusError } from '../../../src/common/errors.js';

test('tokens are single-use, expire after the TTL and are capped', () => {
  let now = 1000;
  const c = new TokenCache<string>(60_000, 2, () => now);
  const a = c.insert('a');
  assert.equal(c.consume(a), 'a');
  assert.equal(c.consume(a), undefined);
  const b = c.insert('b');
  now += 60_001;
  assert.equal(c.consume(b), undefined);
  c.insert('c');
  c.insert('d');
  assert.throws(() => c.insert('e'), (e: unknown) => e instanceof CriusError && e.code === 'RESOURCE_EXHAUSTED');
  now += 60_001;
  assert.doesNotThrow(() => c.insert('f'));
});

test('protocol negotiation picks the first offered protocol the server supports', () => {
  const offered = splitHeaderList(['v5.channel.k8s.io', 'v4.channel.k8s.io, v3.channel.k8s.io']);
  assert.deepEqual(offered, ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io']);
  assert.equal(negotiate(offered, REMOTECOMMAND_SPDY_PROTOCOLS), 'v4.channel.k8s.io');
  assert.equal(negotiate(['channel.k8s.io'], REMOTECOMMAND_SPDY_PROTOCOLS), 'channel.k8s.io');
  assert.equal(negotiate(['v9'], REMOTECOMMAND_SPDY_PROTOCOLS), null);
});

test('resize messages are parsed from concatenated and split JSON objects', async () => {
  const q = new ResizeQueue();
  q.feed('{"Width":80,"Height":24}{"Wid');
  q.feed('th":100,"Height":30}\n{"bogus":1}{"Width":70000,"Height":1}');
  q.end();
  const got = [];
  for await (const r of q) got.push(r);
  assert.deepEqual(got, [{ width: 80, height: 24 }, { width: 100, height: 30 }]);
  assert.equal(parseTerminalSize('nope'), null);
});

test('v4 status JSON: Success, NonZeroExitCode with the ExitCode cause, InternalError', () => {
  assert.deepEqual(JSON.parse(encodeStatus('v4.channel.k8s.io', { kind: 'success' })!.toString()), { metadata: {}, status: 'Success' });
  const fail = JSON.parse(encodeStatus('v4.channel.k8s.io', { kind: 'exit', exitCode: 42 })!.toString());
  assert.equal(fail.reason, 'NonZeroExitCode');
  assert.deepEqual(fail.details.causes, [{ reason: 'ExitCode', message: '42' }]);
  const internal = JSON.parse(encodeStatus('v4.channel.k8s.io', { kind: 'error', message: 'boom' })!.toString());
  assert.equal(internal.reason, 'InternalError');
  assert.equal(internal.code, 500);
  assert.equal(encodeStatus('v3.channel.k8s.io', { kind: 'success' }), null);
  assert.match(encodeStatus('v2.channel.k8s.io', { kind: 'exit', exitCode: 3 })!.toString(), /exit status 3/);
});

test('CRI validations of Exec, Attach and PortForward requests', () => {
  const base = { container_id: 'c1', cmd: ['sh'], tty: false, stdin: false, stdout: true, stderr: false };
  assert.doesNotThrow(() => validateExec(base));
  const bad = (f: () => void): void => assert.throws(f, (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT');
  bad(() => validateExec({ ...base, container_id: '' }));
  bad(() => validateExec({ ...base, tty: true, stderr: true }));
  bad(() => validateExec({ ...base, stdout: false }));
  bad(() => validateExec({ ...base, cmd: [] }));
  bad(() => validateAttach({ ...base, stdout: false }));
  assert.doesNotThrow(() => validatePortForward({ pod_sandbox_id: 'p' }));
  bad(() => validatePortForward({ pod_sandbox_id: '' }));
  bad(() => validatePortForward({ pod_sandbox_id: 'p', port: [0] }));
});
