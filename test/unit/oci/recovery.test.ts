import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { recoverContainer, LOST_EXIT_CODE, REBOOT_REASON } from '../../../src/oci/recovery.js';
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

  it('after a reboot the recorded conmon means nothing: lost with exit 255 and reason "node rebooted", unless an exit was recorded', async () => {
    const exitDir = await mkdtemp(path.join(tmpdir(), 'crius-recover-'));
    try {
      // The pid and start time of a live process: after a reboot they belong to something else.
      const me = { pid: process.pid, startTime: await processStartTime(process.pid) };
      const lost = await recoverContainer('c1', { exitDir }, me, true);
      assert.equal(lost.state, 'lost');
      if (lost.state === 'lost') {
        assert.equal(lost.exit.exitCode, LOST_EXIT_CODE);
        assert.equal(lost.reason, REBOOT_REASON);
        assert.equal(REBOOT_REASON, 'node rebooted');
      }
      await writeFile(path.join(exitDir, 'c1'), '0');
      assert.equal((await recoverContainer('c1', { exitDir }, me, true)).state, 'exited', 'an exit recorded before the reboot stands');
    } finally {
      await rm(exitDir, { recursive: true, force: true });
    }
  });
});
