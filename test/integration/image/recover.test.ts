// Start-up recovery: temp blobs and half-unpacked layers from a crash are deleted, never trusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore } from '../../../src/image/image-store.js';
import { openDb } from '../../../src/store/db.js';

test('recover() removes ingest temp files and .tmp- layer dirs, keeps complete ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-recover-'));
  const db = openDb(join(dir, 'crius.db'));
  try {
    const store = new ImageStore({ root: join(dir, 'images'), db });
    writeFileSync(join(store.content.ingestDir, '123-abc'), 'half a blob');
    const half = join(store.layersDir, `${'a'.repeat(64)}.tmp-0011aa`);
    mkdirSync(join(half, 'fs', 'usr'), { recursive: true });
    const whole = join(store.layersDir, 'b'.repeat(64));
    mkdirSync(join(whole, 'fs'), { recursive: true });
    store.recover();
    assert.deepEqual(readdirSync(store.content.ingestDir), []);
    assert.ok(!existsSync(half));
    assert.ok(existsSync(whole));
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
