// Which daemon a command talks to. --socket or $CRIUS_SOCKET win; otherwise the system daemon at
// /run/crius/crius.sock, else a private daemon `crius run` started earlier (/run/crius-run). `crius run`
// starts that private daemon when nothing listens, in the background so --detach'ed pods keep running
// and later `crius ps/logs/rm` find it.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { criusdEntry, daemonNodeFlags } from '../common/install-root.js';
import { connectCri, DEFAULT_SOCKET } from './client.js';

const PRIVATE_DIR = '/run/crius-run';
const PRIVATE_SOCKET = join(PRIVATE_DIR, 'crius.sock');

/** Whether a CRI daemon answers on the socket (Version within the timeout). */
export async function listening(socket: string, timeoutMs = 3000): Promise<boolean> {
  if (!existsSync(socket.replace(/^unix:\/\//, ''))) return false;
  const c = connectCri(socket);
  try {
    await c.call('runtime', 'Version', {}, timeoutMs);
    return true;
  } catch {
    return false;
  } finally {
    c.close();
  }
}

interface SocketChoice { socket: string; explicit: boolean }

export async function chooseSocket(flag: string | undefined): Promise<SocketChoice> {
  const given = flag ?? process.env['CRIUS_SOCKET'];
  if (given) return { socket: given, explicit: true };
  if (await listening(DEFAULT_SOCKET)) return { socket: DEFAULT_SOCKET, explicit: false };
  if (await listening(PRIVATE_SOCKET)) return { socket: PRIVATE_SOCKET, explicit: false };
  return { socket: DEFAULT_SOCKET, explicit: false };
}

interface PrivateDaemon { socket: string; pid: number; log: string; root: string; state: string }

/** Starts criusd in the background on the private socket and waits until it serves. */
export async function startPrivateDaemon(timeoutMs = 60_000): Promise<PrivateDaemon> {
  mkdirSync(PRIVATE_DIR, { recursive: true, mode: 0o711 });
  const root = '/var/lib/crius-run';
  const state = join(PRIVATE_DIR, 'state');
  const log = join(PRIVATE_DIR, 'criusd.log');
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, [...daemonNodeFlags(), criusdEntry(), '--socket', PRIVATE_SOCKET, '--root', root, '--state', state], {
    detached: true, stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exited: number | null | undefined;
  child.once('exit', (code) => { exited = code; });
  child.unref();
  const pid = child.pid ?? -1;
  writeFileSync(join(PRIVATE_DIR, 'criusd.pid'), `${pid}\n`);
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (exited !== undefined) throw new Error(`the private daemon exited (code ${exited}) during start-up; see ${log}`);
    if (await listening(PRIVATE_SOCKET, 1000)) return { socket: PRIVATE_SOCKET, pid, log, root, state };
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the private daemon did not serve ${PRIVATE_SOCKET} within ${timeoutMs / 1000} s; see ${log}`);
}

