// SandboxService with fake mechanisms: CNI DEL runs once per pod whether or not StopPodSandbox came
// first, and undoing a pod a crash caught inside namespaces.create unpins the namespace files anyway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openDb } from '../../../src/store/db.js';
import { PodStore } from '../../../src/store/pods.js';
import { SandboxService } from '../../../src/pod/sandbox-service.js';
import { silentLogger } from '../../../src/common/logger.js';
import type { PodNamespacePaths, PodConfig, PodRuntime, Pod } from '../../../src/pod/types.js';
import { KeyedLock } from '../../../src/common/keyed-lock.js';
import type { NamespaceRequest } from '../../../src/pod/ports.js';

interface Calls {
  cniAdd: number;
  cniDel: number;
  nsRemoved: PodNamespacePaths[];
  nsCreated?: NamespaceRequest[];
  shmUnmounted?: string[];
  /** Make namespaces.create fail (after recording the request). */
  failNamespaces?: boolean;
}

function service(stateDir: string, calls: Calls, store = new PodStore<PodConfig, PodRuntime>(openDb(':memory:'))): { svc: SandboxService; store: PodStore<PodConfig, PodRuntime> } {
  const svc = new SandboxService({
    pods: store,
    stateDir,
    resolveHandler: (n) => (n === '' ? 'crun' : n),
    namespaces: {
      create: async (req) => {
        calls.nsCreated?.push(req);
        if (calls.failNamespaces) throw new Error('crius-podns: boom');
        return { paths: { net: join(req.dir, 'net'), ipc: join(req.dir, 'ipc'), uts: join(req.dir, 'uts') }, netnsOwnedByUserns: true };
      },
      remove: async (paths) => { calls.nsRemoved.push(paths); },
    },
    network: {
      ready: async () => ({ ready: true }),
      add: async () => { calls.cniAdd++; return { ips: ['10.0.0.2'] }; },
      remove: async () => { calls.cniDel++; },
    },
    shm: { unmount: async (d) => { calls.shmUnmounted?.push(d); } },
    cgroups: { podParent: (id) => `/crius/${id}`, removePod: async () => undefined },
    containers: { stopAll: async () => undefined, removeAll: async () => undefined },
    infra: { start: async () => ({ containerId: 'x', pid: 1 }), stop: async () => undefined, remove: async () => undefined, alive: async () => true },
    logger: silentLogger,
    locks: new KeyedLock(),
  });
  return { svc, store };
}

function config(name: string): PodConfig {
  return {
    metadata: { name, namespace: 'ns', uid: `uid-${name}`, attempt: 0 },
    hostname: name,
    linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } },
  } as PodConfig; // the fields these tests need; the service reads nothing else
}

test('CNI DEL runs once: at StopPodSandbox, not again at RemovePodSandbox; and once at a remove without stop', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-sbx-'));
  try {
    const calls: Calls = { cniAdd: 0, cniDel: 0, nsRemoved: [] };
    const { svc } = service(dir, calls);
    const a = await svc.run(config('a'), '');
    await svc.stop(a.id);
    await svc.stop(a.id);
    assert.equal(calls.cniDel, 1);
    await svc.remove(a.id);
    assert.equal(calls.cniDel, 1, 'no second DEL at remove');
    const b = await svc.run(config('b'), '');
    await svc.remove(b.id);
    assert.equal(calls.cniDel, 2, 'remove without stop still DELs');
    assert.equal(calls.cniAdd, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('recover() unpins every namespace name of a pod whose crash came before its paths were recorded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-sbx-'));
  try {
    const calls: Calls = { cniAdd: 0, cniDel: 0, nsRemoved: [] };
    const store = new PodStore<PodConfig, PodRuntime>(openDb(':memory:'));
    const runDir = join(dir, 'pods', 'p1');
    const pod: Pod = {
      id: 'p1' as Pod['id'], name: 'p', namespace: 'ns', uid: 'u', attempt: 0, state: 'creating', createdAt: '1', handler: 'crun',
      config: config('p'),
      runtime: { runDir, userns: { kind: 'host' }, namespaces: {}, netnsOwnedByUserns: false, cgroupParent: '/crius/p1', done: ['rundir', 'shm', 'namespaces'] },
    };
    store.insert(pod);
    const { svc } = service(dir, calls, store);
    await svc.recover();
    assert.deepEqual(calls.nsRemoved, [{ net: join(runDir, 'ns', 'net'), ipc: join(runDir, 'ns', 'ipc'), uts: join(runDir, 'ns', 'uts'), user: join(runDir, 'ns', 'user') }]);
    assert.equal(calls.cniDel, 0, 'no DEL: the network step was never reached');
    assert.equal(store.list().length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the pod\'s /dev/shm is asked of the namespace call (owned by the pod\'s root), and a failed call undoes both', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-sbx-'));
  try {
    const calls: Calls = { cniAdd: 0, cniDel: 0, nsRemoved: [], nsCreated: [], shmUnmounted: [] };
    const { svc, store } = service(dir, calls);
    const range = { container_id: 0, host_id: 200000, length: 65536 };
    const cfg = config('a');
    cfg.linux!.security_context!.namespace_options = { pid: 'CONTAINER', userns_options: { mode: 'POD', uids: [range], gids: [range] } } as never;
    const a = await svc.run(cfg, '');
    const req = calls.nsCreated![0]!;
    assert.deepEqual(req.shm, { dir: join(a.runtime.runDir, 'shm'), sizeBytes: 64 * 1024 * 1024, owner: { uid: 200000, gid: 200000 } });
    assert.equal(a.runtime.files?.shm, join(a.runtime.runDir, 'shm'));
    assert.ok(a.runtime.done.includes('shm') && a.runtime.done.includes('namespaces'));
    // Host IPC: no pod /dev/shm.
    const h = config('h');
    h.linux!.security_context!.namespace_options = { pid: 'CONTAINER', ipc: 'NODE' } as never;
    const hp = await svc.run(h, '');
    assert.equal(calls.nsCreated![1]!.shm, undefined);
    assert.equal(hp.runtime.files?.shm, undefined);
    calls.failNamespaces = true;
    await assert.rejects(svc.run(config('f'), ''), /boom/);
    assert.deepEqual(calls.shmUnmounted, [calls.nsCreated![2]!.shm!.dir], 'the shm tmpfs the failed call may have mounted is unmounted');
    assert.equal(calls.nsRemoved.length, 1, 'the namespace files are unpinned too');
    assert.equal(store.list().length, 2, 'the failed pod is forgotten');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
