import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../../../src/store/db.js';
import { PodStore } from '../../../src/store/pods.js';

test('the store prepares each SQL text once and the shared statements keep answering correctly', () => {
  const db = openDb(':memory:');
  try {
    assert.equal(db.prepare('SELECT 1 AS x'), db.prepare('SELECT 1 AS x'), 'one Statement per SQL text');
    assert.notEqual(db.prepare('SELECT 1 AS x'), db.prepare('SELECT 2 AS x'));
    const pods = new PodStore<{ n: number }, { ip?: string }>(db);
    for (let i = 0; i < 50; i++) {
      pods.insert({ id: `p${i}` as never, name: `n${i}`, namespace: 'ns', uid: `u${i}`, attempt: 0, state: 'creating', createdAt: String(1000 + i), handler: '', config: { n: i }, runtime: {} });
    }
    // Interleaved uses of the same statements (get inside a map over list) see their own arguments.
    const seen = pods.list().map((p) => pods.get(p.id)!.config.n);
    assert.deepEqual(seen, Array.from({ length: 50 }, (_, i) => i));
    assert.equal(pods.setState('p3', 'ready'), true);
    assert.equal(pods.setState('p3', 'ready'), false, 'a guarded transition still guards');
    pods.setRuntime('p3', { ip: '10.0.0.3' });
    assert.equal(pods.get('p3')?.runtime.ip, '10.0.0.3');
    pods.delete('p3');
    assert.equal(pods.get('p3'), undefined);
    assert.equal(pods.list().length, 49);
    assert.throws(() => pods.insert({ id: 'p4' as never, name: 'n4', namespace: 'ns', uid: 'u4', attempt: 0, state: 'creating', createdAt: '1', handler: '', config: { n: 4 }, runtime: {} }), /already exists/);
  } finally {
    db.close();
  }
});

test('the hot statements of a node with many pods use indexes (no full scan, no sort per call)', () => {
  const db = openDb(':memory:');
  try {
    const plan = (sql: string, args: unknown[] = []): string =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail).join(' | ');
    // ListPodSandbox, ListContainers and every stats call list every row in creation order.
    assert.doesNotMatch(plan('SELECT * FROM pods ORDER BY created_at'), /TEMP B-TREE/);
    assert.doesNotMatch(plan('SELECT * FROM containers ORDER BY created_at'), /TEMP B-TREE/);
    // Every container removal releases its image.
    assert.match(plan('DELETE FROM image_users WHERE user_id = ?', ['c']), /USING (COVERING )?INDEX/);
  } finally {
    db.close();
  }
});
