import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExitWatcher, readExit, type ExitEvent } from '../../../src/oci/exit-files.js';

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('exit files', () => {
  it('reports files present at start, new ones, once each; an empty file only once written; forget re-arms', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'crius-exits-'));
    try {
      await writeFile(path.join(dir, 'old'), '0');
      const w = new ExitWatcher(dir, 100);
      const events: ExitEvent[] = [];
      w.on('exit', (e: ExitEvent) => events.push(e));
      w.start();
      try {
        await until(() => events.length === 1);
        assert.deepEqual(events[0], { id: 'old', exitCode: 0 });
        await writeFile(path.join(dir, 'half'), '');
        await writeFile(path.join(dir, 'new'), '137');
        await until(() => events.some((e) => e.id === 'new'));
        // A scan of our own (not a wait on the clock) has read 'half' too: empty, so not an exit yet.
        await w.scan();
        assert.equal(events.some((e) => e.id === 'half'), false);
        await writeFile(path.join(dir, 'half'), '1');
        await until(() => events.some((e) => e.id === 'half'));
        await w.scan();
        assert.equal(events.filter((e) => e.id === 'new').length, 1, 'no duplicates');
        w.forget('new');
        await w.scan();
        assert.equal(events.filter((e) => e.id === 'new').length, 2);
      } finally {
        w.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads an exit with its time and OOM flag, falling back to the persist dir copy', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'crius-exits-'));
    try {
      const exitDir = path.join(dir, 'exits');
      const persistDir = path.join(dir, 'p');
      await mkdir(exitDir);
      await mkdir(persistDir);
      assert.equal(await readExit('c1', { exitDir, persistDir }), undefined);
      await writeFile(path.join(persistDir, 'exit'), '137');
      await writeFile(path.join(persistDir, 'oom'), '');
      const e = await readExit('c1', { exitDir, persistDir });
      assert.equal(e?.exitCode, 137);
      assert.equal(e?.oomKilled, true);
      assert.ok(e && Math.abs(e.finishedAt.getTime() - Date.now()) < 10_000);
      assert.equal(e?.finishedAtNs.slice(0, 10), String(Math.floor((e?.finishedAt.getTime() ?? 0) / 1000)));
      await writeFile(path.join(exitDir, 'c1'), '2');
      assert.equal((await readExit('c1', { exitDir, persistDir }))?.exitCode, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
