// Acceptance test of the lifecycle core (issue 15): random interleavings of Run/Stop/Remove sandbox and
// Create/Start/Stop/Remove/Update container on the same IDs and names, from several gRPC clients, with
// the daemon SIGKILLed at a random point in some iterations (a new daemon on the same dirs recovers).
// Every RPC must answer OK or a code documented for that race (never INTERNAL, never a UNIQUE error),
// the state at the end must match the calls that succeeded, and nothing may leak.
// Iterations: 200, or fewer when the time budget (CRIUS_LIFECYCLE_BUDGET_S, default 170 s) runs out first;
// the count run is printed with the RPC counts by code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectCri, type CriClient } from '../../../src/cli/client.js';
import { containerConfig, podConfig, startCriNode, type CriNode } from '../../helpers/cri-fixture.js';
import { nodeLeaks } from '../../helpers/leak-check.js';

const TAG = 'lc';
const ITERATIONS = Number(process.env['CRIUS_LIFECYCLE_ITERATIONS'] ?? 200);
const BUDGET_MS = Number(process.env['CRIUS_LIFECYCLE_BUDGET_S'] ?? 170) * 1000;
const CLIENTS = 3;
let node: CriNode;
let clients: CriClient[] = [];
const allPods: string[] = [];

/** Codes each RPC may answer when racing the others on the same objects (docs/ARCHITECTURE.md). */
const ALLOWED: Record<string, readonly string[]> = {
  RunPodSandbox: ['OK', 'ALREADY_EXISTS'],
  StopPodSandbox: ['OK'],
  RemovePodSandbox: ['OK'],
  // The pod was stopped (FAILED_PRECONDITION) or removed (NOT_FOUND) first, or the name is taken.
  CreateContainer: ['OK', 'ALREADY_EXISTS', 'FAILED_PRECONDITION', 'NOT_FOUND'],
  // Removed first (NOT_FOUND), or stopped first (FAILED_PRECONDITION: only a created container starts).
  StartContainer: ['OK', 'NOT_FOUND', 'FAILED_PRECONDITION'],
  StopContainer: ['OK'],
  RemoveContainer: ['OK'],
  UpdateContainerResources: ['OK', 'NOT_FOUND', 'FAILED_PRECONDITION'],
};
/** What a call cut off by the daemon's SIGKILL may get: the connection is gone. */
const CRASH_CODES = ['UNAVAILABLE', 'CANCELLED'];

const CODE_NAMES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];
const counts = new Map<string, number>();
const problems: string[] = [];

interface Outcome<T> { code: string; res?: T; details?: string }

// New channels after a restart, each with a connection of its own: the old ones back off after the
// refused connections of the downtime (and grpc-js's shared pool would hand that backoff to new ones).
function connectAll(): CriClient[] {
  const old = clients;
  clients = Array.from({ length: CLIENTS }, () => connectCri(node.daemon.socket, { 'grpc.use_local_subchannel_pool': 1 }));
  return old;
}

/** One RPC from a random client; records its code and whether the code is allowed. */
async function rpc<T = Record<string, any>>(method: string, req: object, crashing: () => boolean): Promise<Outcome<T>> {
  const client = clients[Math.floor(Math.random() * clients.length)]!;
  let out: Outcome<T>;
  try {
    out = { code: 'OK', res: await client.call<T>('runtime', method, req, 60_000) };
  } catch (err) {
    const e = err as { code?: number; details?: string };
    out = { code: CODE_NAMES[e.code ?? 2] ?? String(e.code), details: e.details };
  }
  const key = `${method} ${out.code}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
  const ok = ALLOWED[method]!.includes(out.code) || (crashing() && CRASH_CODES.includes(out.code));
  if (!ok || /UNIQUE/i.test(out.details ?? '')) problems.push(`${method}: ${out.code} ${out.details ?? ''}`);
  return out;
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const jitter = (): Promise<void> => pause(Math.floor(Math.random() * 40));
const coin = (p: number): boolean => Math.random() < p;

before(async () => {
  node = await startCriNode({ tag: TAG, subnet: 113 });
  await node.image_call('PullImage', { image: { image: node.image } });
  connectAll();
});

after(async () => {
  for (const c of clients) c.close();
  await node?.cleanup();
});

interface CtrPlan { name: string; id?: string; started: boolean; stopped: boolean; removed: boolean }

async function iteration(i: number, crash: boolean): Promise<void> {
  let crashed = false;
  const crashing = (): boolean => crashed;
  const hostNet = coin(0.5);
  const sharedPid = coin(0.3);
  // The kubelet sends each container its pod's namespace modes.
  const nsOptions = { pid: sharedPid ? 'POD' : 'CONTAINER', ...(hostNet ? { network: 'NODE' } : {}) };
  // A host-network pod has the node's hostname: the kubelet sends none.
  const pod = podConfig(node, { name: `race${i}`, linux: { security_context: { namespace_options: nsOptions } }, ...(hostNet ? { hostname: '' } : {}) });
  // Two RunPodSandbox with the same name at once: one pod, the other ALREADY_EXISTS (or the same ID).
  const runs = await Promise.all([0, 1].map(async () => { await jitter(); return rpc<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod }, crashing); }));
  const ids = new Set(runs.filter((r) => r.code === 'OK').map((r) => r.res!.pod_sandbox_id));
  if (ids.size !== 1) problems.push(`iteration ${i}: RunPodSandbox twice with one name gave ${ids.size} pods`);
  const podId = [...ids][0];
  if (!podId) return;
  allPods.push(podId);

  const ctrs: CtrPlan[] = [{ name: 'a', started: false, stopped: false, removed: false }, { name: 'b', started: false, stopped: false, removed: false }];
  let podStopped = false;
  let podRemoved = false;
  const ops: Promise<void>[] = [];
  for (const c of ctrs) {
    const cfg = containerConfig(node, c.name, ['sleep', '300'], { linux: { security_context: { namespace_options: nsOptions } } });
    ops.push((async () => {
      // The same name twice at once: at most one container.
      const creates = await Promise.all([0, 1].map(async () => { await jitter(); return rpc<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: cfg, sandbox_config: pod }, crashing); }));
      const got = new Set(creates.filter((r) => r.code === 'OK').map((r) => r.res!.container_id));
      if (got.size > 1) problems.push(`iteration ${i}: CreateContainer twice with one name gave ${got.size} containers`);
      c.id = [...got][0];
      if (!c.id) return;
      const id = c.id;
      const mine: Promise<void>[] = [];
      if (coin(0.8)) mine.push((async () => { await jitter(); if ((await rpc('StartContainer', { container_id: id }, crashing)).code === 'OK') c.started = true; })());
      if (coin(0.3)) mine.push((async () => { await jitter(); await rpc('UpdateContainerResources', { container_id: id, linux: { cpu_shares: 512 } }, crashing); })());
      if (coin(0.5)) mine.push((async () => { await jitter(); if ((await rpc('StopContainer', { container_id: id, timeout: 0 }, crashing)).code === 'OK') c.stopped = true; })());
      if (coin(0.4)) mine.push((async () => { await jitter(); if ((await rpc('RemoveContainer', { container_id: id }, crashing)).code === 'OK') c.removed = true; })());
      await Promise.all(mine);
    })());
  }
  if (coin(0.4)) ops.push((async () => { await pause(Math.random() * 300); if ((await rpc('StopPodSandbox', { pod_sandbox_id: podId }, crashing)).code === 'OK') podStopped = true; })());
  if (coin(0.3)) ops.push((async () => { await pause(Math.random() * 400); if ((await rpc('RemovePodSandbox', { pod_sandbox_id: podId }, crashing)).code === 'OK') podRemoved = true; })());
  let stale: CriClient[] = [];
  if (crash) {
    ops.push((async () => {
      await pause(Math.random() * 500);
      crashed = true;
      await node.restartDaemon('kill');
      stale = connectAll();
    })());
  }
  await Promise.all(ops);
  for (const c of stale) c.close();

  if (!crash) await checkState(i, podId, ctrs, podStopped, podRemoved);
  else await checkConsistent(i, podId);
  // The kubelet's cleanup: must always succeed.
  for (const m of ['StopPodSandbox', 'RemovePodSandbox']) await rpc(m, { pod_sandbox_id: podId }, () => false);
}

/** No crash: the state matches the calls that answered OK. */
async function checkState(i: number, podId: string, ctrs: CtrPlan[], podStopped: boolean, podRemoved: boolean): Promise<void> {
  const listed = await clients[0]!.call<{ items: { id: string; state: string }[] }>('runtime', 'ListPodSandbox', { filter: { id: podId } });
  if (podRemoved) {
    if (listed.items.length !== 0) problems.push(`iteration ${i}: pod ${podId} was removed but is listed`);
    return;
  }
  const want = podStopped ? 'SANDBOX_NOTREADY' : 'SANDBOX_READY';
  if (listed.items[0]?.state !== want) problems.push(`iteration ${i}: pod is ${listed.items[0]?.state ?? 'missing'}, want ${want}`);
  const { containers } = await clients[0]!.call<{ containers: { id: string; state: string; metadata: { name: string } }[] }>('runtime', 'ListContainers', { filter: { pod_sandbox_id: podId } });
  for (const c of ctrs) {
    const found = containers.filter((x) => x.metadata.name === c.name);
    if (found.length > 1) problems.push(`iteration ${i}: ${found.length} containers named ${c.name}`);
    if (!c.id) continue;
    if (c.removed) {
      if (found.length !== 0) problems.push(`iteration ${i}: container ${c.name} was removed but is listed`);
      continue;
    }
    const want = podStopped || c.stopped ? 'CONTAINER_EXITED' : c.started ? 'CONTAINER_RUNNING' : 'CONTAINER_CREATED';
    if (found[0]?.state !== want) problems.push(`iteration ${i}: container ${c.name} is ${found[0]?.state ?? 'missing'}, want ${want} (started ${c.started}, stopped ${c.stopped}, pod stopped ${podStopped})`);
  }
}

/** After a crash: what the new daemon shows is whole (no half-created objects, no duplicate names). */
async function checkConsistent(i: number, podId: string): Promise<void> {
  const { containers } = await clients[0]!.call<{ containers: { metadata: { name: string } }[] }>('runtime', 'ListContainers', { filter: { pod_sandbox_id: podId } });
  for (const name of ['a', 'b']) {
    const n = containers.filter((c) => c.metadata.name === name).length;
    if (n > 1) problems.push(`iteration ${i} (crash): ${n} containers named ${name}`);
  }
}

test('random interleavings of pod and container lifecycle calls, with crashes: allowed codes only, state as called, no leaks', { timeout: 900_000 }, async () => {
  const t0 = Date.now();
  let done = 0;
  let crashes = 0;
  for (let i = 0; i < ITERATIONS && Date.now() - t0 < BUDGET_MS; i++) {
    const crash = i % 10 === 7;
    if (crash) crashes++;
    try {
      await iteration(i, crash);
    } catch (err) {
      // What the daemon said last (its own errors, or how it ended) tells why a call failed outright.
      const tail = node.daemon.logs().split('\n').filter((l) => /error|fatal|uncaught|exit/i.test(l)).slice(-15).join('\n');
      throw new Error(`iteration ${i} (crash ${crash}, daemon exit code ${node.daemon.proc.exitCode}): ${(err as Error).message}\ndaemon log:\n${tail}`);
    }
    done++;
    if (i % 25 === 24) {
      const leaks = await nodeLeaks(node, TAG, allPods);
      assert.deepEqual(leaks, [], `after ${done} iterations, left behind:\n${leaks.join('\n')}\nproblems so far:\n${problems.join('\n')}`);
    }
  }
  const seconds = (Date.now() - t0) / 1000;
  const byCode = [...counts.entries()].sort().map(([k, v]) => `${k}: ${v}`).join(', ');
  console.log(`lifecycle concurrency: ${done} iterations (${crashes} with a daemon SIGKILL) in ${seconds.toFixed(1)} s; RPCs by code: ${byCode}`);
  assert.deepEqual(problems, [], `${problems.length} problems`);
  const leaks = await nodeLeaks(node, TAG, allPods);
  assert.deepEqual(leaks, [], `left behind:\n${leaks.join('\n')}`);
  assert.ok(done >= 1);
});

test('a create that outlives its caller\'s deadline is handed to the retry with the same name (same ID, one object)', async () => {
  // PID mode POD: the run also starts the infra process, so it outlasts the short deadline below.
  const ns = { security_context: { namespace_options: { pid: 'POD' } } };
  const pod = podConfig(node, { name: 'handoff', linux: ns });
  const codeOf = (err: unknown): string => CODE_NAMES[(err as { code?: number }).code ?? 2] ?? '?';
  /** The first call with a deadline shorter than the create (the kubelet gives up), then the retry. */
  async function twice<T>(method: string, req: object): Promise<{ first: string; retry: Outcome<T> }> {
    const first = await clients[0]!.call<T>('runtime', method, req, 25).then(() => 'OK', codeOf);
    const retry: Outcome<T> = await clients[1]!.call<T>('runtime', method, req, 60_000).then((res) => ({ code: 'OK', res }), (err: unknown) => ({ code: codeOf(err), details: (err as { details?: string }).details }));
    // A first call that got its answer leaves the name taken; one cut off by its deadline hands its object over.
    assert.equal(retry.code, first === 'OK' ? 'ALREADY_EXISTS' : 'OK', `${method} retry after the first call answered ${first}: ${retry.details ?? ''}`);
    return { first, retry };
  }
  const runs = await twice<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod });
  const pods = await clients[0]!.call<{ items: { id: string; metadata: { name: string } }[] }>('runtime', 'ListPodSandbox', {});
  const mine = pods.items.filter((p) => p.metadata.name === 'handoff').map((p) => p.id);
  assert.equal(mine.length, 1, 'one pod');
  const podId = mine[0]!;
  allPods.push(podId);
  if (runs.retry.res) assert.equal(runs.retry.res.pod_sandbox_id, podId);
  const ctr = containerConfig(node, 'late', ['sleep', '300'], { linux: ns });
  const creates = await twice<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: ctr, sandbox_config: pod });
  const { containers } = await clients[0]!.call<{ containers: { id: string }[] }>('runtime', 'ListContainers', { filter: { pod_sandbox_id: podId } });
  assert.equal(containers.length, 1, 'one container');
  if (creates.retry.res) assert.equal(creates.retry.res.container_id, containers[0]!.id);
  console.log(`hand-off: first RunPodSandbox ${runs.first} then ${runs.retry.code}; first CreateContainer ${creates.first} then ${creates.retry.code}`);
  await clients[0]!.call('runtime', 'StopPodSandbox', { pod_sandbox_id: podId });
  await clients[0]!.call('runtime', 'RemovePodSandbox', { pod_sandbox_id: podId });
  const leaks = await nodeLeaks(node, TAG, allPods);
  assert.deepEqual(leaks, [], `left behind:\n${leaks.join('\n')}`);
});
