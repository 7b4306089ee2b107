import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { recoverContainer, LOST_EXIT_CODE } from '../../../src/oci/recovery.js';
import { processStartTime } from '../../../src/oci/process-liveness.js';

describe('container recovery after a daemon restart', () => {
  it('running while conmon lives, exited once the exit file exists, lost (255) when conmon vanished without one', async () => {
    const exitDir = await mkdtemp(path.join(tmpdir(), 'crius-recover-'));
    try {
      const me = { pid: process.pid, startTime: await processStartTime(process.pid) };
      assert.ok(me.startTime);
      assert.deepEqual(await recoverContainer('c1', { exitDir }, me), { state: 'running' });
      const gone = { pid: process.pid, startTime: '1' };
      const lost = await recoverContainer('c1', { exitDir }, gone);
      assert.equal(lost.state, 'lost');
      assert.equal(lost.state === 'lost' ? lost.exit.exitCode : 0, LOST_EXIT_CODE);
      await writeFile(path.join(exitDir, 'c1'), '3');
      const exited = await recoverContainer('c1', { exitDir }, gone);
      assert.equal(exited.state, 'exited');
      assert.equal(exited.state === 'exited' ? exited.exit.exitCode : -1, 3);
      assert.equal((await recoverContainer('c1', { exitDir }, me)).state, 'exited', 'an exit file wins over a live conmon');
    } finally {
      await rm(exitDir, { recursive: true, force: true });
    }
  });
});
