// ListMetricDescriptors and ListPodSandboxMetrics: cAdvisor-named metrics for a kubelet configured with
// PodAndContainerStatsFromCRI, which turns them into its /metrics/cadvisor endpoint. Labels follow CRI-O:
// id, name, image (plus interface for network series); the kubelet adds pod, namespace and container.
// Metric values are u64 in the CRI, so *_seconds_total is whole seconds.
import type { MetricDescriptor } from '../generated/runtime/v1/MetricDescriptor.js';
import type { Metric } from '../generated/runtime/v1/Metric.js';
import type { PodSandboxMetrics } from '../generated/runtime/v1/PodSandboxMetrics.js';
import type { Container } from '../container/types.js';
import type { ContainerSample, PodSample } from '../stats/stats-collector.js';
import { containerTarget, podTarget, type StatsSources } from './stats-handlers.js';

const BASE = ['id', 'name', 'image'];
const NET = [...BASE, 'interface'];

type Kind = 'COUNTER' | 'GAUGE';
interface Def { name: string; help: string; keys: string[]; kind: Kind }

export const CONTAINER_METRICS: Def[] = [
  { name: 'container_cpu_usage_seconds_total', help: 'Cumulative cpu time consumed in seconds.', keys: BASE, kind: 'COUNTER' },
  { name: 'container_memory_usage_bytes', help: 'Current memory usage in bytes, including all memory regardless of when it was accessed.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_memory_working_set_bytes', help: 'Current working set in bytes.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_memory_rss', help: 'Size of RSS in bytes.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_spec_memory_limit_bytes', help: 'Memory limit for the container.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_processes', help: 'Number of processes running inside the container.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_fs_usage_bytes', help: 'Number of bytes that are consumed by the container on this filesystem.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_fs_inodes_used', help: 'Number of inodes used by the container on this filesystem.', keys: BASE, kind: 'GAUGE' },
];

export const POD_METRICS: Def[] = [
  { name: 'container_network_receive_bytes_total', help: 'Cumulative count of bytes received.', keys: NET, kind: 'COUNTER' },
  { name: 'container_network_transmit_bytes_total', help: 'Cumulative count of bytes transmitted.', keys: NET, kind: 'COUNTER' },
  { name: 'container_network_receive_errors_total', help: 'Cumulative count of errors encountered while receiving.', keys: NET, kind: 'COUNTER' },
  { name: 'container_network_transmit_errors_total', help: 'Cumulative count of errors encountered while transmitting.', keys: NET, kind: 'COUNTER' },
];

export function metricDescriptors(): MetricDescriptor[] {
  return [...CONTAINER_METRICS, ...POD_METRICS].map((d) => ({ name: d.name, help: d.help, label_keys: d.keys }));
}

const KIND = new Map([...CONTAINER_METRICS, ...POD_METRICS].map((d) => [d.name, d.kind]));

function metric(name: string, atNs: bigint, labels: string[], value: bigint | number | undefined): Metric[] {
  if (value === undefined) return [];
  return [{ name, timestamp: String(atNs), metric_type: KIND.get(name) ?? 'GAUGE', label_values: labels, value: { value: String(value) } }];
}

/** The metrics of one container sample. Pure. */
export function containerMetrics(c: { id: string; name: string; image: string }, s: ContainerSample): Metric[] {
  const l = [c.id, c.name, c.image];
  const t = s.atNs;
  return [
    ...metric('container_cpu_usage_seconds_total', t, l, s.cpu && s.cpu.usageNs / 1_000_000_000n),
    ...metric('container_memory_usage_bytes', t, l, s.memory?.usageBytes),
    ...metric('container_memory_working_set_bytes', t, l, s.memory?.workingSetBytes),
    ...metric('container_memory_rss', t, l, s.memory?.rssBytes),
    ...metric('container_spec_memory_limit_bytes', t, l, s.memory ? s.memory.limitBytes ?? 0n : undefined),
    ...metric('container_processes', t, l, s.processCount),
    ...metric('container_fs_usage_bytes', t, l, s.writable?.bytes),
    ...metric('container_fs_inodes_used', t, l, s.writable?.inodes),
  ];
}

/** The pod-level (network) metrics of one pod sample. Pure. */
export function podMetrics(p: { id: string; name: string }, s: PodSample): Metric[] {
  const out: Metric[] = [];
  for (const i of s.network?.interfaces ?? []) {
    const l = [p.id, p.name, '', i.name];
    out.push(
      ...metric('container_network_receive_bytes_total', s.atNs, l, i.rxBytes),
      ...metric('container_network_transmit_bytes_total', s.atNs, l, i.txBytes),
      ...metric('container_network_receive_errors_total', s.atNs, l, i.rxErrors),
      ...metric('container_network_transmit_errors_total', s.atNs, l, i.txErrors),
    );
  }
  return out;
}

export function makeMetricsHandlers(src: StatsSources) {
  return {
    ListMetricDescriptors: async (): Promise<{ descriptors: MetricDescriptor[] }> => ({ descriptors: metricDescriptors() }),
    ListPodSandboxMetrics: async (): Promise<{ pod_metrics: PodSandboxMetrics[] }> => {
      const all = (await src.containers.list()).filter((c) => c.state === 'running' || c.state === 'created');
      const pods = src.pods.list().filter((p) => p.state === 'ready');
      const pod_metrics = await Promise.all(pods.map(async (p) => {
        const mine: Container[] = all.filter((c) => c.podId === p.id);
        const [ps, cs] = await Promise.all([
          src.collector.pod(podTarget(p, mine.filter((c) => c.state === 'running'))),
          Promise.all(mine.map(async (c) => ({ c, s: await src.collector.container(containerTarget(src, c, p)) }))),
        ]);
        return {
          pod_sandbox_id: p.id,
          metrics: podMetrics({ id: p.id, name: p.name }, ps),
          container_metrics: cs.map(({ c, s }) => ({
            container_id: c.id,
            metrics: containerMetrics({ id: c.id, name: c.name, image: c.imageRef }, s),
          })),
        };
      }));
      return { pod_metrics };
    },
  };
}
