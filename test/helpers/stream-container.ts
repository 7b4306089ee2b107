// A throwaway busybox container run by crun under conmon, for the streaming backends' integration tests.
// Runs crun through native/crius-oci-wrap with the cgroup2 "unified" mount hidden (crun refuses hybrid
// cgroups) and --cgroup-manager=disabled, so the container stays inside our own cgroup.
import { CONMON, CRUN } from './host-binaries.js';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from '../../src/common/exec.js';
import { createRuntimeExecBackend } from '../../src/stream/exec-runtime.js';
import { createConmonAttachBackend } from '../../src/stream/attach-conmon.js';
import { createNetnsPortForwardBackend } from '../../src/stream/portforward-netns.js';
import { nativeBuildPath } from '../../src/common/install-root.js';
import { pidAlive } from './daemon.js';

export const OCI_WRAP = nativeBuildPath('crius-oci-wrap');
export const PTY_HELPER = nativeBuildPath('crius-pty');
export const RELAY_HELPER = nativeBuildPath('crius-relay');

/** Why the fixture cannot run here, or null. */
export function streamContainerUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const f of [CRUN, CONMON, '/bin/busybox', OCI_WRAP, PTY_HELPER, RELAY_HELPER]) {
    if (!existsSync(f)) return `${f} is missing (native helpers: make -C native)`;
  }
  return null;
}

export interface StreamContainer {
  id: string;
  dir: string;
  bundle: string;
  runtimeArgs: string[];
  runtimeCommand(args: string[]): { file: string; args: string[] };
  attachSocket: string;
  ctlFifo: string;
  cleanup(): Promise<void>;
}

const OWNER_FILE = 'owner.pid';

/**
 * Removes containers left by a test process that was killed before its `after` hooks ran (a timeout, a
 * SIGKILL): every crius-stream-* dir whose owner process is gone has its container deleted (conmon then
 * exits by itself) and the dir removed.
 */
async function sweepStaleStreamContainers(): Promise<void> {
  const { readdir } = await import('node:fs/promises');
  for (const name of await readdir(tmpdir())) {
    if (!name.startsWith('crius-stream-')) continue;
    const dir = path.join(tmpdir(), name);
    let owner = 0;
    try { owner = Number((await readFile(path.join(dir, OWNER_FILE), 'utf8')).trim()); } catch { continue; }
    if (owner > 0 && pidAlive(owner)) continue;
    const id = `st-${name.slice(-6).toLowerCase()}`;
    await run(OCI_WRAP, ['--hide', '/sys/fs/cgroup/unified', CRUN, `--root=${path.join(dir, 'state')}`, '--cgroup-manager=disabled', 'delete', '--force', id], { okCodes: [0, 1] })
      .catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

export async function startStreamContainer(args: string[], opts: { terminal?: boolean } = {}): Promise<StreamContainer> {
  await sweepStaleStreamContainers();
  const dir = await mkdtemp(path.join(tmpdir(), 'crius-stream-'));
  await writeFile(path.join(dir, OWNER_FILE), String(process.pid));
  const id = `st-${path.basename(dir).slice(-6).toLowerCase()}`;
  const bundle = path.join(dir, 'b');
  const rootfs = path.join(bundle, 'rootfs');
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp']) await mkdir(path.join(rootfs, d), { recursive: true });
  await copyFile('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  for (const c of ['sh', 'cat', 'echo', 'sleep', 'stty', 'true', 'head', 'id', 'ps', 'read', 'tr']) {
    await symlink('busybox', path.join(rootfs, 'bin', c)).catch(() => undefined);
  }
  await run(CRUN, ['spec'], { cwd: bundle });
  const spec = JSON.parse(await readFile(path.join(bundle, 'config.json'), 'utf8')) as {
    process: { args: string[]; terminal: boolean }; root: { readonly: boolean }; linux: Record<string, unknown>;
  };
  spec.process.args = args;
  spec.process.terminal = opts.terminal ?? false;
  spec.root.readonly = false;
  delete spec.linux['resources'];
  await writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec));
  const state = path.join(dir, 'state');
  const runtimeArgs = ['--hide', '/sys/fs/cgroup/unified', CRUN, `--root=${state}`, '--cgroup-manager=disabled'];
  const runtimeCommand = (a: string[]): { file: string; args: string[] } => ({ file: OCI_WRAP, args: [...runtimeArgs, ...a] });
  await mkdir(path.join(dir, 'exits'));
  await mkdir(path.join(dir, 'sock'));
  await run(CONMON, [
    '-c', id, '-u', id, '-n', id, '-r', OCI_WRAP, ...runtimeArgs.flatMap((a) => ['--runtime-arg', a]),
    '-b', bundle, '-p', path.join(bundle, 'pidfile'), '-P', path.join(dir, 'conmon.pid'),
    '-l', `k8s-file:${path.join(dir, 'ctr.log')}`, '--exit-dir', path.join(dir, 'exits'),
    '--socket-dir-path', path.join(dir, 'sock'), '-i', ...(opts.terminal ? ['-t'] : []),
  ], { timeoutMs: 15_000 });
  const c: StreamContainer = {
    id, dir, bundle, runtimeArgs, runtimeCommand,
    attachSocket: path.join(bundle, 'attach'),
    ctlFifo: path.join(bundle, 'ctl'),
    cleanup: async () => {
      const del = runtimeCommand(['delete', '--force', id]);
      await run(del.file, del.args, { okCodes: [0, 1] }).catch(() => undefined);
      try {
        const pid = Number((await readFile(path.join(dir, 'conmon.pid'), 'utf8')).trim());
        if (pid > 1) process.kill(pid, 'SIGKILL');
      } catch { /* already gone */ }
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    // conmon returns after its double fork, before the runtime's `create` finished; the runtime writes the
    // pid file when the container exists (a test fixture can poll; crius itself reads conmon's sync pipe).
    const pidFile = path.join(bundle, 'pidfile');
    for (let i = 0; i < 200 && !(existsSync(pidFile) && (await readFile(pidFile, 'utf8')).trim() !== ''); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    const start = runtimeCommand(['start', id]);
    await run(start.file, start.args);
  } catch (err) {
    await c.cleanup();
    throw err;
  }
  return c;
}

/** Host PIDs whose command line is exactly `argv` (to prove an exec'd process is gone). */
export async function pidsWithCmdline(argv: string[]): Promise<number[]> {
  const { readdir } = await import('node:fs/promises');
  const want = argv.join('\0') + '\0';
  const out: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(e)) continue;
    try {
      if ((await readFile(`/proc/${e}/cmdline`, 'utf8')) === want) out.push(Number(e));
    } catch { /* exited */ }
  }
  return out;
}

/**
 * A TCP server inside a network namespace for port-forward tests: answers "pong:<request>" once the client
 * half-closes. It exits when its stdin closes, so it cannot outlive a test process that was killed.
 */
export async function startPodServer(netns: string, port: number): Promise<import('node:child_process').ChildProcess> {
  const { spawn } = await import('node:child_process');
  const script = "process.stdin.on('end',()=>process.exit(0));process.stdin.resume();" +
    "require('net').createServer(s=>{let b='';s.on('data',d=>b+=d);s.on('end',()=>s.end('pong:'+b))})" +
    `.listen(${port},'127.0.0.1',()=>console.log('up'))`;
  const child = spawn('nsenter', [`--net=${netns}`, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout!.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`pod server exited ${code}`)));
  });
  return child;
}

/**
 * A pinned network namespace with loopback up, in a fresh temp dir. Stale ones from killed test processes
 * (dir prefix crius-pf-, owner pid gone) are unmounted and removed first.
 */
export async function makeTestNetns(): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const { readdir } = await import('node:fs/promises');
  for (const name of await readdir(tmpdir())) {
    if (!name.startsWith('crius-pf-')) continue;
    const d = path.join(tmpdir(), name);
    let owner = 0;
    try { owner = Number((await readFile(path.join(d, OWNER_FILE), 'utf8')).trim()); } catch { continue; }
    if (owner > 0 && pidAlive(owner)) continue;
    await run('umount', [path.join(d, 'netns')]).catch(() => undefined);
    await rm(d, { recursive: true, force: true });
  }
  const d = await mkdtemp(path.join(tmpdir(), 'crius-pf-'));
  await writeFile(path.join(d, OWNER_FILE), String(process.pid));
  const ns = path.join(d, 'netns');
  await writeFile(ns, '');
  const cleanup = async (): Promise<void> => {
    await run('umount', [ns]).catch(() => undefined);
    await rm(d, { recursive: true, force: true });
  };
  try {
    await run('unshare', [`--net=${ns}`, 'true']);
    await run('nsenter', [`--net=${ns}`, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { path: ns, cleanup };
}

/** The real streaming backends aimed at one test container and one test netns (root exec in the container). */
export function realStreamBackends(c: StreamContainer, netns: () => string): import('../../src/stream/backend.js').StreamBackends {
  return {
    exec: createRuntimeExecBackend({
      runtimeCommand: c.runtimeCommand,
      processFor: async () => ({ cwd: '/', env: ['PATH=/bin', 'TERM=xterm'], user: { uid: 0, gid: 0 } }),
      ptyHelper: PTY_HELPER,
    }),
    attach: createConmonAttachBackend({ relayHelper: RELAY_HELPER, locate: async () => ({ attachSocket: c.attachSocket, ctlFifo: c.ctlFifo }) }),
    portForward: createNetnsPortForwardBackend({ relayHelper: RELAY_HELPER, netnsPath: async () => netns() }),
  };
}
