import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { notifyReady } from '../../../src/daemon/sd-notify.js';
import { createLogger } from '../../../src/common/logger.js';

test('readiness: nothing without NOTIFY_SOCKET; with it, systemd-notify --ready --pid and the variable is removed for children', async () => {
  const calls: { args: readonly string[]; socket?: string }[] = [];
  const runner = async (_file: string, args: readonly string[], o?: { env?: NodeJS.ProcessEnv }) => {
    calls.push({ args, ...(o?.env?.['NOTIFY_SOCKET'] ? { socket: o.env['NOTIFY_SOCKET'] } : {}) });
    return { stdout: '', stderr: '', code: 0 };
  };
  const logger = createLogger('error', () => {});
  assert.equal(await notifyReady(logger, runner, {}), false);
  assert.equal(calls.length, 0);
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/systemd/notify' };
  const sent = await notifyReady(logger, runner, env);
  assert.equal(env['NOTIFY_SOCKET'], undefined, 'children do not inherit NOTIFY_SOCKET');
  if (!existsSync('/usr/bin/systemd-notify') && !existsSync('/bin/systemd-notify')) {
    assert.equal(sent, false);
    return;
  }
  assert.equal(sent, true);
  assert.deepEqual(calls, [{ args: ['--ready', `--pid=${process.pid}`, '--status=serving CRI'], socket: '/run/systemd/notify' }]);
});
