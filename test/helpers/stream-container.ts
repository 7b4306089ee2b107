// A throwaway busybox container run by crun under conmon, for the streaming backends' integration tests.
// Runs crun through native/crius-oci-wrap with the cgroup2 "unified" mount hidden (crun refuses hybrid
// cgroups) and --cgroup-manager=disabled, so the container stays inside our own cgroup.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from '../../src/common/exec.js';

export const NATIVE = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../native/build');
export const OCI_WRAP = path.join(NATIVE, 'crius-oci-wrap');
export const PTY_HELPER = path.join(NATIVE, 'crius-pty');
export const RELAY_HELPER = path.join(NATIVE, 'crius-relay');
const CRUN = '/usr/bin/crun';
const CONMON = '/usr/bin/conmon';

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

export async function startStreamContainer(args: string[], opts: { terminal?: boolean } = {}): Promise<StreamContainer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'crius-stream-'));
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
