// ListContainerStats latency with many running containers (the kubelet polls it every ~10 s, plus
// ListPodSandboxStats for the summary API), median and p95 over N calls. The floor, measured in the same
// run on the same endpoint: Version (the gRPC round trip) and ListContainerStats with no containers.
//
//   node dist/bench/list-container-stats.js [--endpoint unix:///run/x.sock --image REF] [--containers 100]
//        [--pods 10] [--runs 50]
// Without --endpoint it starts its own crius node (local registry + busybox image). Against any other CRI
// runtime pass --endpoint and an --image it can pull (busybox: the containers run `sleep`).
import { parseArgs } from 'node:util';
import { connectCri, type CriClient } from '../src/cli/client.js';
import { startCriNode, type CriNode } from '../test/helpers/cri-fixture.js';

const { values } = parseArgs({
  options: {
    endpoint: { type: 'string' },
    image: { type: 'string' },
    containers: { type: 'string', default: '100' },
    pods: { type: 'string', default: '10' },
    runs: { type: 'string', default: '50' },
  },
});
const CONTAINERS = Number(values.containers);
const PODS = Math.max(1, Math.min(Number(values.pods), CONTAINERS));
const RUNS = Number(values.runs);

const quantile = (xs: number[], q: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]!; };
const r2 = (x: number): number => Math.round(x * 100) / 100;

let node: CriNode | undefined;
let client: CriClient;
let image: string;
if (values.endpoint) {
  if (!values.image) throw new Error('--endpoint needs --image (a busybox image the runtime can pull)');
  client = connectCri(values.endpoint);
  image = values.image;
} else {
  node = await startCriNode({ tag: 'bn', subnet: 98 });
  client = node.daemon.client;
  image = node.image;
}
const call = <T = Record<string, any>>(m: string, req: object): Promise<T> => client.call<T>('runtime', m, req, 300_000);

async function timeCalls(method: string, req: object, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await call(method, req);
    out.push(performance.now() - t);
  }
  return out;
}

const summary = (xs: number[]): { median_ms: number; p95_ms: number; n: number } => ({ median_ms: r2(quantile(xs, 0.5)), p95_ms: r2(quantile(xs, 0.95)), n: xs.length });
const tag = `lcs-${process.pid}`;
const podIds: string[] = [];
try {
  await client.call('image', 'PullImage', { image: { image } }, 300_000);
  // Floors first, on the same endpoint: gRPC round trip and the RPC with nothing (of ours) to sample.
  await timeCalls('Version', {}, 5);
  const versionMs = await timeCalls('Version', {}, RUNS);
  const emptyMs = await timeCalls('ListContainerStats', { filter: { label_selector: { bench: tag } } }, RUNS);

  const t0 = performance.now();
  let made = 0;
  for (let p = 0; p < PODS; p++) {
    const name = `lcs${p}`;
    const podCfg = {
      metadata: { name, namespace: 'bench', uid: `${tag}-${p}`, attempt: 0 }, hostname: name, labels: { bench: tag },
      linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } },
    };
    const { pod_sandbox_id: podId } = await call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: podCfg });
    podIds.push(podId);
    const mine = Math.floor(CONTAINERS / PODS) + (p < CONTAINERS % PODS ? 1 : 0);
    for (let c = 0; c < mine; c++) {
      const cfg = {
        metadata: { name: `s${c}`, attempt: 0 }, image: { image }, command: ['sleep', '100000'], labels: { bench: tag },
        linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } },
      };
      const { container_id: id } = await call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: cfg, sandbox_config: podCfg });
      await call('StartContainer', { container_id: id });
      made++;
    }
  }
  const setupS = (performance.now() - t0) / 1000;
  const check = await call<{ stats: unknown[] }>('ListContainerStats', { filter: { label_selector: { bench: tag } } });
  if (check.stats.length !== made) throw new Error(`ListContainerStats returned ${check.stats.length} of ${made} containers`);
  await timeCalls('ListContainerStats', {}, 3);
  const allMs = await timeCalls('ListContainerStats', {}, RUNS);
  // What any stats call pays to enumerate the containers (and notice exits), without sampling them.
  const listMs = await timeCalls('ListContainers', {}, RUNS);
  const podStatsMs = await timeCalls('ListPodSandboxStats', {}, Math.max(5, Math.floor(RUNS / 2)));
  const oneMs = await timeCalls('ContainerStats', { container_id: (check.stats[0] as { attributes: { id: string } }).attributes.id }, RUNS);

  const result = {
    bench: 'list-container-stats',
    endpoint: values.endpoint ?? 'crius (own node)',
    containers: made, pods: PODS, runs: RUNS, setup_s: r2(setupS),
    floor: { version: summary(versionMs), list_container_stats_empty: summary(emptyMs) },
    list_containers: summary(listMs),
    list_container_stats: summary(allMs),
    list_pod_sandbox_stats: summary(podStatsMs),
    container_stats_one: summary(oneMs),
  };
  console.log(JSON.stringify(result));
  console.log('');
  console.log('call                              median ms   p95 ms');
  const row = (n: string, s: { median_ms: number; p95_ms: number }): void => console.log(`${n.padEnd(34)}${String(s.median_ms).padStart(9)}${String(s.p95_ms).padStart(9)}`);
  row('Version (floor)', result.floor.version);
  row('ListContainerStats, 0 (floor)', result.floor.list_container_stats_empty);
  row(`ListContainers, ${made}`, result.list_containers);
  row(`ListContainerStats, ${made}`, result.list_container_stats);
  row(`ListPodSandboxStats, ${PODS} pods`, result.list_pod_sandbox_stats);
  row('ContainerStats, 1', result.container_stats_one);
} finally {
  for (const id of podIds) {
    await call('StopPodSandbox', { pod_sandbox_id: id }).catch(() => undefined);
    await call('RemovePodSandbox', { pod_sandbox_id: id }).catch((e: Error) => console.error(`remove pod ${id}: ${e.message}`));
  }
  if (node) await node.cleanup();
  else client.close();
}
