// Starts the real criusd (the built bin/criusd.js) on a temporary socket, root and state dir, and gives a
// CRI client to it, as the kubelet would talk. Every integration test that needs the daemon uses this.
import { criusdEntry, daemonNodeFlags } from '../../src/common/install-root.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { chmodSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { connectCri, type CriClient } from '../../src/cli/client.js';

export const PROJECT_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

export const CRIUSD = criusdEntry();
export const CRIUS = join(PROJECT_ROOT, 'bin', 'crius.js');

export interface TestDaemon {
  dir: string;
  socket: string;
  root: string;
  state: string;
  configPath: string;
  client: CriClient;
  proc: ChildProcess;
  logs: () => string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (crash) and wait. */
  kill(): Promise<void>;
  /** Start another daemon process on the same dirs (after stop/kill); `opts` override the first start's. */
  restart(opts?: Pick<TestDaemonOptions, 'readyWhen'>): Promise<TestDaemon>;
  /** stop + remove the temp dir. */
  cleanup(): Promise<void>;
}

interface TestDaemonOptions {
  /** TOML text; root/state/socket are passed as flags, so leave them out. */
  config?: string;
  extraArgs?: string[];
  /** Flags for node itself, before the script (e.g. --cpu-prof for a bench). */
  nodeArgs?: string[];
  dir?: string;
  startTimeoutMs?: number;
  /**
   * When the daemon counts as started: 'serving' (default) once it logs "serving CRI" (wired, pods
   * recovered); 'socket' as soon as its socket accepts, which is before recovery ends (the daemon then
   * answers Version and holds every other RPC until it is wired).
   */
  readyWhen?: 'serving' | 'socket';
}

function socketAccepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Whether a process with this pid exists (signal 0); for tests, where pid reuse within a test is moot. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves once a server stream's response headers arrive (GetContainerEvents sends them at subscription). */
export function subscribed(stream: { once(ev: 'metadata' | 'error', f: (x: unknown) => void): unknown }, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no response headers within ${timeoutMs} ms: the subscription was not made`)), timeoutMs);
    stream.once('metadata', () => { clearTimeout(timer); resolve(); });
    stream.once('error', (e) => { clearTimeout(timer); reject(e instanceof Error ? e : new Error(String(e))); });
  });
}

export async function startTestDaemon(opts: TestDaemonOptions = {}): Promise<TestDaemon> {
  // Short base path: unix socket paths are limited to 108 bytes.
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'crius-t-'));
  // A user-namespaced pod's root is an unprivileged host uid: it must traverse to its rootfs (0711).
  chmodSync(dir, 0o711);
  const socket = join(dir, 'crius.sock');
  const root = join(dir, 'root');
  const state = join(dir, 'state');
  const configPath = join(dir, 'config.toml');
  if (!opts.dir || opts.config !== undefined) writeFileSync(configPath, opts.config ?? '');
  const args = [...daemonNodeFlags(), ...(opts.nodeArgs ?? []), CRIUSD, '--config', configPath, '--socket', socket, '--root', root, '--state', state, '--log-level', 'debug', ...(opts.extraArgs ?? [])];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  proc.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
  let exited = false;
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => { exited = true; resolve(code); }));
  try {
    const ready = opts.readyWhen === 'socket' ? () => socketAccepts(socket) : () => out.includes('"serving CRI"');
    await waitFor(async () => exited || await ready(), opts.startTimeoutMs ?? 20_000, 'criusd to serve');
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n--- criusd output ---\n${out}`);
  }
  if (exited) throw new Error(`criusd exited during start-up:\n${out}`);
  const client = connectCri(socket);
  const self: TestDaemon = {
    dir, socket, root, state, configPath, client, proc,
    logs: () => out,
    stop: async () => {
      client.close();
      if (!exited) proc.kill('SIGTERM');
      return exit;
    },
    kill: async () => {
      client.close();
      if (!exited) proc.kill('SIGKILL');
      await exit;
    },
    restart: (o) => startTestDaemon({ ...opts, readyWhen: undefined, ...o, dir, config: undefined }),
    cleanup: async () => {
      await self.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}

/** Runs a CLI/daemon process to completion and captures its output. */
export function runNode(script: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    p.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    p.on('exit', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}
