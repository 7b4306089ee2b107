import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../../../src/store/db.js';
import { ContainerStore, CONTAINER_TRANSITIONS } from '../../../src/store/containers.js';
import { PodStore, POD_TRANSITIONS } from '../../../src/store/pods.js';
import { CriusError } from '../../../src/common/errors.js';

function stores(): { pods: PodStore<object, object>; containers: ContainerStore<object, object> } {
  const db = openDb(':memory:');
  const pods = new PodStore<object, object>(db);
  pods.insert({ id: 'p1' as never, name: 'p', namespace: 'ns', uid: 'u', attempt: 0, state: 'creating', createdAt: '1', handler: 'crun', config: {}, runtime: {} });
  const containers = new ContainerStore<object, object>(db);
  containers.insert({
    id: 'c1' as never, podId: 'p1' as never, name: 'c', attempt: 0, state: 'creating', imageRef: 'i', imageId: 'sha256:1', createdAt: '1',
    startedAt: '0', finishedAt: '0', exitCode: 0, reason: '', message: '', config: {}, runtime: {},
  });
  return { pods, containers };
}

test('container transitions follow the table: a late start never overwrites a recorded exit', () => {
  const { containers } = stores();
  const exit = { exitCode: 1, finishedAt: '5', reason: 'Error', message: '' };
  assert.equal(containers.setRunning('c1', '2', {}), false, 'creating cannot become running');
  assert.equal(containers.setCreated('c1', {}), true);
  assert.equal(containers.setCreated('c1', {}), false, 'created only once');
  assert.equal(containers.setExited('c1', exit), true, 'a created container may exit (killed before start)');
  assert.equal(containers.setRunning('c1', '3', {}), false);
  assert.equal(containers.get('c1')!.state, 'exited');
  assert.equal(containers.setExited('c1', { ...exit, exitCode: 2 }), false, 'the first exit recorded stays');
  assert.equal(containers.get('c1')!.exitCode, 1);
  assert.deepEqual(CONTAINER_TRANSITIONS.exited, []);
});

test('pod transitions follow the table: notready is final', () => {
  const { pods } = stores();
  assert.equal(pods.setState('p1', 'notready'), false, 'a pod being created is undone, not stopped');
  assert.equal(pods.setState('p1', 'ready'), true);
  assert.equal(pods.setState('p1', 'notready'), true);
  assert.equal(pods.setState('p1', 'notready'), false, 'once: the second caller learns it was not the one');
  assert.equal(pods.setState('p1', 'ready'), false);
  assert.deepEqual(POD_TRANSITIONS.notready, []);
});

test('a duplicate name is ALREADY_EXISTS naming the object, never a raw UNIQUE error', () => {
  const { pods, containers } = stores();
  assert.throws(() => pods.insert({ id: 'p2' as never, name: 'p', namespace: 'ns', uid: 'u', attempt: 0, state: 'creating', createdAt: '1', handler: 'crun', config: {}, runtime: {} }),
    (err: unknown) => err instanceof CriusError && err.code === 'ALREADY_EXISTS' && /pod "ns\/p"/.test(err.message) && !/UNIQUE/.test(err.message));
  assert.throws(() => containers.insert({
    id: 'c2' as never, podId: 'p1' as never, name: 'c', attempt: 0, state: 'creating', imageRef: 'i', imageId: 'sha256:1', createdAt: '1',
    startedAt: '0', finishedAt: '0', exitCode: 0, reason: '', message: '', config: {}, runtime: {},
  }), (err: unknown) => err instanceof CriusError && err.code === 'ALREADY_EXISTS' && /container "c"/.test(err.message));
});
