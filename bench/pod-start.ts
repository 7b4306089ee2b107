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
// With --peer containerd, the same phases run in one process against crius's own node and a private
// containerd (Debian's package, unpacked, never installed; see peer-containerd.ts) with the same client,
// busybox image, crun and CNI plugins, in alternating batches (--rounds R, default 2: the N pods of each
// phase in R batches per runtime, crius first in odd rounds, containerd first in even ones), and prints
// crius/containerd ratios. Pods are plain (no user namespace). Both nodes are checked for leaks after.
// --network shipped gives both crius's shipped ptp network instead of the tests' bridge.
//   node dist/bench/pod-start.js --peer containerd [--peer-suite trixie|bookworm] [--network shipped] [--n 20] [--rounds 2]
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { CRUN } from '../test/helpers/host-binaries.js';
import { nodeLeaks } from '../test/helpers/leak-check.js';
import { cniAddFloor, FLOOR_APART_MS, ociFloor } from './oci-floor.js';
import {
  benchContainer, benchPod, benchTarget, flag, msSince, pool, printProfile, printTable, rssKiB, stats, stepProfile, supervisorPids,
  type BenchTarget, type Stat,
} from './cri-bench.js';
import { pushPauseImage, startPeerContainerd, type PeerContainerd } from './peer-containerd.js';

interface PodTimes {
  id: string;
  cid: string;
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
  return { id, cid, run, create, start: msSince(t0) };
}

async function stopPod(t: BenchTarget, id: string): Promise<{ stop: number; remove: number }> {
  let t0 = process.hrtime.bigint();
  await t.client.call('runtime', 'StopPodSandbox', { pod_sandbox_id: id });
  const stop = msSince(t0);
  t0 = process.hrtime.bigint();
  await t.client.call('runtime', 'RemovePodSandbox', { pod_sandbox_id: id });
  return { stop, remove: msSince(t0) };
}

/** The raw durations of one phase (or of several batches of it, concatenated). */
interface Samples {
  start: number[]; run: number[]; create: number[]; startCtr: number[];
  stop: number[]; stopPod: number[]; removePod: number[];
}

interface Phase {
  stats: Stat[];
  samples: Samples;
  startWallMs: number;
  stopWallMs: number;
  supervisors: { count: number; totalRssKiB: number; perPodKiB: number };
  /** What the supervisors run besides the workload (containerd's pause; none for crius's plain pods). */
  infra: { count: number; totalRssKiB: number };
  daemonRssKiB?: number;
  /** Pod and container IDs, for the leak checks. */
  ids: string[];
  podIds: string[];
}

function phaseStats(label: string, x: Samples): Stat[] {
  return [
    stats(`${label}: run+create+start (pod start)`, x.start),
    stats(`${label}:   RunPodSandbox`, x.run),
    stats(`${label}:   CreateContainer`, x.create),
    stats(`${label}:   StartContainer`, x.startCtr),
    stats(`${label}: stop+remove (pod teardown)`, x.stop),
    stats(`${label}:   StopPodSandbox`, x.stopPod),
    stats(`${label}:   RemovePodSandbox`, x.removePod),
  ];
}

/** Children of the supervisors other than the pods' `sleep`: the infra (pause) processes. */
function infraPids(supervisors: number[]): number[] {
  const sup = new Set(supervisors);
  const out: number[] = [];
  for (const pid of supervisors) {
    let children: string[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch { /* gone */ }
    for (const c of children.map(Number)) {
      let comm = '';
      try { comm = readFileSync(`/proc/${c}/comm`, 'utf8').trim(); } catch { /* gone */ }
      if (comm && comm !== 'sleep' && !sup.has(c)) out.push(c);
    }
  }
  return out;
}

async function phase(t: BenchTarget, n: number, parallel: number, handler: string, labelPrefix = ''): Promise<Phase> {
  const label = `${labelPrefix}${parallel === 1 ? 'sequential' : `parallel ${parallel}`}`;
  const before = new Set(supervisorPids(t.scope));
  const pods: PodTimes[] = [];
  let t0 = process.hrtime.bigint();
  const startTotals = await pool(Array.from({ length: n }, (_, i) => i), parallel, async () => { pods.push(await startPod(t, handler)); });
  const startWallMs = msSince(t0);
  // All N pods are running now: what do their supervisors cost?
  const sup = supervisorPids(t.scope).filter((p) => !before.has(p));
  const totalRssKiB = sup.reduce((a, p) => a + rssKiB(p), 0);
  const infra = infraPids(sup);
  const infraRssKiB = infra.reduce((a, p) => a + rssKiB(p), 0);
  const daemonRssKiB = t.daemonPid ? rssKiB(t.daemonPid) : undefined;
  const teardown: { stop: number; remove: number }[] = [];
  t0 = process.hrtime.bigint();
  const stopTotals = await pool(pods.map((p) => p.id), parallel, async (id) => { teardown.push(await stopPod(t, id)); });
  const stopWallMs = msSince(t0);
  const samples: Samples = {
    start: startTotals, run: pods.map((p) => p.run), create: pods.map((p) => p.create), startCtr: pods.map((p) => p.start),
    stop: stopTotals, stopPod: teardown.map((p) => p.stop), removePod: teardown.map((p) => p.remove),
  };
  return {
    stats: phaseStats(label, samples), samples,
    startWallMs, stopWallMs,
    supervisors: { count: sup.length, totalRssKiB, perPodKiB: Math.round(totalRssKiB / n) },
    infra: { count: infra.length, totalRssKiB: infraRssKiB },
    daemonRssKiB,
    ids: pods.flatMap((p) => [p.id, p.cid]),
    podIds: pods.map((p) => p.id),
  };
}

/** Batches of one phase as one: samples concatenated, walls and RSS summed, daemon RSS the largest. */
function mergePhases(label: string, ps: Phase[]): Phase {
  const cat = (k: keyof Samples): number[] => ps.flatMap((p) => p.samples[k]);
  const samples: Samples = {
    start: cat('start'), run: cat('run'), create: cat('create'), startCtr: cat('startCtr'), stop: cat('stop'), stopPod: cat('stopPod'), removePod: cat('removePod'),
  };
  const n = samples.start.length;
  const count = ps.reduce((a, p) => a + p.supervisors.count, 0);
  const totalRssKiB = ps.reduce((a, p) => a + p.supervisors.totalRssKiB, 0);
  const daemon = ps.map((p) => p.daemonRssKiB).filter((x): x is number => x !== undefined);
  return {
    stats: phaseStats(label, samples), samples,
    startWallMs: ps.reduce((a, p) => a + p.startWallMs, 0), stopWallMs: ps.reduce((a, p) => a + p.stopWallMs, 0),
    // Supervisor RSS as the mean over the batches (each batch's pods all running at once).
    supervisors: { count, totalRssKiB, perPodKiB: Math.round(totalRssKiB / n) },
    infra: { count: ps.reduce((a, p) => a + p.infra.count, 0), totalRssKiB: ps.reduce((a, p) => a + p.infra.totalRssKiB, 0) },
    ...(daemon.length ? { daemonRssKiB: Math.max(...daemon) } : {}),
    ids: ps.flatMap((p) => p.ids),
    podIds: ps.flatMap((p) => p.podIds),
  };
}

const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;

function phaseSummary(p: Phase, parallel: number, n: number): Record<string, unknown> {
  return {
    startWallMs: Math.round(p.startWallMs), stopWallMs: Math.round(p.stopWallMs), supervisors: p.supervisors,
    infra: p.infra, daemonRssKiB: p.daemonRssKiB,
    ...(parallel > 1 ? { podsPerSecond: Math.round((n / p.startWallMs) * 1000 * 10) / 10 } : {}),
  };
}

function phaseLine(name: string, p: Phase, n: number): string {
  return `${name}: ${n} pods started in ${Math.round(p.startWallMs)} ms, torn down in ${Math.round(p.stopWallMs)} ms; ` +
    `${p.supervisors.count} supervisors, ${p.supervisors.totalRssKiB} KiB RSS = ${p.supervisors.perPodKiB} KiB per pod` +
    (p.infra.count ? `; ${p.infra.count} infra (pause) processes, ${Math.round(p.infra.totalRssKiB / p.infra.count)} KiB each` : '') +
    (p.daemonRssKiB ? `; daemon RSS ${Math.round(p.daemonRssKiB / 1024)} MiB` : '');
}

/**
 * The floor of a pod start (issue 14): a raw `crun run` plus the CNI ADD of the network the measured pods
 * get (the bench node's bridge, or crius's default with --network shipped). Also with the runs
 * FLOOR_APART_MS apart (`floorApartMs`): back to back, a run's cgroup attach is cheap on this cgroup v1
 * host, which a pod's container, created after a pause, does not get (oci-floor.ts says why).
 */
async function floorRows(argv: string[], n: number): Promise<{ floor: Stat[]; floorMs?: number; floorApartMs?: number }> {
  if (argv.includes('--no-floor')) return { floor: [] };
  const network = ['shipped', 'ptp'].includes(flag(argv, '--network') ?? '') ? 'shipped' as const : 'bridge' as const;
  const [run, apart, cni] = [await ociFloor(n, CRUN, true), await ociFloor(n, CRUN, true, FLOOR_APART_MS), await cniAddFloor(n, network)];
  const sum = (a: Stat, b: Stat): number => Math.round((a.medianMs + b.medianMs) * 100) / 100;
  return { floor: [run, apart, cni], floorMs: sum(run, cni), floorApartMs: sum(apart, cni) };
}

/**
 * --peer containerd: crius's own node and a private containerd side by side, batches alternating, then
 * leak checks of both. Both get the same busybox image from the node's registry; containerd's sandboxes
 * run a pause image made of crius's static infra binary (crius runs no infra process for these pods).
 */
async function mainPeer(argv: string[], n: number, parallel: number, handler: string): Promise<void> {
  const peerName = flag(argv, '--peer');
  if (peerName !== 'containerd') throw new Error(`--peer ${peerName ?? ''}: only "containerd" is known`);
  if (flag(argv, '--endpoint')) throw new Error('--peer and --endpoint exclude each other: --peer starts both runtimes itself');
  const suite = flag(argv, '--peer-suite') ?? 'trixie';
  if (suite !== 'trixie' && suite !== 'bookworm') throw new Error(`--peer-suite ${suite}: trixie (containerd 1.7) or bookworm (1.6)`);
  const rounds = Number(flag(argv, '--rounds') ?? 2);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > n) throw new Error(`--rounds ${rounds}: a whole number from 1 to --n`);
  const load = (): number[] => loadavg().map((x) => Math.round(x * 100) / 100);
  const loadBefore = load();
  const own = await benchTarget(argv, 'bp', 103);
  const node = own.node!;
  let peer: PeerContainerd | undefined;
  const results = new Map<string, Phase[]>();
  const leaks: string[] = [];
  let peerLabel = 'containerd';
  let peerVersion = '';
  let peerStartMs = 0;
  // Stopping both nodes, once: from the finally below, or on Ctrl-C / SIGTERM, which would otherwise
  // leave containerd and its shims running (they are not our children's children to the kernel: the
  // shims are re-parented), and crius's node with them.
  let cleanup: Promise<void> | undefined;
  const stopBoth = (): Promise<void> => (cleanup ??= (async () => {
    if (peer) leaks.push(...(await peer.stop()).map((l) => `containerd stop: ${l}`));
    await own.close();
  })());
  const onSignal = (sig: NodeJS.Signals): void => {
    console.error(`${sig}: stopping containerd and crius`);
    void stopBoth().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const sandboxImage = await pushPauseImage(node.registry.url, node.registry.host);
    peer = await startPeerContainerd({ registryHost: node.registry.host, sandboxImage, tag: 'bp', subnet: 120, suite,
      ...(['shipped', 'ptp'].includes(flag(argv, '--network') ?? '') ? { network: 'shipped' as const } : {}), log: (s) => console.error(s) });
    peerStartMs = peer.readyMs;
    peerVersion = peer.pkg.versionLine;
    peerLabel = `containerd ${peer.pkg.version}`;
    const theirs: BenchTarget = {
      client: peer.client, image: own.image, label: `${peerLabel} (private, crun)`, logDir: join(node.dir, 'peer-logs'),
      scope: peer.scope, daemonPid: peer.pid, close: async () => undefined,
    };
    const targets = [{ name: 'crius', t: own }, { name: 'containerd', t: theirs }];
    await peer.client.call('image', 'PullImage', { image: { image: sandboxImage } });
    for (const { t } of targets) {
      await t.client.call('image', 'PullImage', { image: { image: t.image } });
      // Warm-up (page cache, binaries, CNI bridge creation), not measured.
      for (let i = 0; i < 2; i++) await stopPod(t, (await startPod(t, handler)).id);
    }
    const sizes = Array.from({ length: rounds }, (_, i) => Math.floor((n * (i + 1)) / rounds) - Math.floor((n * i) / rounds));
    for (const p of [1, parallel]) {
      for (let r = 0; r < rounds; r++) {
        // ABBA: whichever runs second in a round runs first in the next, so drift in the host's load
        // does not favour one runtime.
        for (const { name, t } of r % 2 === 0 ? targets : [...targets].reverse()) {
          const key = `${name} ${p}`;
          results.set(key, [...(results.get(key) ?? []), await phase(t, sizes[r]!, p, handler, `${name} `)]);
        }
      }
    }
    const of = (name: string): Phase[] => [...results].filter(([k]) => k.startsWith(`${name} `)).flatMap(([, ps]) => ps);
    leaks.push(...(await peer.leaks(of('containerd').flatMap((x) => x.ids))).map((l) => `containerd: ${l}`));
    leaks.push(...(await nodeLeaks(node, 'bp', of('crius').flatMap((x) => x.podIds))).map((l) => `crius: ${l}`));
  } finally {
    await stopBoth();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const loadAfter = load();
  const { floor, floorMs, floorApartMs } = await floorRows(argv, n);
  const get = (name: string, p: number): Phase => mergePhases(`${name} ${p === 1 ? 'sequential' : `parallel ${p}`}`, results.get(`${name} ${p}`)!);
  const phases = { crius: { seq: get('crius', 1), par: get('crius', parallel) }, containerd: { seq: get('containerd', 1), par: get('containerd', parallel) } };
  const med = (p: Phase, i: number): number => p.stats[i]!.medianMs;
  const ratios = {
    sequentialStart: ratio(med(phases.crius.seq, 0), med(phases.containerd.seq, 0)),
    sequentialTeardown: ratio(med(phases.crius.seq, 4), med(phases.containerd.seq, 4)),
    parallelStart: ratio(med(phases.crius.par, 0), med(phases.containerd.par, 0)),
    parallelTeardown: ratio(med(phases.crius.par, 4), med(phases.containerd.par, 4)),
    supervisorRssPerPod: ratio(phases.crius.seq.supervisors.perPodKiB, phases.containerd.seq.supervisors.perPodKiB),
  };
  const rows = [...floor, ...phases.crius.seq.stats, ...phases.containerd.seq.stats, ...phases.crius.par.stats, ...phases.containerd.par.stats];
  const report = {
    bench: 'pod-start', peer: 'containerd', peerVersion, peerStartMs, n, rounds, parallelism: parallel, handler: handler || 'default',
    loadavg: { before: loadBefore, after: loadAfter },
    results: rows,
    crius: { sequential: phaseSummary(phases.crius.seq, 1, n), parallel: phaseSummary(phases.crius.par, parallel, n) },
    containerd: { sequential: phaseSummary(phases.containerd.seq, 1, n), parallel: phaseSummary(phases.containerd.par, parallel, n) },
    criusOverContainerd: ratios,
    ...(floorMs ? { floorMs, criusSequentialStartOverFloor: ratio(med(phases.crius.seq, 0), floorMs), containerdSequentialStartOverFloor: ratio(med(phases.containerd.seq, 0), floorMs) } : {}),
    ...(floorApartMs ? { floorApartMs, criusSequentialStartOverFloorApart: ratio(med(phases.crius.seq, 0), floorApartMs), containerdSequentialStartOverFloorApart: ratio(med(phases.containerd.seq, 0), floorApartMs) } : {}),
    leaks,
  };
  console.log(JSON.stringify(report));
  if (!argv.includes('--json-only')) {
    printTable(rows);
    for (const name of ['crius', 'containerd'] as const) {
      console.log(phaseLine(`${name} sequential`, phases[name].seq, n));
      console.log(phaseLine(`${name} parallel ${parallel}`, phases[name].par, n));
    }
    console.log(`peer: ${peerVersion} (ready in ${peerStartMs} ms), crun ${CRUN}; ${rounds} alternating rounds per phase`);
    console.log(`crius / containerd (medians): sequential start ${ratios.sequentialStart}x, sequential teardown ${ratios.sequentialTeardown}x, ` +
      `parallel ${parallel} start ${ratios.parallelStart}x, teardown ${ratios.parallelTeardown}x; supervisor RSS per pod ${ratios.supervisorRssPerPod}x`);
    if (floorMs) console.log(`floor (crun run + CNI ADD) ${floorMs} ms; sequential pod start: crius ${report.criusSequentialStartOverFloor}x, containerd ${report.containerdSequentialStartOverFloor}x the floor`);
    if (floorApartMs) console.log(`floor with runs ${FLOOR_APART_MS} ms apart ${floorApartMs} ms; sequential pod start: crius ${report.criusSequentialStartOverFloorApart}x, containerd ${report.containerdSequentialStartOverFloorApart}x that floor`);
    console.log(`load average before ${loadBefore.join(' ')}, after ${loadAfter.join(' ')}`);
    console.log(leaks.length === 0 ? 'leaks: none' : `LEAKS (${leaks.length}):\n  ${leaks.slice(0, 30).join('\n  ')}`);
  }
  if (leaks.length > 0) process.exitCode = 1;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const n = Number(flag(argv, '--n') ?? 20);
  const parallel = Number(flag(argv, '--parallel') ?? 4);
  const handler = flag(argv, '--handler') ?? '';
  if (flag(argv, '--peer') !== undefined) return mainPeer(argv, n, parallel, handler);
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
  const { floor, floorMs, floorApartMs } = await floorRows(argv, n);
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
    ...(floorApartMs ? { floorApartMs, sequentialStartOverFloorApart: Math.round((seqStart / floorApartMs) * 100) / 100 } : {}),
    ...(profile ? { profile } : {}),
  };
  console.log(JSON.stringify(report));
  if (!argv.includes('--json-only')) {
    printTable(rows);
    for (const [name, p] of [['sequential', seq], [`parallel ${parallel}`, par]] as const) console.log(phaseLine(name, p, n));
    if (floorMs) console.log(`floor (crun run + CNI ADD) ${floorMs} ms; sequential pod start ${seqStart} ms = ${Math.round((seqStart / floorMs) * 100) / 100}x the floor`);
    if (floorApartMs) console.log(`floor with runs ${FLOOR_APART_MS} ms apart ${floorApartMs} ms; sequential pod start = ${Math.round((seqStart / floorApartMs) * 100) / 100}x that floor`);
    if (profile) printProfile(profile);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
