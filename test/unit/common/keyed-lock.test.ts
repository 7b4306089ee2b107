import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedLock } from '../../../src/common/keyed-lock.js';

/** A promise and its resolver, to hold a lock until the test says so. */
function gate(): { open: () => void; wait: Promise<void> } {
  let open!: () => void;
  const wait = new Promise<void>((r) => { open = r; });
  return { open, wait };
}

test('exclusive holders of one key run one after another, in arrival order', async () => {
  const lock = new KeyedLock();
  const order: string[] = [];
  const g = gate();
  const a = lock.exclusive('k', async () => { order.push('a start'); await g.wait; order.push('a end'); });
  const b = lock.exclusive('k', async () => { order.push('b'); });
  const c = lock.exclusive('k', async () => { order.push('c'); });
  await Promise.resolve();
  assert.deepEqual(order, ['a start']);
  g.open();
  await Promise.all([a, b, c]);
  assert.deepEqual(order, ['a start', 'a end', 'b', 'c']);
  assert.equal(lock.busy('k'), false, 'a free key leaves no entry behind');
});

test('different keys do not wait for each other', async () => {
  const lock = new KeyedLock();
  const g = gate();
  const a = lock.exclusive('x', () => g.wait);
  let ran = false;
  await lock.exclusive('y', async () => { ran = true; });
  assert.equal(ran, true);
  g.open();
  await a;
});

test('shared holders run together; an exclusive waits for all of them, and later shared ones queue behind it', async () => {
  const lock = new KeyedLock();
  const order: string[] = [];
  const g1 = gate();
  const g2 = gate();
  const s1 = lock.shared('p', async () => { order.push('s1'); await g1.wait; order.push('s1 end'); });
  const s2 = lock.shared('p', async () => { order.push('s2'); await g2.wait; order.push('s2 end'); });
  const x = lock.exclusive('p', async () => { order.push('x'); });
  const s3 = lock.shared('p', async () => { order.push('s3'); });
  await Promise.resolve();
  assert.deepEqual(order, ['s1', 's2']);
  g1.open();
  await s1;
  assert.ok(!order.includes('x'), 'the exclusive holder waits for the second shared one');
  g2.open();
  await Promise.all([s2, x, s3]);
  assert.deepEqual(order, ['s1', 's2', 's1 end', 's2 end', 'x', 's3']);
});

test('a holder that throws releases the lock and its error reaches only its caller', async () => {
  const lock = new KeyedLock();
  await assert.rejects(lock.exclusive('k', async () => { throw new Error('boom'); }), /boom/);
  assert.equal(await lock.exclusive('k', async () => 7), 7);
  assert.equal(lock.busy('k'), false);
});
