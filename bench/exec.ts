// Exec round trip and output throughput through crius's streaming path, with `crun exec` of the same
// command in the same run as the floor.
//
//   node dist/bench/exec.js [--runs N] [--mb M]
//       starts its own busybox container (crun under conmon, as in the integration tests) and an in-process
//       streaming server with the real exec backend.
//   node dist/bench/exec.js --cri-socket /run/crius/crius.sock --container ID [--runtime-root R]
//       asks a running crius for the URL over CRI Exec (the kubelet's and crictl's path); the floor then
//       runs `crun --root R exec` directly (R defaults to /run/crius/crun).
//
// Prints one JSON object, then a short table. Medians over N runs.
import { CRUN } from '../test/helpers/host-binaries.js';
import { spawn } from 'node:child_process';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { StreamServer } from '../src/stream/server.js';
import { createRuntimeExecBackend } from '../src/stream/exec-runtime.js';
import { silentLogger } from '../src/common/logger.js';
import type { StreamBackends } from '../src/stream/backend.js';
import { spdyExec, exitCodeOf } from '../test/helpers/spdy-client.js';
import { PTY_HELPER, startStreamContainer, streamContainerUnavailable, OCI_WRAP } from '../test/helpers/stream-container.js';

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    mb: { type: 'string', default: '64' },
    'cri-socket': { type: 'string' },
    container: { type: 'string' },
    'runtime-root': { type: 'string', default: '/run/crius/crun' },
  },
});
const RUNS = Number(opt.runs);
const BYTES = Number(opt.mb) * 1024 * 1024;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Runs a command, counting stdout bytes; resolves with [ms, bytes, exit code]. */
function timeCommand(file: string, args: string[]): Promise<[number, number, number]> {
  const t0 = now();
  return new Promise((resolve, reject) => {
    const c = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let n = 0;
    c.stdout.on('data', (b: Buffer) => { n += b.length; });
    c.on('error', reject);
    c.on('close', (code) => resolve([now() - t0, n, code ?? -1]));
  });
}

interface Target {
  /** A fresh exec URL for cmd (CRI Exec or the in-process server). */
  url(cmd: string[]): Promise<string>;
  runtimeCommand(args: string[]): { file: string; args: string[] };
  containerId: string;
  cleanup(): Promise<void>;
}

async function criTarget(socket: string, containerId: string, root: string): Promise<Target> {
  const { connectCri } = await import('../src/cli/client.js');
  const cri = connectCri(socket);
  return {
    containerId,
    url: async (cmd) => (await cri.call<{ url: string }>('runtime', 'Exec', { container_id: containerId, cmd, stdout: true })).url,
    runtimeCommand: (args) => ({ file: OCI_WRAP, args: ['--hide', '/sys/fs/cgroup/unified', CRUN, `--root=${root}`, ...args] }),
    cleanup: async () => { cri.close(); },
  };
}

async function localTarget(): Promise<Target> {
  const why = streamContainerUnavailable();
  if (why) throw new Error(`cannot start a bench container: ${why}`);
  const ctr = await startStreamContainer(['sleep', '100000']);
  const unused = (): never => { throw new Error('not used by this bench'); };
  const backends: StreamBackends = {
    exec: createRuntimeExecBackend({
      runtimeCommand: ctr.runtimeCommand,
      processFor: async () => ({ cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } }),
      ptyHelper: PTY_HELPER,
    }),
    attach: { attach: async () => unused() },
    portForward: { dial: async () => unused() },
  };
  const server = await StreamServer.start({ backends, logger: silentLogger });
  return {
    containerId: ctr.id,
    url: async (cmd) => server.getExecUrl({ container_id: ctr.id, cmd, tty: false, stdin: false, stdout: true, stderr: false }),
    runtimeCommand: ctr.runtimeCommand,
    cleanup: async () => { await server.close(); await ctr.cleanup(); },
  };
}

async function main(): Promise<void> {
  const target = opt['cri-socket'] && opt.container
    ? await criTarget(opt['cri-socket'], opt.container, opt['runtime-root']!)
    : await localTarget();
  const dir = await mkdtemp(path.join(tmpdir(), 'crius-bench-exec-'));
  try {
    const procFile = path.join(dir, 'p.json');
    const floorExec = async (cmd: string[]): Promise<[number, number, number]> => {
      await writeFile(procFile, JSON.stringify({ args: cmd, cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } }));
      const rc = target.runtimeCommand(['exec', '--process', procFile, target.containerId]);
      return timeCommand(rc.file, rc.args);
    };
    const cruisExec = async (cmd: string[]): Promise<[number, number, number]> => {
      const t0 = now();
      const r = await spdyExec(await target.url(cmd), { countOnly: true });
      const code = exitCodeOf(r.error);
      return [now() - t0, r.stdoutBytes, code === 'error' ? -1 : code];
    };
    const big = ['head', '-c', String(BYTES), '/dev/zero'];
    // Warm-up: page cache, crun binary, JIT.
    await floorExec(['true']);
    await cruisExec(['true']);
    const floorTrue: number[] = [];
    const criusTrue: number[] = [];
    const floorBig: number[] = [];
    const criusBig: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Interleaved so drift on the host affects both sides alike.
      const [ft, , fc] = await floorExec(['true']);
      const [ct, , cc] = await cruisExec(['true']);
      if (fc !== 0 || cc !== 0) throw new Error(`exec true failed: floor ${fc}, crius ${cc}`);
      floorTrue.push(ft);
      criusTrue.push(ct);
    }
    const bigRuns = Math.max(3, Math.min(RUNS, 5));
    for (let i = 0; i < bigRuns; i++) {
      const [fb, fn] = await floorExec(big);
      const [cb, cn] = await cruisExec(big);
      if (fn !== BYTES || cn !== BYTES) throw new Error(`large output short: floor ${fn}, crius ${cn} of ${BYTES}`);
      floorBig.push(fb);
      criusBig.push(cb);
    }
    const mibps = (ms: number): number => (BYTES / 1024 / 1024) / (ms / 1000);
    const result = {
      bench: 'exec',
      mode: opt['cri-socket'] ? 'cri' : 'in-process-server',
      runs: RUNS,
      bigRuns,
      outputBytes: BYTES,
      execTrueMedianMs: { crius: +median(criusTrue).toFixed(2), floorCrunExec: +median(floorTrue).toFixed(2) },
      largeOutputMedianMs: { crius: +median(criusBig).toFixed(1), floorCrunExec: +median(floorBig).toFixed(1) },
      largeOutputMiBps: { crius: +mibps(median(criusBig)).toFixed(1), floorCrunExec: +mibps(median(floorBig)).toFixed(1) },
    };
    console.log(JSON.stringify(result));
    console.log('');
    console.log(`${'measure'.padEnd(34)}${'crius'.padStart(12)}${'crun exec'.padStart(12)}`);
    console.log(`${'exec true, median ms'.padEnd(34)}${result.execTrueMedianMs.crius.toString().padStart(12)}${result.execTrueMedianMs.floorCrunExec.toString().padStart(12)}`);
    console.log(`${`${opt.mb} MiB output, median MiB/s`.padEnd(34)}${result.largeOutputMiBps.crius.toString().padStart(12)}${result.largeOutputMiBps.floorCrunExec.toString().padStart(12)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await target.cleanup();
  }
}

await main();
