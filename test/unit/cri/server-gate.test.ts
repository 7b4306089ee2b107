// While the daemon starts, the CRI server answers the early RPCs (Version) at once and holds every other
// one until its handlers exist (pods and containers recovered); if start-up fails, the held RPCs fail
// UNAVAILABLE. Real gRPC over a unix socket, with handlers that record when they run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCriServer, type CriHandlers, type EarlyRpcs } from '../../../src/cri/server.js';
import { runtimeOnly } from '../../helpers/rpc-tables.js';
import { silentLogger } from '../../../src/common/logger.js';
import { connectCri } from '../../../src/cli/client.js';

const version: EarlyRpcs['Version'] = async () => ({ version: '0.1.0', runtime_name: 'crius', runtime_version: 'early', runtime_api_version: 'v1' });

function deferred<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

test('Version answers before the handlers exist; ListPodSandbox waits for them, then uses them', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'crius-gate-'));
  const handlers = deferred<CriHandlers>();
  const server = await startCriServer(path.join(dir, 's.sock'), handlers.promise, silentLogger, { Version: version });
  const client = connectCri(path.join(dir, 's.sock'));
  t.after(async () => { client.close(); await server.shutdown(0); await rm(dir, { recursive: true, force: true }); });

  let listed = false;
  const list = client.call<{ items: { id: string }[] }>('runtime', 'ListPodSandbox', {}, 10_000).then((r) => { listed = true; return r; });
  const v = await client.call<{ runtime_version: string }>('runtime', 'Version', {}, 10_000);
  assert.equal(v.runtime_version, 'early');
  // Version was answered after ListPodSandbox was sent (same connection, sent first): the list is held.
  assert.equal(listed, false);

  let listRan = false;
  handlers.resolve(runtimeOnly({
    Version: async () => ({ version: '0.1.0', runtime_name: 'crius', runtime_version: 'full', runtime_api_version: 'v1' }),
    ListPodSandbox: async () => { listRan = true; return { items: [{ id: 'p1' }] }; },
  }));
  assert.deepEqual((await list).items.map((p) => p.id), ['p1']);
  assert.equal(listRan, true);
  // Once ready, the full handlers answer everything, Version included.
  assert.equal((await client.call<{ runtime_version: string }>('runtime', 'Version', {}, 10_000)).runtime_version, 'full');
  // An RPC the full set does not implement is UNIMPLEMENTED, naming it: unary, server-streaming, and ImageService.
  await assert.rejects(client.call('runtime', 'ListContainers', {}, 10_000), (err: { code: number; details: string }) => err.code === 12 && /ListContainers is not implemented/.test(err.details));
  await assert.rejects(client.call('image', 'ListImages', {}, 10_000), (err: { code: number; details: string }) => err.code === 12 && /ListImages is not implemented/.test(err.details));
  const events = client.runtime.GetContainerEvents({});
  const streamErr = await new Promise<{ code: number; details: string }>((resolve) => { events.on('error', resolve); events.on('data', () => undefined); });
  assert.equal(streamErr.code, 12);
  assert.match(streamErr.details, /GetContainerEvents is not implemented/);
});

test('a failed start-up fails the held RPCs UNAVAILABLE, with the reason', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'crius-gate-'));
  const handlers = deferred<CriHandlers>();
  const server = await startCriServer(path.join(dir, 's.sock'), handlers.promise, silentLogger, { Version: version });
  const client = connectCri(path.join(dir, 's.sock'));
  t.after(async () => { client.close(); await server.shutdown(0); await rm(dir, { recursive: true, force: true }); });

  const list = client.call('runtime', 'ListPodSandbox', {}, 10_000);
  await client.call('runtime', 'Version', {}, 10_000);
  handlers.reject(new Error('recovery failed: database is locked'));
  await assert.rejects(list, (err: { code: number; details: string }) => err.code === 14 && /did not finish starting: recovery failed: database is locked/.test(err.details));
});
