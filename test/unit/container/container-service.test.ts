// ContainerService with its ports faked (OCI runtime, image, rootfs, handler, volume probe, devices) and a
// real store (SQLite in memory) and lock table: the lifecycle's happy path, what a failing step undoes,
// NOT_FOUND and the codes the CRI asks for, name reservation, and the per-container lock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openDb } from '../../../src/store/db.js';
import { PodStore } from '../../../src/store/pods.js';
import { ContainerStore } from '../../../src/store/containers.js';
import { ContainerService } from '../../../src/container/container-service.js';
import type { ExitInfo, OciPort, CreateOptions } from '../../../src/container/ports.js';
import type { ContainerConfig, ContainerRuntime } from '../../../src/container/types.js';
import type { Pod, PodConfig, PodRuntime } from '../../../src/pod/types.js';
import type { ContainerEvent } from '../../../src/container/events.js';
import { KeyedLock } from '../../../src/common/keyed-lock.js';
import { CriusError, notFound } from '../../../src/common/errors.js';
import { silentLogger } from '../../../src/common/logger.js';
import type { Spec } from '../../../src/spec/oci-types.js';

/** A promise the test opens when it wants a faked step to go on. */
function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => { open = r; });
  return { wait, open };
}

/** Everything the fakes were asked to do, in order. */
type Call = string;

interface Fakes {
  calls: Call[];
  events: ContainerEvent[];
  /** Makes the named step throw (once set, every time). */
  fail: Partial<Record<'oci.create' | 'oci.start' | 'rootfs.mount', Error>>;
  /** Holds the named step until the gate opens. */
  hold: Partial<Record<'oci.start' | 'rootfs.mount', Promise<void>>>;
  exits: Map<string, ExitInfo>;
}

function setUp(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'crius-ctr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = openDb(':memory:');
  const pods = new PodStore<PodConfig, PodRuntime>(db);
  const store = new ContainerStore<ContainerConfig, ContainerRuntime>(db);
  const f: Fakes = { calls: [], events: [], fail: {}, hold: {}, exits: new Map() };
  const exitListeners: ((id: string) => void)[] = [];
  const failIf = (step: keyof Fakes['fail']): void => {
    const err = f.fail[step];
    if (err) throw err;
  };
  const oci: OciPort = {
    async create(handler, o: CreateOptions) {
      f.calls.push(`oci.create ${handler} ${o.id}`);
      failIf('oci.create');
      return { pid: 4242, conmonPid: 4241, conmonStartTime: '1' };
    },
    async start(_handler, id) {
      f.calls.push(`oci.start ${id}`);
      await f.hold['oci.start'];
      failIf('oci.start');
      f.calls.push(`oci.started ${id}`);
    },
    async kill(_handler, id, signal) {
      f.calls.push(`oci.kill ${id} ${signal}`);
      // The container's init dies of the signal: conmon writes the exit file, the watcher reports it.
      f.exits.set(id, { exitCode: signal === 'SIGKILL' ? 137 : 0, finishedAt: '2', oomKilled: false });
      setImmediate(() => { for (const l of exitListeners) l(id); });
    },
    async delete(_handler, id) { f.calls.push(`oci.delete ${id}`); },
    status: async () => undefined,
    exitOf: async (id) => f.exits.get(id),
    alive: async () => true,
    recover: async () => ({ state: 'running' }),
    execSync: async () => ({ stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0 }),
    reopenLog: async () => undefined,
    update: async () => undefined,
    async cleanup(id) { f.calls.push(`oci.cleanup ${id}`); },
    onExit: (l) => { exitListeners.push(l); },
    cgroupsPath: (parent, id) => `${parent}/${id}`,
    oomScoreAdjMin: () => -1000,
    cgroupV2: () => true,
  };
  const pod: Pod = {
    id: 'p'.repeat(64) as Pod['id'], name: 'web', namespace: 'default', uid: 'u1', attempt: 0, state: 'ready', createdAt: '1', handler: 'crun',
    config: { metadata: { name: 'web', namespace: 'default', uid: 'u1', attempt: 0 } } as PodConfig,
    runtime: {
      runDir: join(dir, 'pods', 'p'), userns: { kind: 'host' }, netnsOwnedByUserns: true, cgroupParent: '/crius/p', done: [],
      namespaces: { net: '/run/netns/x', ipc: '/run/ipcns/x', uts: '/run/utsns/x', pid: '/proc/4000/ns/pid' },
    },
  };
  pods.insert(pod);
  const svc = new ContainerService({
    containers: store,
    pod: (id) => {
      const p = pods.get(id);
      if (!p) throw notFound(`pod sandbox "${id}" not found`);
      return p;
    },
    stateDir: join(dir, 'state'),
    rootDir: join(dir, 'root'),
    oci,
    images: {
      resolve: (ref) => {
        if (ref !== 'busybox') throw notFound(`image "${ref}" not found`);
        return { id: 'sha256:' + 'b'.repeat(64), layerDirs: [join(dir, 'layer0')], config: { Cmd: ['/bin/sh'], StopSignal: 'SIGQUIT' } };
      },
      markInUse: (imageId, containerId) => { f.calls.push(`image.use ${imageId.slice(0, 8)} ${containerId}`); },
      release: (containerId) => { f.calls.push(`image.release ${containerId}`); },
      readFile: async () => undefined,
    },
    rootfs: {
      async mount(o) {
        f.calls.push(`rootfs.mount ${o.target}`);
        await f.hold['rootfs.mount'];
        failIf('rootfs.mount');
      },
      async unmount(target) { f.calls.push(`rootfs.unmount ${target}`); },
      copyImageVolume: async () => 'empty',
      resolveIn: async () => undefined,
    },
    handlers: { info: async (name) => ({ name, path: '/usr/local/bin/crun', version: 'crun 1.21' }) },
    volumes: { checkVolume: async () => undefined },
    devices: { node: async () => undefined, all: async () => ({}) },
    ownCapabilities: ['CAP_CHOWN', 'CAP_KILL'],
    logger: silentLogger,
    events: { emit: (e) => { f.events.push(e); } },
    locks: new KeyedLock(),
  });
  return { svc, store, pods, pod, f, dir };
}

function config(name: string, extra: Partial<ContainerConfig> = {}): ContainerConfig {
  return { metadata: { name, attempt: 0 }, image: { image: 'busybox' }, ...extra } as ContainerConfig;
}

/** Lets the event loop turn until cond holds; fails naming what it waited for after a bounded number of turns. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`never happened: ${what}`);
}

const codeOf = (code: string) => (err: unknown): boolean => err instanceof CriusError && err.code === code;

test('create, start, stop, remove: each step through the ports, state and events as the CRI expects', async (t) => {
  const { svc, store, pod, f } = setUp(t);
  const c = await svc.create(pod.id, config('app'), null);
  assert.equal(c.state, 'created');
  assert.equal(c.runtime.stopSignal, 'SIGQUIT', 'the image StopSignal');
  assert.deepEqual(c.runtime.done, ['image', 'dirs', 'rootfs', 'oci'], 'every side effect journalled');
  const spec = JSON.parse(readFileSync(join(c.runtime.bundle, 'config.json'), 'utf8')) as Spec;
  assert.deepEqual(spec.process?.args, ['/bin/sh']);
  assert.equal(spec.root?.path, c.runtime.rootfs);
  assert.equal(spec.linux?.cgroupsPath, `/crius/p/${c.id}`);
  assert.deepEqual(f.calls, [`image.use sha256:b ${c.id}`, `rootfs.mount ${c.runtime.rootfs}`, `oci.create crun ${c.id}`]);

  await svc.start(c.id);
  assert.equal(store.get(c.id)?.state, 'running');
  assert.equal(store.get(c.id)?.runtime.pid, 4242);

  await svc.stop(c.id, 10);
  const stopped = store.get(c.id)!;
  assert.equal(stopped.state, 'exited');
  assert.equal(stopped.exitCode, 0);
  assert.equal(stopped.reason, 'Completed');
  assert.ok(f.calls.includes(`oci.kill ${c.id} SIGQUIT`), 'stopped with the image StopSignal first');
  assert.ok(!f.calls.includes(`oci.kill ${c.id} SIGKILL`), 'no SIGKILL when the stop signal was enough');

  f.calls.length = 0;
  await svc.remove(c.id);
  assert.equal(store.get(c.id), undefined);
  assert.deepEqual(f.calls, [`oci.delete ${c.id}`, `oci.cleanup ${c.id}`, `rootfs.unmount ${c.runtime.rootfs}`, `image.release ${c.id}`]);
  assert.equal(existsSync(c.runtime.bundle), false);
  assert.equal(existsSync(c.runtime.dataDir), false);
  assert.deepEqual(f.events.map((e) => e.type), ['created', 'started', 'stopped', 'deleted']);
  assert.ok(f.events.every((e) => e.containerId === c.id && e.podId === pod.id));
});

test('a failing runtime create undoes every step done, keeps the code, names the container, and frees the name', async (t) => {
  const { svc, store, pod, f, dir } = setUp(t);
  f.fail['oci.create'] = new CriusError('FAILED_PRECONDITION', 'crun: cannot set up the container');
  await assert.rejects(svc.create(pod.id, config('app'), null), (err: unknown) =>
    codeOf('FAILED_PRECONDITION')(err) && /create container "app" in pod "default\/web".*crun: cannot set up the container/.test((err as Error).message));
  assert.deepEqual(store.list(), [], 'no row left');
  const id = f.calls.find((c) => c.startsWith('oci.create'))!.split(' ')[2]!;
  // Undo in reverse: the runtime's state (create may have got half-way), the rootfs, the dirs, the image.
  assert.deepEqual(f.calls.slice(3), [`oci.delete ${id}`, `oci.cleanup ${id}`, `rootfs.unmount ${join(dir, 'state', 'containers', id, 'rootfs')}`, `image.release ${id}`]);
  assert.equal(existsSync(join(dir, 'state', 'containers', id)), false, 'bundle removed');
  assert.equal(existsSync(join(dir, 'root', 'containers', id)), false, 'data dir removed');
  assert.deepEqual(f.events, [], 'no created/deleted events for a container that never was');
  // The name is free again.
  delete f.fail['oci.create'];
  const c = await svc.create(pod.id, config('app'), null);
  assert.equal(c.state, 'created');
});

test('a failing rootfs mount undoes only what was done: no runtime delete for a container never created there', async (t) => {
  const { svc, store, pod, f } = setUp(t);
  f.fail['rootfs.mount'] = new Error('mount: overlay: invalid argument');
  await assert.rejects(svc.create(pod.id, config('app'), null), (err: unknown) => codeOf('INTERNAL')(err) && /create container "app".*overlay: invalid argument/.test((err as Error).message));
  assert.deepEqual(store.list(), []);
  assert.equal(f.calls.filter((c) => c.startsWith('oci.')).length, 0, 'the runtime was never asked');
  assert.ok(f.calls.some((c) => c.startsWith('rootfs.unmount')), 'the half-made mount is taken apart');
  assert.ok(f.calls.some((c) => c.startsWith('image.release')));
});

test('a spec refused before anything exists leaves nothing and calls no mechanism', async (t) => {
  const { svc, store, pod, f } = setUp(t);
  await assert.rejects(svc.create(pod.id, config('dev', { devices: [{ host_path: '/dev/nope', container_path: '/dev/x', permissions: 'rw' }] } as Partial<ContainerConfig>), null),
    (err: unknown) => codeOf('NOT_FOUND')(err) && /create container "dev".*config\.devices\[0\]\.host_path: "\/dev\/nope" is not a device node/.test((err as Error).message));
  await assert.rejects(svc.create(pod.id, config('img', { image: { image: 'nginx' } } as Partial<ContainerConfig>), null), codeOf('NOT_FOUND'));
  await assert.rejects(svc.create(pod.id, config('noimg', { image: { image: '' } } as Partial<ContainerConfig>), null), codeOf('INVALID_ARGUMENT'));
  assert.deepEqual(store.list(), []);
  assert.deepEqual(f.calls, []);
});

test('NOT_FOUND and the other codes the CRI asks for', async (t) => {
  const { svc, pods, pod } = setUp(t);
  await assert.rejects(svc.start('f'.repeat(64)), codeOf('NOT_FOUND'));
  await assert.rejects(svc.updateResources('f'.repeat(64), {}), codeOf('NOT_FOUND'));
  await assert.rejects(svc.create('9'.repeat(64), config('x'), null), codeOf('NOT_FOUND'));
  // Stop and Remove of an unknown ID are OK, as the CRI asks.
  await svc.stop('f'.repeat(64), 0);
  await svc.remove('f'.repeat(64));
  const c = await svc.create(pod.id, config('app'), null);
  await svc.stop(c.id, 0);
  await assert.rejects(svc.start(c.id), (err: unknown) => codeOf('FAILED_PRECONDITION')(err) && /it is exited, only a created container can start/.test((err as Error).message));
  pods.setState(pod.id, 'notready');
  await assert.rejects(svc.create(pod.id, config('late'), null), (err: unknown) => codeOf('FAILED_PRECONDITION')(err) && /the pod is not ready/.test((err as Error).message));
});

test('name reservation: a create in progress holds the name; afterwards the store names the holder', async (t) => {
  const { svc, pod, f } = setUp(t);
  const mounting = gate();
  f.hold['rootfs.mount'] = mounting.wait;
  const first = svc.create(pod.id, config('app'), null);
  await until(() => f.calls.some((c) => c.startsWith('rootfs.mount')), 'the first create mounts its rootfs');
  await assert.rejects(svc.create(pod.id, config('app'), null), (err: unknown) => codeOf('ALREADY_EXISTS')(err) && /still in progress/.test((err as Error).message));
  // Another attempt is another name.
  const other = svc.create(pod.id, { ...config('app'), metadata: { name: 'app', attempt: 1 } }, null);
  mounting.open();
  const c = await first;
  await other;
  await assert.rejects(svc.create(pod.id, config('app'), null), (err: unknown) => codeOf('ALREADY_EXISTS')(err) && new RegExp(`already exists \\(${c.id}\\)`).test((err as Error).message));
  assert.equal(f.calls.filter((x) => x.startsWith('oci.create')).length, 2);
});

test('the container lock: a remove waits for a start in flight, and stop racing remove undoes once', async (t) => {
  const { svc, store, pod, f } = setUp(t);
  const c = await svc.create(pod.id, config('app'), null);
  const starting = gate();
  f.hold['oci.start'] = starting.wait;
  const start = svc.start(c.id);
  await until(() => f.calls.includes(`oci.start ${c.id}`), 'the start reaches the runtime');
  const remove = svc.remove(c.id);
  // The remove is queued behind the start's lock: nothing of it has run yet.
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.equal(f.calls.some((x) => x.startsWith('oci.kill') || x.startsWith('oci.delete')), false);
  starting.open();
  await start;
  await remove;
  const started = f.calls.indexOf(`oci.started ${c.id}`);
  const deleted = f.calls.indexOf(`oci.delete ${c.id}`);
  assert.ok(started >= 0 && deleted > started, `delete after the start finished: ${f.calls.join(', ')}`);
  assert.equal(store.get(c.id), undefined);

  const d = await svc.create(pod.id, config('two'), null);
  await svc.start(d.id);
  f.calls.length = 0;
  f.events.length = 0;
  await Promise.all([svc.stop(d.id, 0), svc.remove(d.id), svc.remove(d.id), svc.stop(d.id, 0)]);
  assert.equal(f.calls.filter((x) => x === `oci.delete ${d.id}`).length, 1, 'one undo');
  assert.equal(f.calls.filter((x) => x === `rootfs.unmount ${d.runtime.rootfs}`).length, 1);
  assert.deepEqual(f.events.map((e) => e.type), ['stopped', 'deleted']);
});
