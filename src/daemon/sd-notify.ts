// Readiness for systemd (Type=notify): once the CRI socket serves, tell the service manager. Node has no
// unix datagram sockets, so systemd-notify sends it; it waits until systemd has processed the message
// (it exits only after the barrier), so the message is attributed to this service even though the
// sender exits at once (the unit needs NotifyAccess=all). --pid names the daemon as the main process.
import { existsSync } from 'node:fs';
import type { Logger } from '../common/logger.js';
import { run, type Runner } from '../common/exec.js';

export async function notifyReady(logger: Logger, runner: Runner = run, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const socket = env['NOTIFY_SOCKET'];
  if (!socket) return false;
  // Children (CNI plugins, hooks) must not talk to systemd on our behalf.
  delete env['NOTIFY_SOCKET'];
  const tool = ['/usr/bin/systemd-notify', '/bin/systemd-notify'].find((p) => existsSync(p));
  if (!tool) {
    logger.warn('NOTIFY_SOCKET is set but systemd-notify is missing: systemd will not see crius as started', {});
    return false;
  }
  try {
    await runner(tool, ['--ready', `--pid=${process.pid}`, '--status=serving CRI'], { timeoutMs: 30_000, env: { ...env, NOTIFY_SOCKET: socket } });
    return true;
  } catch (err) {
    logger.warn('telling systemd that crius is ready failed', { error: (err as Error).message });
    return false;
  }
}
