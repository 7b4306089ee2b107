// conmon (v2.1.12) command lines and its sync/start pipe protocol, as CRI-O's internal/oci/runtime_oci.go
// uses them (conmon's src/cli.c option table and src/parent_pipe_fd.c for the pipes).
//
// This file holds the one place in crius that spawns a process without src/common/exec.ts: conmon talks
// to its parent over two extra file descriptors (fd 3 = sync pipe, fd 4 = start pipe, named by
// _OCI_SYNCPIPE/_OCI_STARTPIPE), which run() cannot pass; and for `create` conmon double-forks and keeps
// the sync pipe open for the container's whole life, so "wait for exit and collect output" is the wrong
// model. libuv turns the extra 'pipe' stdio entries into AF_UNIX socketpairs, which conmon accepts.
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { internal } from '../common/errors.js';

export interface RuntimeInvocation {
  /** The binary conmon runs as `-r`: crius-oci-wrap when mounts must be hidden, else the runtime itself. */
  file: string;
  /** Global arguments before the subcommand (passed to conmon as --runtime-arg). */
  globalArgs: string[];
}

interface ConmonCreateArgs {
  id: string;
  name?: string;
  bundle: string;
  runtime: RuntimeInvocation;
  logPath: string;
  exitDir: string;
  persistDir: string;
  socketDir: string;
  conmonPidFile: string;
  containerPidFile: string;
  terminal?: boolean;
  stdin?: boolean;
  /** CRI StdinOnce: close the container's stdin when the first attach client detaches. */
  stdinOnce?: boolean;
  logSizeMax?: number;
  logLevel?: 'debug' | 'info' | 'warning' | 'error';
}

/** conmon argv for a container create (CRI-O's command line, without --syslog or systemd). Pure. */
export function conmonCreateArgv(a: ConmonCreateArgs): string[] {
  const argv = [
    '-b', a.bundle, '-c', a.id, '-u', a.id, '-n', a.name ?? a.id,
    '-r', a.runtime.file, ...a.runtime.globalArgs.flatMap((g) => ['--runtime-arg', g]),
    '-l', `k8s-file:${a.logPath}`, '--exit-dir', a.exitDir, '-0', a.persistDir,
    '-P', a.conmonPidFile, '-p', a.containerPidFile, '--socket-dir-path', a.socketDir,
    '--log-level', a.logLevel ?? 'error',
  ];
  if (a.logSizeMax !== undefined && a.logSizeMax > 0) argv.push('--log-size-max', String(a.logSizeMax));
  if (a.terminal) argv.push('-t');
  else if (a.stdin) {
    argv.push('-i');
    if (!a.stdinOnce) argv.push('--leave-stdin-open');
  }
  return argv;
}

/** One JSON line from conmon's sync pipe. */
interface SyncMessage {
  pid?: number;
  exit_code?: number;
  data?: number;
  message?: string;
}

export function parseSyncMessage(line: string): SyncMessage {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw internal(`conmon sent a sync message that is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
  }
  if (typeof v !== 'object' || v === null) throw internal(`conmon sent an unexpected sync message: ${line.slice(0, 200)}`);
  const o = v as Record<string, unknown>;
  const out: SyncMessage = {};
  for (const k of ['pid', 'exit_code', 'data'] as const) if (typeof o[k] === 'number') out[k] = o[k] as number;
  if (typeof o['message'] === 'string') out.message = o['message'];
  return out;
}

interface ConmonRun {
  /** The first sync message (create: {"pid"}; exec --sync: {"exit_code"}). */
  message: SyncMessage;
  /** conmon's exit status (for create: the intermediate process of the double fork, normally 0). */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

interface SpawnConmonOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Safety net in ms (Infinity: none): conmon's group is SIGKILLed if no sync message came by then. */
  timeoutMs: number;
}

/**
 * Runs conmon with the sync (fd 3) and start (fd 4) pipes: writes the start byte, reads the first
 * newline-terminated JSON line from the sync pipe, and waits for the spawned process to exit. For a
 * create, the spawned process is the intermediate of conmon's double fork, which exits at once; the
 * daemonized conmon is reparented and outlives crius (containers survive a daemon restart).
 */
export function spawnConmon(conmonPath: string, argv: readonly string[], o: SpawnConmonOptions): Promise<ConmonRun> {
  return new Promise<ConmonRun>((resolve, reject) => {
    const child = spawn(conmonPath, argv, {
      cwd: o.cwd,
      env: { ...(o.env ?? process.env), _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' },
      // conmon's own stdio goes to /dev/null after it daemonizes; stderr before that is worth keeping.
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      // Own process group (CRI-O: Setpgid), so a signal to the daemon's group does not reach it, and the
      // safety-net kill can take the whole group.
      detached: true,
    });
    const sync = child.stdio[3] as Readable | null;
    const start = child.stdio[4] as Writable | null;
    let stderr = '';
    let line: string | undefined;
    let buf = '';
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      if (!err && (line === undefined || exited === undefined)) return;
      settled = true;
      clearTimeout(timer);
      sync?.destroy();
      start?.destroy();
      child.stderr?.destroy();
      child.unref();
      if (err) { reject(err); return; }
      try {
        resolve({ message: parseSyncMessage(line ?? ''), exitCode: exited?.code ?? null, signal: exited?.signal ?? null });
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    };
    // Infinity (no limit: ExecSync with timeout 0) must not reach setTimeout, which would fire at once.
    const timer = Number.isFinite(o.timeoutMs) ? setTimeout(() => {
      try { if (child.pid) process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      finish(internal(`conmon did not report within ${o.timeoutMs} ms (stderr: ${stderr.trim() || 'none'})`));
    }, o.timeoutMs) : undefined;
    child.stderr?.on('data', (b: Buffer) => { if (stderr.length < 4096) stderr += b.toString('utf8'); });
    child.on('error', (e) => finish(internal(`spawn ${conmonPath}: ${e.message}`, e)));
    sync?.on('data', (b: Buffer) => {
      if (line !== undefined) return;
      buf += b.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        line = buf.slice(0, nl);
        finish();
      }
    });
    sync?.on('error', () => { /* EOF or reset: handled on exit */ });
    start?.on('error', () => { /* conmon may exit before reading */ });
    // EOF on the sync pipe without a line means every conmon process holding it is gone.
    let eof = false;
    const failNoMessage = (): void => {
      finish(internal(`conmon exited (status ${exited?.code ?? exited?.signal}) without a sync message; stderr: ${stderr.trim() || 'none'}`));
    };
    sync?.on('end', () => {
      eof = true;
      if (line === undefined && exited !== undefined) failNoMessage();
    });
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      // For a create the intermediate exits before the daemonized conmon reports: keep waiting for the
      // line (or EOF, or the timeout).
      if (line !== undefined) finish();
      else if (eof) failNoMessage();
    });
    start?.write(Buffer.from([0]));
  });
}
