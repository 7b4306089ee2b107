import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriusError } from '../../../src/common/errors.js';
import { openDb } from '../../../src/store/db.js';
import { UsernsRangeStore } from '../../../src/store/userns-ranges.js';
import { createRangeAllocator } from '../../../src/userns/range-allocator.js';

const K = 65536;
const cfg = { start: 100 * K, length: 4 * K, idsPerPod: K };

describe('host ID range allocator', () => {
  it('hands out consecutive slots of ids_per_pod, lowest first, container ID 0', () => {
    const a = createRangeAllocator(openDb(':memory:'), cfg);
    assert.deepEqual(a.allocate('p1'), { containerId: 0, hostId: 100 * K, length: K });
    assert.deepEqual(a.allocate('p2'), { containerId: 0, hostId: 101 * K, length: K });
    assert.deepEqual(a.allocate('p3'), { containerId: 0, hostId: 102 * K, length: K });
  });

  it('is idempotent per owner', () => {
    const a = createRangeAllocator(openDb(':memory:'), cfg);
    const r = a.allocate('p1');
    assert.deepEqual(a.allocate('p1'), r);
    assert.equal(a.list().length, 1);
    assert.deepEqual(a.get('p1'), r);
    assert.equal(a.get('nobody'), undefined);
  });

  it('frees on release and reuses the freed slot', () => {
    const a = createRangeAllocator(openDb(':memory:'), cfg);
    a.allocate('p1'); a.allocate('p2'); a.allocate('p3');
    assert.equal(a.release('p2'), true);
    assert.equal(a.release('p2'), false);
    assert.equal(a.allocate('p4').hostId, 101 * K);
    assert.equal(a.allocate('p5').hostId, 103 * K);
  });

  it('fails RESOURCE_EXHAUSTED when full, naming the range and the fix', () => {
    const a = createRangeAllocator(openDb(':memory:'), cfg);
    for (const p of ['a', 'b', 'c', 'd']) a.allocate(p);
    assert.throws(() => a.allocate('e'), (err: unknown) => {
      assert.ok(err instanceof CriusError);
      assert.equal(err.code, 'RESOURCE_EXHAUSTED');
      assert.match(err.message, /no free host ID range of 65536 IDs for e: .*6553600\.\.6815743 holds 4 slots and 4 are in use/);
      return true;
    });
    a.release('c');
    assert.equal(a.allocate('e').hostId, 102 * K);
  });

  it('never overlaps live rows of another size or alignment (config changed between runs)', () => {
    const db = openDb(':memory:');
    const store = new UsernsRangeStore(db);
    // Left by an earlier config: a small range straddling slots 0 and 1, and one in slot 3.
    store.insert({ hostId: 100 * K + 1000, length: K, owner: 'old1', allocatedAt: 1 });
    store.insert({ hostId: 103 * K, length: 10, owner: 'old2', allocatedAt: 1 });
    const a = createRangeAllocator(db, cfg);
    assert.equal(a.allocate('n1').hostId, 102 * K);
    assert.throws(() => a.allocate('n2'), /RESOURCE|no free/);
    const rows = a.list();
    for (const x of rows) {
      for (const y of rows) {
        if (x === y) continue;
        assert.ok(x.hostId + x.length <= y.hostId || y.hostId + y.length <= x.hostId, `${x.owner} and ${y.owner} overlap`);
      }
    }
  });

  it('unaligned start and ids_per_pod work (no 65536 rule)', () => {
    const a = createRangeAllocator(openDb(':memory:'), { start: 1000, length: 300000, idsPerPod: 100000 });
    assert.deepEqual([a.allocate('x').hostId, a.allocate('y').hostId, a.allocate('z').hostId], [1000, 101000, 201000]);
    assert.throws(() => a.allocate('w'), /no free/);
  });

  it('releaseAllExcept frees orphans only', () => {
    const a = createRangeAllocator(openDb(':memory:'), cfg);
    a.allocate('live'); a.allocate('gone1'); a.allocate('gone2');
    assert.deepEqual(a.releaseAllExcept(new Set(['live'])).sort(), ['gone1', 'gone2']);
    assert.deepEqual(a.list().map((r) => r.owner), ['live']);
  });

  it('survives reopening the database', () => {
    const dir = mkdtempSync(join(tmpdir(), 'crius-ranges-'));
    try {
      const path = join(dir, 'crius.db');
      const db1 = openDb(path);
      const a1 = createRangeAllocator(db1, cfg);
      const r1 = a1.allocate('p1');
      a1.allocate('p2');
      a1.release('p2');
      db1.close();
      const db2 = openDb(path);
      const a2 = createRangeAllocator(db2, cfg);
      assert.deepEqual(a2.get('p1'), r1);
      assert.equal(a2.allocate('p3').hostId, 101 * K);
      db2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects configs that would map host root or reach 2^32-1', () => {
    const db = openDb(':memory:');
    assert.throws(() => createRangeAllocator(db, { start: 0, length: K, idsPerPod: K }), /subid_start is 0/);
    assert.throws(() => createRangeAllocator(db, { start: 4294901760, length: K, idsPerPod: K }), /reaches 4294967295/);
    assert.throws(() => createRangeAllocator(db, { start: K, length: K, idsPerPod: 2 * K }), /ids_per_pod is 131072/);
  });

  it('the table refuses a row reaching 4294967295 even if code misbehaves', () => {
    const store = new UsernsRangeStore(openDb(':memory:'));
    assert.throws(() => store.insert({ hostId: 4294901760, length: K, owner: 'x', allocatedAt: 0 }), /CHECK constraint/);
  });
});
