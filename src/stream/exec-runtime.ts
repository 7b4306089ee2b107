// The real ExecBackend: `<runtime> exec --process F --pid-file P <id>`, as CRI-O's streaming exec does
// (internal/oci/runtime_oci.go ExecContainer). The runtime joins every namespace of the container,
// including its user namespace, so in a `hostUsers: false` pod uid 0 in the exec is the pod's root, not the
// host's (KEP-127). Non-tty sessions use plain pipes; tty sessions run the runtime under native/crius-pty,
// because crun needs a terminal on its own stdin for process.terminal=true and Node has no pty API.
// On cancellation (client gone) the exec'd process itself is SIGKILLed via the pid file: killing only
// the runtime would leave the process running inside the container.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { ExecBackend, ExecParams, TerminalSize } from './backend.js';
import { CriusError, errorMessage } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { tail, waitClose } from './child-process-util.js';

interface RuntimeCommand {
  file: string;
  args: string[];
}

/** The OCI `process` object for an exec (runtime-spec config.md#process). */
type OciProcess = Record<string, unknown>;

interface RuntimeExecConfig {
  /**
   * Turns runtime arguments into the full command line the oci module uses for this container's handler,
   * e.g. ['exec', ...] -> crius-oci-wrap --hide /sys/fs/cgroup/unified /usr/bin/crun --root /run/crius/crun exec ...
   */
  runtimeCommand(args: string[]): RuntimeCommand;
  /**
   * The process to run: the container's own process (user, env, cwd, capabilities, apparmor, selinux,
   * no_new_privileges, rlimits) with `args` = cmd and `terminal` = tty, which is what CRI-O writes.
   * Rejects with NOT_FOUND / FAILED_PRECONDITION if the container is unknown or not running.
   */
  processFor(containerId: string, cmd: string[], tty: boolean): Promise<OciProcess>;
  /** The runtime's ID for a CRI container ID (default: the same). */
  runtimeId?(containerId: string): string;
  /** Path of native/build/crius-pty. */
  ptyHelper: string;
  /** Called just before the runtime's exec starts (the daemon primes the cgroup attach: cgroup/attach-primer.ts). */
  beforeExec?: () => void;
  /** Where per-exec process files go (default os.tmpdir()); removed after each exec. */
  tmpDir?: string;
  logger?: Logger;
}

async function killFromPidFile(pidFile: string): Promise<void> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    if (Number.isInteger(pid) && pid > 1) process.kill(pid, 'SIGKILL');
  } catch {
    // Not written yet, or the process is already gone.
  }
}

/**
 * kubectl and crictl send the terminal size right after creating their streams; waiting this long for it
 * before starting a tty exec means a command that reads the size at once (stty size, a shell's first
 * prompt, an editor) sees the real size instead of 24x80 followed by a resize.
 */
const INITIAL_SIZE_WAIT_MS = 300;

async function firstSize(resize: AsyncIterator<TerminalSize> | undefined): Promise<TerminalSize | null> {
  if (!resize) return null;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), INITIAL_SIZE_WAIT_MS); });
  const next = resize.next().then((r) => (r.done ? null : r.value));
  const size = await Promise.race([next, timeout]);
  clearTimeout(timer);
  // A size that arrives after the timeout is not lost: the resize loop applies it later.
  if (size === null) pendingFirst.set(resize, next);
  return size;
}
const pendingFirst = new WeakMap<AsyncIterator<TerminalSize>, Promise<TerminalSize | null>>();

export function createRuntimeExecBackend(cfg: RuntimeExecConfig): ExecBackend {
  const log = cfg.logger ?? silentLogger;
  return {
    async exec(p: ExecParams): Promise<{ exitCode: number }> {
      const proc = { ...(await cfg.processFor(p.containerId, p.cmd, p.tty)), args: p.cmd, terminal: p.tty };
      const base = cfg.tmpDir ?? tmpdir();
      await mkdir(base, { recursive: true, mode: 0o700 });
      const dir = await mkdtemp(path.join(base, 'crius-exec-'));
      const resizeIt = p.tty ? p.resize?.[Symbol.asyncIterator]() : undefined;
      try {
        const procFile = path.join(dir, 'process.json');
        const pidFile = path.join(dir, 'pid');
        await writeFile(procFile, JSON.stringify(proc), { mode: 0o600 });
        const rc = cfg.runtimeCommand(['exec', '--process', procFile, '--pid-file', pidFile, cfg.runtimeId?.(p.containerId) ?? p.containerId]);
        const size = p.tty ? (await firstSize(resizeIt)) ?? { height: 24, width: 80 } : null;
        cfg.beforeExec?.();
        const child = size
          ? spawn(cfg.ptyHelper, [String(size.height), String(size.width), rc.file, ...rc.args], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] })
          : spawn(rc.file, rc.args, { stdio: [p.stdin ? 'pipe' : 'ignore', p.stdout ? 'pipe' : 'ignore', 'pipe'] });
        const closed = waitClose(child);
        const onAbort = (): void => {
          void killFromPidFile(pidFile).finally(() => child.kill('SIGKILL'));
        };
        if (p.signal.aborted) onAbort();
        p.signal.addEventListener('abort', onAbort, { once: true });
        child.stdin?.on('error', () => { /* the process may exit without reading its input */ });
        if (p.stdin && child.stdin) p.stdin.pipe(child.stdin);
        // A tty exec without client stdin keeps the terminal's input open: ending it would type ^D.
        else if (!p.tty) child.stdin?.end();
        if (p.stdout && child.stdout) child.stdout.pipe(p.stdout, { end: false });
        else child.stdout?.resume();
        // Without a client stderr, keep the runtime's complaint for the error message.
        const errTail = p.stderr ? () => '' : tail(child.stderr);
        if (p.stderr && child.stderr) child.stderr.pipe(p.stderr, { end: false });
        else child.stderr?.resume();
        const ctl = child.stdio[3] as Writable | null | undefined;
        if (resizeIt && ctl) {
          ctl.on('error', () => {});
          void (async () => {
            const late = pendingFirst.get(resizeIt);
            const first = late ? await late : null;
            if (first) ctl.write(`${first.height} ${first.width}\n`);
            for (let r = await resizeIt.next(); !r.done; r = await resizeIt.next()) ctl.write(`${r.value.height} ${r.value.width}\n`);
          })();
        }
        let exitCode: number;
        try {
          exitCode = await closed;
        } catch (err) {
          throw new CriusError('INTERNAL', `exec in container ${p.containerId}: cannot start ${rc.file}: ${errorMessage(err)}; check the runtime handler's path`, { cause: err });
        } finally {
          p.signal.removeEventListener('abort', onAbort);
          p.stdin?.unpipe();
        }
        log.debug('runtime exec exited', { containerId: p.containerId, exitCode, tty: p.tty, stderr: errTail() });
        return { exitCode };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
