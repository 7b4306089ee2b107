// Pod start and teardown as the kubelet drives it, over one CRI connection: RunPodSandbox +
// CreateContainer + StartContainer (busybox `sleep`), then StopPodSandbox + RemovePodSandbox, for N pods
// sequentially and with P in flight. The floor, measured in the same run, is a raw `crun run` of a
// busybox container (through crius-oci-wrap on this hybrid-cgroup host). With all N pods running, the
// per-container supervisors' memory is summed (conmon VmRSS; containerd-shim for containerd) and divided
// by the pods.
// Run as root after `npx tsc` (and `make -C native`):
//   node dist/bench/pod-start.js [--n 20] [--parallel 4] [--handler crun] [--no-floor] [--json-only] [--log-level debug]
// With --log-level debug, crius's per-step durations (debug log) of the sequential phase are summarised
// as medians (`profile`).
//   node dist/bench/pod-start.js --endpoint unix:///run/containerd/containerd.sock --image docker.io/library/busybox:1.36
import { CRUN } from '../test/helpers/host-binaries.js';
import { cniAddFloor, ociFloor } from './oci-floor.js';
import {
  benchContainer, benchPod, benchTarget, flag, msSince, pool, printProfile, printTable, rssKiB, stats, stepProfile, supervisorPids,
  type BenchTarget, type Stat,
} from './cri-bench.js';

interface PodTimes {
  id: string;
  run: number;
  create: number;
  start: number;
}

async function startPod(t: BenchTarget, handler: string): Promise<PodTimes> {
  const pod = benchPod(t, 'ps');
  let t0 = process.hrtime.bigint();
  const { pod_sandbox_id: id } = await t.client.call<{ pod_sandbox_id: string }>('runtime', 'RunPodSandbox', { config: pod, runtime_handler: handler });
  const run = msSince(t0);
  t0 = process.hrtime.bigint();
  const { container_id: cid } = await t.client.call<{ container_id: string }>('runtime', 'CreateContainer', {
    pod_sandbox_id: id, config: benchContainer(t.image, 'sleeper', ['sleep', '3600']), sandbox_config: pod,
  });
  const create = msSince(t0);
  t0 = process.hrtime.bigint();
  await t.client.call('runtime', 'StartContainer', { container_id: cid });
  return { id, run, create, start: msSince(t0) };
}

async function stopPod(t: BenchTarget, id: string): Promise<{ stop: number; remove: number }> {
  let t0 = process.hrtime.bigint();
  await t.client.call('runtime', 'StopPodSandbox', { pod_sandbox_id: id });
  const stop = msSince(t0);
  t0 = process.hrtime.bigint();
  await t.client.call('runtime', 'RemovePodSandbox', { pod_sandbox_id: id });
  return { stop, remove: msSince(t0) };
}

interface Phase {
  stats: Stat[];
  startWallMs: number;
  stopWallMs: number;
  supervisors: { count: number; totalRssKiB: number; perPodKiB: number };
  daemonRssKiB?: number;
}

async function phase(t: BenchTarget, n: number, parallel: number, handler: string): Promise<Phase> {
  const label = parallel === 1 ? 'sequential' : `parallel ${parallel}`;
  const before = new Set(supervisorPids(t.scope));
  const pods: PodTimes[] = [];
  let t0 = process.hrtime.bigint();
  const startTotals = await pool(Array.from({ length: n }, (_, i) => i), parallel, async () => { pods.push(await startPod(t, handler)); });
  const startWallMs = msSince(t0);
  // All N pods are running now: what do their supervisors cost?
  const sup = supervisorPids(t.scope).filter((p) => !before.has(p));
  const totalRssKiB = sup.reduce((a, p) => a + rssKiB(p), 0);
  const daemonRssKiB = t.daemonPid ? rssKiB(t.daemonPid) : undefined;
  const teardown: { stop: number; remove: number }[] = [];
  t0 = process.hrtime.bigint();
  const stopTotals = await pool(pods.map((p) => p.id), parallel, async (id) => { teardown.push(await stopPod(t, id)); });
  const stopWallMs = msSince(t0);
  return {
    stats: [
      stats(`${label}: run+create+start (pod start)`, startTotals),
      stats(`${label}:   RunPodSandbox`, pods.map((p) => p.run)),
      stats(`${label}:   CreateContainer`, pods.map((p) => p.create)),
      stats(`${label}:   StartContainer`, pods.map((p) => p.start)),
      stats(`${label}: stop+remove (pod teardown)`, stopTotals),
      stats(`${label}:   StopPodSandbox`, teardown.map((p) => p.stop)),
      stats(`${label}:   RemovePodSandbox`, teardown.map((p) => p.remove)),
    ],
    startWallMs, stopWallMs,
    supervisors: { count: sup.length, totalRssKiB, perPodKiB: Math.round(totalRssKiB / n) },
    daemonRssKiB,
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const n = Number(flag(argv, '--n') ?? 20);
  const parallel = Number(flag(argv, '--parallel') ?? 4);
  const handler = flag(argv, '--handler') ?? '';
  const t = await benchTarget(argv, 'bp', 103);
  let seq: Phase;
  let par: Phase;
  let profile: Record<string, Record<string, number>> | undefined;
  try {
    await t.client.call('image', 'PullImage', { image: { image: t.image } });
    // Warm-up (page cache, binaries, CNI bridge creation), not measured.
    for (let i = 0; i < 2; i++) await stopPod(t, (await startPod(t, handler)).id);
    const logFrom = t.node?.daemon.logs().length ?? 0;
    seq = await phase(t, n, 1, handler);
    // The profile is of the sequential phase: with pods in parallel every step also waits for the CPU.
    if (t.node && flag(argv, '--log-level') === 'debug') profile = stepProfile(t.node.daemon.logs().slice(logFrom));
    par = await phase(t, n, parallel, handler);
  } finally {
    await t.close();
  }
  // The floor of a pod start (issue 14): a raw `crun run` plus the CNI ADD of a default-shaped network.
  const floor = argv.includes('--no-floor') ? [] : [await ociFloor(n, CRUN, true), await cniAddFloor(n)];
  const floorMs = floor.length === 2 ? Math.round((floor[0]!.medianMs + floor[1]!.medianMs) * 100) / 100 : undefined;
  const seqStart = seq.stats[0]!.medianMs;
  const rows = [...floor, ...seq.stats, ...par.stats];
  const report = {
    bench: 'pod-start', target: t.label, n, parallelism: parallel, handler: handler || 'default',
    results: rows,
    sequential: { startWallMs: Math.round(seq.startWallMs), stopWallMs: Math.round(seq.stopWallMs), supervisors: seq.supervisors, daemonRssKiB: seq.daemonRssKiB },
    parallel: {
      startWallMs: Math.round(par.startWallMs), stopWallMs: Math.round(par.stopWallMs), supervisors: par.supervisors, daemonRssKiB: par.daemonRssKiB,
      podsPerSecond: Math.round((n / par.startWallMs) * 1000 * 10) / 10,
    },
    ...(floorMs ? { floorMs, sequentialStartOverFloor: Math.round((seqStart / floorMs) * 100) / 100 } : {}),
    ...(profile ? { profile } : {}),
  };
  console.log(JSON.stringify(report));
  if (!argv.includes('--json-only')) {
    printTable(rows);
    for (const [name, p] of [['sequential', seq], [`parallel ${parallel}`, par]] as const) {
      console.log(`${name}: ${n} pods started in ${Math.round(p.startWallMs)} ms, torn down in ${Math.round(p.stopWallMs)} ms; ` +
        `${p.supervisors.count} supervisors, ${p.supervisors.totalRssKiB} KiB RSS = ${p.supervisors.perPodKiB} KiB per pod` +
        (p.daemonRssKiB ? `; daemon RSS ${Math.round(p.daemonRssKiB / 1024)} MiB` : ''));
    }
    if (floorMs) console.log(`floor (crun run + CNI ADD) ${floorMs} ms; sequential pod start ${seqStart} ms = ${Math.round((seqStart / floorMs) * 100) / 100}x the floor`);
    if (profile) printProfile(profile);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
