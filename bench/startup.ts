// Daemon start-up: from exec of bin/criusd.js to the first answered Version RPC, and to the first
// answered Status (which needs every handler's `features`), then the daemon's VmRSS 3 s after exec.
// Each run spawns a fresh daemon with its own root, state dir and socket in a temp dir, configured as the
// integration tests configure it (crun and runc handlers, a CNI conflist of its own; metrics off). The
// floor, alternating with the daemon in the same run: the exec-to-exit time of a bare `node -e 0`, and
// the VmRSS of a bare idle node 3 s after exec.
// Run as root after `npm run build`:
//   node dist/bench/startup.js [--n 10] [--json-only] [--criusd PATH] [--baseline PATH] [--node-flags '--flag ...']
// --criusd runs another build's bin/criusd.js instead of this one; --baseline runs another build's too,
// alternating with this one in the same run (before/after on the same host load); --node-flags puts
// these Node/V8 flags before the daemon's script instead of bin/criusd.node-flags (to try heap flags).
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { connectCri } from '../src/cli/client.js';
import { CRIUSD } from '../test/helpers/daemon.js';
import { daemonNodeFlags } from '../src/common/install-root.js';
import { CRUN, RUNC } from '../test/helpers/host-binaries.js';
import { flag, msSince, printTable } from './cri-bench.js';
import { stats } from './stats.js';

const argv = process.argv.slice(2);
const N = Number(flag(argv, '--n') ?? 10);
const jsonOnly = argv.includes('--json-only');
const RSS_AT_MS = 3000;
const criusd = flag(argv, '--criusd') ?? CRIUSD;
const baseline = flag(argv, '--baseline');
// The daemon's own flags (bin/criusd.node-flags) unless --node-flags replaces them ('' for none).
const nodeFlags = flag(argv, '--node-flags')?.split(' ').filter(Boolean) ?? daemonNodeFlags();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function vmRssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Math.round(Number(m[1]) / 1024 * 100) / 100;
}

/** Resolves once something accepts connections on the unix socket (no gRPC channel: its reconnect backoff would distort the time). */
function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** CPU time (user + system, all threads) a live process has used so far, from /proc (10 ms ticks). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // utime, stime (fields 14, 15) at USER_HZ = 100
}

/** Exec to exit of `node -e 0`, and the CPU time it used (the wall time moves with the host's load, CPU time much less). */
async function nodeFloor(): Promise<{ wallMs: number; cpuMs: number }> {
  const t0 = process.hrtime.bigint();
  const p = spawn(process.execPath, ['-e', 'process.stdout.write(JSON.stringify(process.cpuUsage()))'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  p.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  await new Promise((r) => p.once('exit', r));
  const wallMs = msSince(t0);
  const u = JSON.parse(out) as { user: number; system: number };
  return { wallMs, cpuMs: (u.user + u.system) / 1000 };
}

/** VmRSS of a bare node doing nothing, RSS_AT_MS after exec. */
async function nodeIdleRss(): Promise<number> {
  const p = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60_000)'], { stdio: 'ignore' });
  await sleep(RSS_AT_MS);
  const rss = vmRssMiB(p.pid!);
  p.kill('SIGKILL');
  await new Promise((r) => p.once('exit', r));
  return rss;
}

interface DaemonRun { versionMs: number; versionCpuMs: number; statusMs: number; rssMiB: number; runtimeReady: boolean }

async function daemonOnce(script: string): Promise<DaemonRun> {
  const dir = mkdtempSync(join(tmpdir(), 'crius-su-'));
  const cniDir = join(dir, 'cni');
  mkdirSync(cniDir);
  writeFileSync(join(cniDir, '10-bench.conflist'), JSON.stringify({
    cniVersion: '1.0.0', name: 'crius-bench-su', disableCheck: true,
    plugins: [
      { type: 'bridge', bridge: 'cb-su', isGateway: true, ipMasq: false,
        ipam: { type: 'host-local', ranges: [[{ subnet: '10.211.0.0/16' }]], dataDir: join(dir, 'ipam') } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }));
  writeFileSync(join(dir, 'config.toml'), `default_runtime = "crun"
[runtimes.crun]
path = "${CRUN}"
[runtimes.runc]
path = "${RUNC}"
[cni]
conf_dir = "${cniDir}"
plugin_dirs = ["/usr/lib/cni"]
`);
  const socket = join(dir, 'crius.sock');
  let stderr = '';
  const t0 = process.hrtime.bigint();
  const proc = spawn(process.execPath, [...nodeFlags, script, '--config', join(dir, 'config.toml'), '--socket', socket, '--root', join(dir, 'root'), '--state', join(dir, 'state'), '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
  let exited = false;
  const exit = new Promise((r) => proc.once('exit', () => { exited = true; r(undefined); }));
  let client: ReturnType<typeof connectCri> | undefined;
  try {
    let versionMs = 0;
    let versionCpuMs = 0;
    for (;;) {
      if (exited) throw new Error(`criusd exited during start-up: ${stderr}`);
      if (msSince(t0) > 30_000) throw new Error('criusd did not answer Version within 30 s');
      if (!(await accepts(socket))) { await sleep(2); continue; }
      client ??= connectCri(socket);
      try {
        await client.call('runtime', 'Version', {}, 2000);
        versionMs = msSince(t0);
        versionCpuMs = cpuMs(proc.pid!);
        break;
      } catch {
        client.close();
        client = undefined;
        await sleep(2);
      }
    }
    const status = await client!.call<{ status: { conditions: { type: string; status: boolean }[] } }>('runtime', 'Status', {}, 30_000);
    const statusMs = msSince(t0);
    const runtimeReady = status.status.conditions.find((c) => c.type === 'RuntimeReady')?.status === true;
    // The client's channel stays open, as the kubelet's would.
    await sleep(Math.max(0, RSS_AT_MS - msSince(t0)));
    const rssMiB = vmRssMiB(proc.pid!);
    return { versionMs, versionCpuMs, statusMs, rssMiB, runtimeReady };
  } finally {
    client?.close();
    if (!exited) proc.kill('SIGTERM');
    await exit;
    rmSync(dir, { recursive: true, force: true });
  }
}

const floors: { wallMs: number; cpuMs: number }[] = [];
const runs: DaemonRun[] = [];
const baseRuns: DaemonRun[] = [];
await nodeFloor(); // warm the page cache for node itself
for (let i = 0; i < N; i++) {
  floors.push(await nodeFloor());
  runs.push(await daemonOnce(criusd));
  if (baseline) baseRuns.push(await daemonOnce(baseline));
}
const nodeRss = await nodeIdleRss();

const rows = [
  stats('node -e 0 (floor): exec to exit', floors.map((f) => f.wallMs)),
  stats('criusd: exec to first answered Version', runs.map((r) => r.versionMs)),
  stats('criusd: exec to first answered Status', runs.map((r) => r.statusMs)),
  stats('node -e 0 (floor): CPU time used (user+sys)', floors.map((f) => f.cpuMs)),
  stats('criusd: CPU time used until Version answered', runs.map((r) => r.versionCpuMs)),
  ...(baseline ? [
    stats('baseline criusd: exec to first answered Version', baseRuns.map((r) => r.versionMs)),
    stats('baseline criusd: exec to first answered Status', baseRuns.map((r) => r.statusMs)),
    stats('baseline criusd: CPU time used until Version answered', baseRuns.map((r) => r.versionCpuMs)),
  ] : []),
];
const medianOf = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const rss = runs.map((r) => r.rssMiB).sort((a, b) => a - b);
const baseRss = baseRuns.map((r) => r.rssMiB);
const result = {
  bench: 'startup',
  runs: N,
  criusd,
  node_flags: nodeFlags.join(' '),
  floor_node_e0_ms: rows[0],
  version_ms: rows[1],
  status_ms: rows[2],
  floor_cpu_ms: rows[3],
  version_cpu_ms: rows[4],
  runtime_ready: runs.every((r) => r.runtimeReady),
  ...(baseline ? {
    baseline,
    baseline_version_ms: rows[5],
    baseline_status_ms: rows[6],
    baseline_version_cpu_ms: rows[7],
    baseline_rss_mib_at_3s: { median: medianOf(baseRss), max: Math.max(...baseRss), min: Math.min(...baseRss) },
  } : {}),
  rss_mib_at_3s: { median: rss[Math.floor(rss.length / 2)], max: rss[rss.length - 1], min: rss[0] },
  floor_idle_node_rss_mib: nodeRss,
  goals: { version_median_ms: 250, rss_mib: 50 },
};
console.log(JSON.stringify(result));
if (!jsonOnly) {
  printTable(rows);
  console.log(`\ncriusd VmRSS ${RSS_AT_MS / 1000} s after exec: median ${result.rss_mib_at_3s.median} MiB (min ${result.rss_mib_at_3s.min}, max ${result.rss_mib_at_3s.max}); bare idle node: ${nodeRss} MiB`);
  if (baseline) console.log(`baseline criusd VmRSS ${RSS_AT_MS / 1000} s after exec: median ${medianOf(baseRss)} MiB (min ${Math.min(...baseRss)}, max ${Math.max(...baseRss)})`);
  console.log(`goals: Version median <= 250 ms, RSS <= 50 MiB; RuntimeReady in every Status: ${result.runtime_ready}`);
}
