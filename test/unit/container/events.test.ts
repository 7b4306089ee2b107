import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContainerEvents, SubscriberOverrun, type ContainerEvent } from '../../../src/container/events.js';

const ev = (n: number): ContainerEvent => ({ containerId: `c${n}`, podId: 'p', type: 'created', at: BigInt(n) });

test('every subscriber gets every event in order', async () => {
  const e = new ContainerEvents();
  const a = e.subscribe();
  const b = e.subscribe();
  const pending = a.next();
  e.emit(ev(1));
  e.emit(ev(2));
  assert.equal((await pending)?.containerId, 'c1');
  assert.equal((await a.next())?.containerId, 'c2');
  assert.equal((await b.next())?.containerId, 'c1');
  assert.equal((await b.next())?.containerId, 'c2');
  a.close();
  assert.equal(await a.next(), undefined);
  assert.equal(e.subscribers(), 1);
});

test('a subscriber that falls behind is cut off; others and the emitter are unaffected', async () => {
  const e = new ContainerEvents();
  const slow = e.subscribe(3);
  const fast = e.subscribe(3);
  for (let i = 0; i < 10; i++) {
    e.emit(ev(i));
    assert.equal((await fast.next())?.containerId, `c${i}`);
  }
  assert.equal(slow.overrun, true);
  await assert.rejects(slow.next(), SubscriberOverrun);
  assert.equal(e.subscribers(), 1);
});

test('close wakes a waiting reader', async () => {
  const e = new ContainerEvents();
  const s = e.subscribe();
  const p = s.next();
  s.close();
  assert.equal(await p, undefined);
  assert.equal(e.subscribers(), 0);
});
