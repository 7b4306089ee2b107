import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { migrate, openDb } from '../../../src/store/db.js';
import { getMeta, setMeta } from '../../../src/store/meta.js';

test('migrations apply once, in order, and survive reopening', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-db-'));
  try {
    const path = join(dir, 'crius.db');
    const db = openDb(path);
    setMeta(db, 'k', 'v1');
    setMeta(db, 'k', 'v2');
    db.close();
    const again = openDb(path);
    assert.equal(getMeta(again, 'k'), 'v2');
    assert.ok((again.pragma('user_version', { simple: true }) as number) >= 1);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a gap in migration numbers and a newer schema are refused', () => {
  const db = openDb(':memory:', []);
  assert.throws(() => migrate(db, [{ version: 2, name: 'x', sql: '' }]), /numbered 1\.\.N without gaps/);
  migrate(db, [{ version: 1, name: 'a', sql: 'CREATE TABLE a (x INTEGER)' }]);
  assert.throws(() => migrate(db, []), /schema is version 1, newer than this crius knows \(0\)/);
  db.close();
});

test('a failing migration leaves the schema version unchanged', () => {
  const db = openDb(':memory:', []);
  assert.throws(() => migrate(db, [{ version: 1, name: 'bad', sql: 'CREATE TABLE t (x); NOT SQL' }]));
  assert.equal(db.pragma('user_version', { simple: true }), 0);
  db.close();
});
