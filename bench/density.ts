// Pod density: N user-namespaced pods on one node, as the kubelet would run them (issue 14, "Scale").
// Each pod has PID mode CONTAINER, its own explicit user namespace mapping (65536 IDs, a distinct host
// range per pod, given in userns_options as the kubelet does for hostUsers: false) and one busybox
// `sleep` container. The bench starts them with P in flight (up/s), then with all N running measures:
// ListPodSandbox and ListContainers p95, ListPodSandboxStats and ListContainerStats (all pods) p95,
// Status p99 while a few other pods churn (start + stop in a loop), per-pod supervisor (conmon) RSS and
// the daemon's VmRSS idle (before any pod) and at N. Then it tears all N down with P in flight
// (down/s) and checks that nothing is left: mounts, namespace pins, pod cgroups, conmon processes,
// veths on the bridge, host-local IP reservations.
//
// Runs its own crius node (own root/state dirs, socket, registry, CNI bridge ct-dn on 10.105.0.0/16)
// so it never meets the tests' daemons; hold the integration lock all the same (bridges, cgroups):
//   flock /tmp/crius-integration.lock node dist/bench/density.js [--pods 1000] [--parallel 4]
//        [--runs 40] [--churn 2] [--network shipped] [--json-only] [--log-level info]
// --network shipped gives the node crius's default network (contrib/cni/10-crius.conflist: ptp, a routed
// veth per pod) instead of a bridge of its own, which the kernel
// caps at 1023 ports: more than ~1020 pods need it.
// With --cpu-prof DIR the daemon writes a V8 CPU profile there on exit (node --cpu-prof).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { podUserns } from '../test/helpers/cri-fixture.js';
import { conmonsUnder, nodeLeaks } from '../test/helpers/leak-check.js';
import {
  benchContainer, benchPod, benchTarget, flag, msSince, pool, rssKiB, stats, supervisorPids, type BenchTarget, type Stat,
} from './cri-bench.js';

const TAG = 'dn';
const SUBNET = 105;
/** Pod i's host IDs start at (FIRST_BLOCK + i) * 65536: above the host's own users, one block per pod. */
const FIRST_BLOCK = 16;
const LONG = 600_000;

/** Host veth interfaces (the ptp network's pod ends have no bridge to be counted on). */
const hostVeths = (): Set<string> => new Set(execFileSync('/usr/sbin/ip', ['-o', 'link', 'show', 'type', 'veth'], { encoding: 'utf8' })
  .split('\n').filter(Boolean).map((l) => (l.split(':')[1] ?? '').trim().split('@')[0]!));

const r1 = (x: number): number => Math.round(x * 10) / 10;
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

interface DaemonMemory { rssAnon: number; rssFile: number; heapUsed: number; heapTotal: number; external: number }

/**
 * Where the daemon's RSS is, in MiB: anonymous (its own) and file-backed (node's and the addons' code
 * pages) from /proc, the V8 heap from verbose Status (the daemon's process.memoryUsage()).
 */
async function daemonMemory(t: BenchTarget): Promise<DaemonMemory> {
  const status = readFileSync(`/proc/${t.daemonPid!}/status`, 'utf8');
  const kib = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  const res = await t.client.call<{ info: Record<string, string> }>('runtime', 'Status', { verbose: true });
  const mem = (JSON.parse(res.info['config'] ?? '{}') as { daemon?: { memory?: Record<string, number> } }).daemon?.memory ?? {};
  const mib = (b: number | undefined): number => r1((b ?? NaN) / 1048576);
  return { rssAnon: r1(kib('RssAnon') / 1024), rssFile: r1(kib('RssFile') / 1024), heapUsed: mib(mem['heapUsed']), heapTotal: mib(mem['heapTotal']), external: mib(mem['external']) };
}

/** The p-th percentile (nearest rank) of xs, in ms rounded to 0.01. */
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN) * 100) / 100;
}

interface Pod { id: string; cid: string }

let block = FIRST_BLOCK;

async function startPod(t: BenchTarget, handler: string): Promise<Pod> {
  const userns = { userns_options: podUserns(block++ * 65536) };
  const pod = benchPod(t, 'dn', userns);
  const { pod_sandbox_id: id } = await t.client.call<{ pod_sandbox_id: string }>('runtime', 'RunPodSandbox', { config: pod, runtime_handler: handler }, LONG);
  const { container_id: cid } = await t.client.call<{ container_id: string }>('runtime', 'CreateContainer', {
    pod_sandbox_id: id, config: benchContainer(t.image, 'sleeper', ['sleep', '36000'], userns), sandbox_config: pod,
  }, LONG);
  await t.client.call('runtime', 'StartContainer', { container_id: cid }, LONG);
  return { id, cid };
}

async function stopPod(t: BenchTarget, id: string): Promise<void> {
  await t.client.call('runtime', 'StopPodSandbox', { pod_sandbox_id: id }, LONG);
  await t.client.call('runtime', 'RemovePodSandbox', { pod_sandbox_id: id }, LONG);
}

async function timeCalls(t: BenchTarget, method: string, req: object, n: number, check?: (res: any) => void): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const res = await t.client.call('runtime', method, req, LONG);
    out.push(msSince(t0));
    check?.(res);
  }
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const n = Number(flag(argv, '--pods') ?? 1000);
  const parallel = Number(flag(argv, '--parallel') ?? 4);
  const runs = Number(flag(argv, '--runs') ?? 40);
  const churners = Number(flag(argv, '--churn') ?? 2);
  const handler = flag(argv, '--handler') ?? '';
  if (flag(argv, '--endpoint')) throw new Error('density runs against its own crius only (it checks the node for leaks)');
  const t = await benchTarget([...argv, ...(flag(argv, '--log-level') ? [] : ['--log-level', 'info'])], TAG, SUBNET);
  const node = t.node!;
  const loads: Record<string, string> = { start: load() };
  const vethsBefore = hostVeths();
  const rows: Stat[] = [];
  const pods: Pod[] = [];
  const allIds: string[] = [];
  const out: Record<string, unknown> = { bench: 'density', pods: n, parallelism: parallel, handler: handler || 'default' };
  let leaks: string[] = [];
  try {
    await t.client.call('image', 'PullImage', { image: { image: t.image } }, LONG);
    // Warm-up (page cache, binaries, the CNI bridge), not measured.
    for (let i = 0; i < 2; i++) {
      const p = await startPod(t, handler);
      allIds.push(p.id);
      await stopPod(t, p.id);
    }
    await new Promise((r) => setTimeout(r, 2000));
    const idleRssKiB = rssKiB(t.daemonPid!);
    const idleMemory = await daemonMemory(t);

    // Up: N pods, P in flight.
    loads['up'] = load();
    let t0 = process.hrtime.bigint();
    const upTimes = await pool(Array.from({ length: n }, (_, i) => i), parallel, async () => {
      const p = await startPod(t, handler);
      pods.push(p);
      allIds.push(p.id);
      if (pods.length % 100 === 0 && !argv.includes('--json-only')) console.error(`  ${pods.length} pods up, ${r1(msSince(t0) / 1000)} s, load ${load()}`);
    });
    const upWallMs = msSince(t0);
    rows.push(stats(`pod start (run+create+start), ${parallel} in flight`, upTimes));

    // All N running: the list and stats calls the kubelet makes (PLEG relists every second, stats every 10 s).
    loads['lists'] = load();
    const want = (what: string, k: string, min: number) => (res: any): void => {
      const got = (res[k] as unknown[]).length;
      if (got < min) throw new Error(`${what} returned ${got} entries, want >= ${min}`);
    };
    await timeCalls(t, 'ListPodSandbox', {}, 2);
    rows.push(stats(`ListPodSandbox (${n} pods)`, await timeCalls(t, 'ListPodSandbox', {}, runs, want('ListPodSandbox', 'items', n))));
    rows.push(stats(`ListContainers (${n} containers)`, await timeCalls(t, 'ListContainers', {}, runs, want('ListContainers', 'containers', n))));
    const statRuns = Math.max(5, Math.floor(runs / 4));
    rows.push(stats(`ListPodSandboxStats (${n} pods)`, await timeCalls(t, 'ListPodSandboxStats', {}, statRuns, want('ListPodSandboxStats', 'stats', n))));
    rows.push(stats(`ListContainerStats (${n} containers)`, await timeCalls(t, 'ListContainerStats', {}, statRuns, want('ListContainerStats', 'stats', n))));

    // Supervisors and daemon memory with all N running.
    const sup = supervisorPids(t.scope);
    const supKiB = sup.reduce((a, p) => a + rssKiB(p), 0);
    const atNRssKiB = rssKiB(t.daemonPid!);
    const atNMemory = await daemonMemory(t);

    // Status while pods churn: `churners` loops start and stop a pod each, Status is called back to back.
    loads['churn'] = load();
    let churning = true;
    let churned = 0;
    const churn = Array.from({ length: churners }, async () => {
      while (churning) {
        const p = await startPod(t, handler);
        allIds.push(p.id);
        await stopPod(t, p.id);
        churned++;
      }
    });
    const statusMs: number[] = [];
    const end = Date.now() + Math.max(10_000, runs * 250);
    while (Date.now() < end) {
      const s0 = process.hrtime.bigint();
      await t.client.call('runtime', 'Status', {}, LONG);
      statusMs.push(msSince(s0));
      await new Promise((r) => setTimeout(r, 20));
    }
    churning = false;
    await Promise.all(churn);
    rows.push(stats(`Status while ${churners} pods churn`, statusMs));

    // Down: all N, P in flight.
    loads['down'] = load();
    t0 = process.hrtime.bigint();
    const downTimes = await pool(pods.map((p) => p.id), parallel, async (id) => stopPod(t, id));
    const downWallMs = msSince(t0);
    rows.push(stats(`pod teardown (stop+remove), ${parallel} in flight`, downTimes));
    leaks = await nodeLeaks(node, TAG, allIds);
    for (const v of hostVeths()) if (!vethsBefore.has(v)) leaks.push(`host veth ${v}`);
    // Anything still running from this daemon's bundles (a container process whose conmon died).
    for (const pid of conmonsUnder(node.daemon.dir)) leaks.push(`conmon ${pid}`);
    const ranges = await t.client.call<{ items: unknown[] }>('runtime', 'ListPodSandbox', {}, LONG);
    if (ranges.items.length > 0) leaks.push(`${ranges.items.length} pods still listed`);
    const idleAfterKiB = rssKiB(t.daemonPid!);
    Object.assign(out, {
      up: { wallMs: Math.round(upWallMs), podsPerSecond: r1((n / upWallMs) * 1000) },
      down: { wallMs: Math.round(downWallMs), podsPerSecond: r1((n / downWallMs) * 1000) },
      p95: Object.fromEntries(rows.map((r) => [r.name, r.p95Ms])),
      statusP99Ms: pct(statusMs, 0.99), statusCalls: statusMs.length, churned,
      supervisors: { count: sup.length, totalKiB: supKiB, perPodKiB: Math.round(supKiB / Math.max(1, sup.length)) },
      daemonRssMiB: { idle: r1(idleRssKiB / 1024), atN: r1(atNRssKiB / 1024), afterTeardown: r1(idleAfterKiB / 1024), perPodKiB: Math.round((atNRssKiB - idleRssKiB) / n) },
      daemonMemoryMiB: { idle: idleMemory, atN: atNMemory },
      leaks, load: loads,
    });
  } finally {
    loads['end'] = load();
    if (argv.includes('--keep')) console.error(`kept: ${node.daemon.dir}`);
    else await t.close();
  }
  out['results'] = rows;
  console.log(JSON.stringify(out));
  if (argv.includes('--json-only')) return;
  console.log(`\n${'measurement'.padEnd(52)} ${'n'.padStart(5)} ${'median ms'.padStart(10)} ${'p95 ms'.padStart(10)}`);
  for (const r of rows) console.log(`${r.name.padEnd(52)} ${String(r.n).padStart(5)} ${String(r.medianMs).padStart(10)} ${String(r.p95Ms).padStart(10)}`);
  const o = out as any;
  console.log(`up ${o.up.podsPerSecond} pods/s, down ${o.down.podsPerSecond} pods/s, Status p99 ${o.statusP99Ms} ms (${o.churned} pods churned)`);
  const m = (x: DaemonMemory): string => `anon ${x.rssAnon}, file ${x.rssFile}, V8 heap used ${x.heapUsed} of ${x.heapTotal}, external ${x.external}`;
  console.log(`daemon memory (MiB) idle: ${m(o.daemonMemoryMiB.idle)}; at ${n} pods: ${m(o.daemonMemoryMiB.atN)}`);
  console.log(`conmon ${o.supervisors.perPodKiB} KiB/pod (${o.supervisors.count}); daemon RSS idle ${o.daemonRssMiB.idle} MiB, at ${n} pods ${o.daemonRssMiB.atN} MiB (${o.daemonRssMiB.perPodKiB} KiB/pod), after teardown ${o.daemonRssMiB.afterTeardown} MiB`);
  console.log(`load average: ${Object.entries(loads).map(([k, v]) => `${k} ${v}`).join('; ')}`);
  console.log(leaks.length === 0 ? 'leaks: none' : `LEAKS (${leaks.length}):\n  ${leaks.slice(0, 30).join('\n  ')}`);
  if (leaks.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
