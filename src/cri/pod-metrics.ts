// ListMetricDescriptors and ListPodSandboxMetrics: cAdvisor-named metrics for a kubelet configured with
// PodAndContainerStatsFromCRI, which turns them into its /metrics/cadvisor endpoint. Labels follow CRI-O:
// id, name, image (plus interface for network series); the kubelet adds pod, namespace and container.
// Metric values are u64 in the CRI, so *_seconds_total is whole seconds.
import type { MetricDescriptor } from '../generated/runtime/v1/MetricDescriptor.js';
import type { Metric } from '../generated/runtime/v1/Metric.js';
import type { PodSandboxMetrics } from '../generated/runtime/v1/PodSandboxMetrics.js';
import type { Container } from '../container/types.js';
import type { ContainerDetail, ContainerSample, PodSample } from '../stats/stats-collector.js';
import { readWriteByDevice } from '../cgroup/cadvisor-parsers.js';
import { containerTarget, podTarget, type StatsSources } from './stats-handlers.js';

const BASE = ['id', 'name', 'image'];
const NET = [...BASE, 'interface'];
// cAdvisor's extra labels: the filesystem's device; block devices by number and operation; page-fault kind.
const FS = [...BASE, 'device'];
const BLKIO = [...BASE, 'device', 'major', 'minor', 'operation'];
const FAIL = [...BASE, 'failure_type', 'scope'];

type Kind = 'COUNTER' | 'GAUGE';
interface Def { name: string; help: string; keys: string[]; kind: Kind }

const CONTAINER_METRICS: Def[] = [
  { name: 'container_cpu_usage_seconds_total', help: 'Cumulative cpu time consumed in seconds.', keys: BASE, kind: 'COUNTER' },
  { name: 'container_memory_usage_bytes', help: 'Current memory usage in bytes, including all memory regardless of when it was accessed.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_memory_working_set_bytes', help: 'Current working set in bytes.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_memory_rss', help: 'Size of RSS in bytes.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_spec_memory_limit_bytes', help: 'Memory limit for the container.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_processes', help: 'Number of processes running inside the container.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_fs_usage_bytes', help: 'Number of bytes that are consumed by the container on this filesystem.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_fs_inodes_used', help: 'Number of inodes used by the container on this filesystem.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_cpu_cfs_periods_total', help: 'Number of elapsed enforcement period intervals.', keys: BASE, kind: 'COUNTER' },
  { name: 'container_cpu_cfs_throttled_periods_total', help: 'Number of throttled period intervals.', keys: BASE, kind: 'COUNTER' },
  { name: 'container_cpu_cfs_throttled_seconds_total', help: 'Total time duration the container has been throttled.', keys: BASE, kind: 'COUNTER' },
  { name: 'container_cpu_system_seconds_total', help: 'Cumulative system cpu time consumed in seconds.', keys: BASE, kind: 'COUNTER' },
  { name: 'container_cpu_user_seconds_total', help: 'Cumulative user cpu time consumed in seconds.', keys: BASE, kind: 'COUNTER' },
  { name: 'container_spec_cpu_period', help: 'CPU period of the container.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_spec_cpu_shares', help: 'CPU share of the container.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_memory_cache', help: 'Number of bytes of page cache memory.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_memory_mapped_file', help: 'Size of memory mapped files in bytes.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_memory_swap', help: 'Container swap usage in bytes.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_memory_failcnt', help: 'Number of memory usage hits limits.', keys: BASE, kind: 'COUNTER' },
  { name: 'container_memory_failures_total', help: 'Cumulative count of memory allocation failures.', keys: FAIL, kind: 'COUNTER' },
  { name: 'container_memory_kernel_usage', help: 'Size of kernel memory allocated in bytes.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_memory_max_usage_bytes', help: 'Maximum memory usage recorded in bytes.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_oom_events_total', help: 'Count of out of memory events observed for the container.', keys: BASE, kind: 'COUNTER' },
  { name: 'container_spec_memory_swap_limit_bytes', help: 'Memory swap limit for the container.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_blkio_device_usage_total', help: 'Blkio device bytes usage.', keys: BLKIO, kind: 'COUNTER' },
  { name: 'container_fs_reads_bytes_total', help: 'Cumulative count of bytes read.', keys: FS, kind: 'COUNTER' },
  { name: 'container_fs_reads_total', help: 'Cumulative count of reads completed.', keys: FS, kind: 'COUNTER' },
  { name: 'container_fs_writes_bytes_total', help: 'Cumulative count of bytes written.', keys: FS, kind: 'COUNTER' },
  { name: 'container_fs_writes_total', help: 'Cumulative count of writes completed.', keys: FS, kind: 'COUNTER' },
  { name: 'container_fs_limit_bytes', help: 'Number of bytes that can be consumed by the container on this filesystem.', keys: FS, kind: 'GAUGE' },
  { name: 'container_fs_inodes_free', help: 'Number of available Inodes.', keys: FS, kind: 'GAUGE' },
  { name: 'container_fs_inodes_total', help: 'Number of Inodes.', keys: FS, kind: 'GAUGE' },
  { name: 'container_threads', help: 'Number of threads running inside the container.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_threads_max', help: 'Maximum number of threads allowed inside the container, infinity if value is zero.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_file_descriptors', help: 'Number of open file descriptors for the container.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_sockets', help: 'Number of open sockets for the container.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_start_time_seconds', help: 'Start time of the container since unix epoch in seconds.', keys: BASE, kind: 'GAUGE' },
  { name: 'container_last_seen', help: 'Last time a container was seen by the exporter.', keys: BASE, kind: 'GAUGE' },
];

const POD_METRICS: Def[] = [
  { name: 'container_network_receive_bytes_total', help: 'Cumulative count of bytes received.', keys: NET, kind: 'COUNTER' },
  { name: 'container_network_transmit_bytes_total', help: 'Cumulative count of bytes transmitted.', keys: NET, kind: 'COUNTER' },
  { name: 'container_network_receive_errors_total', help: 'Cumulative count of errors encountered while receiving.', keys: NET, kind: 'COUNTER' },
  { name: 'container_network_transmit_errors_total', help: 'Cumulative count of errors encountered while transmitting.', keys: NET, kind: 'COUNTER' },
  { name: 'container_network_receive_packets_total', help: 'Cumulative count of packets received.', keys: NET, kind: 'COUNTER' },
  { name: 'container_network_receive_packets_dropped_total', help: 'Cumulative count of packets dropped while receiving.', keys: NET, kind: 'COUNTER' },
  { name: 'container_network_transmit_packets_total', help: 'Cumulative count of packets transmitted.', keys: NET, kind: 'COUNTER' },
  { name: 'container_network_transmit_packets_dropped_total', help: 'Cumulative count of packets dropped while transmitting.', keys: NET, kind: 'COUNTER' },
];

export function metricDescriptors(): MetricDescriptor[] {
  return [...CONTAINER_METRICS, ...POD_METRICS].map((d) => ({ name: d.name, help: d.help, label_keys: d.keys }));
}

const KIND = new Map([...CONTAINER_METRICS, ...POD_METRICS].map((d) => [d.name, d.kind]));

function metric(name: string, atNs: bigint, labels: string[], value: bigint | number | undefined): Metric[] {
  if (value === undefined) return [];
  return [{ name, timestamp: String(atNs), metric_type: KIND.get(name) ?? 'GAUGE', label_values: labels, value: { value: String(value) } }];
}

const NS = 1_000_000_000n;
const secs = (ns: bigint | undefined): bigint | undefined => (ns === undefined ? undefined : ns / NS);

/**
 * The metrics of one container sample, plus the cAdvisor-only detail when read (ListPodSandboxMetrics).
 * startedAtNs: when the container started (the store's started_at), for container_start_time_seconds. Pure.
 */
export function containerMetrics(c: { id: string; name: string; image: string; startedAtNs?: bigint }, s: ContainerSample, d: ContainerDetail = {}): Metric[] {
  const l = [c.id, c.name, c.image];
  const t = s.atNs;
  const cg = d.cgroup;
  const out: Metric[] = [
    ...metric('container_cpu_usage_seconds_total', t, l, s.cpu && s.cpu.usageNs / NS),
    ...metric('container_memory_usage_bytes', t, l, s.memory?.usageBytes),
    ...metric('container_memory_working_set_bytes', t, l, s.memory?.workingSetBytes),
    ...metric('container_memory_rss', t, l, s.memory?.rssBytes),
    ...metric('container_spec_memory_limit_bytes', t, l, s.memory ? s.memory.limitBytes ?? 0n : undefined),
    ...metric('container_processes', t, l, s.processCount),
    ...metric('container_fs_usage_bytes', t, l, s.writable?.bytes),
    ...metric('container_fs_inodes_used', t, l, s.writable?.inodes),
    ...metric('container_cpu_cfs_periods_total', t, l, cg?.cpu?.periods),
    ...metric('container_cpu_cfs_throttled_periods_total', t, l, cg?.cpu?.throttledPeriods),
    ...metric('container_cpu_cfs_throttled_seconds_total', t, l, secs(cg?.cpu?.throttledNs)),
    ...metric('container_cpu_system_seconds_total', t, l, secs(cg?.cpu?.systemNs)),
    ...metric('container_cpu_user_seconds_total', t, l, secs(cg?.cpu?.userNs)),
    ...metric('container_spec_cpu_period', t, l, cg?.cpuSpec.periodUs),
    ...metric('container_spec_cpu_shares', t, l, cg?.cpuSpec.shares),
    ...metric('container_memory_cache', t, l, cg?.memory?.cacheBytes),
    ...metric('container_memory_mapped_file', t, l, cg?.memory?.mappedFileBytes),
    ...metric('container_memory_swap', t, l, cg?.memory?.swapBytes),
    ...metric('container_memory_failcnt', t, l, cg?.memory?.failcnt),
    ...metric('container_memory_kernel_usage', t, l, cg?.memory?.kernelBytes),
    ...metric('container_memory_max_usage_bytes', t, l, cg?.memory?.maxUsageBytes),
    ...metric('container_oom_events_total', t, l, cg?.memory?.oomKills),
    ...metric('container_spec_memory_swap_limit_bytes', t, l, cg?.memory?.swapLimitBytes),
    ...metric('container_threads', t, l, cg?.threads),
    ...metric('container_threads_max', t, l, cg?.threadsMax),
    ...metric('container_file_descriptors', t, l, d.fds?.fds),
    ...metric('container_sockets', t, l, d.fds?.sockets),
    ...metric('container_start_time_seconds', t, l, secs(c.startedAtNs)),
    ...metric('container_last_seen', t, l, t / NS),
  ];
  const f = cg?.memory?.faults;
  if (f) {
    for (const [scope, v] of [['container', f.container], ['hierarchy', f.hierarchy]] as const) {
      out.push(...metric('container_memory_failures_total', t, [...l, 'pgfault', scope], v.pgfault));
      out.push(...metric('container_memory_failures_total', t, [...l, 'pgmajfault', scope], v.pgmajfault));
    }
  }
  for (const e of cg?.ioBytes ?? []) {
    out.push(...metric('container_blkio_device_usage_total', t, [...l, e.device, String(e.major), String(e.minor), e.op], e.value));
  }
  for (const [dev, v] of readWriteByDevice(cg?.ioBytes ?? [])) {
    out.push(...metric('container_fs_reads_bytes_total', t, [...l, dev], v.read), ...metric('container_fs_writes_bytes_total', t, [...l, dev], v.write));
  }
  for (const [dev, v] of readWriteByDevice(cg?.ioOps ?? [])) {
    out.push(...metric('container_fs_reads_total', t, [...l, dev], v.read), ...metric('container_fs_writes_total', t, [...l, dev], v.write));
  }
  if (d.fs) {
    const fl = [...l, d.fs.device];
    out.push(
      ...metric('container_fs_limit_bytes', t, fl, d.fs.limitBytes),
      ...metric('container_fs_inodes_total', t, fl, d.fs.inodesTotal),
      ...metric('container_fs_inodes_free', t, fl, d.fs.inodesFree),
    );
  }
  return out;
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
      ...metric('container_network_receive_packets_total', s.atNs, l, i.rxPackets),
      ...metric('container_network_receive_packets_dropped_total', s.atNs, l, i.rxDropped),
      ...metric('container_network_transmit_packets_total', s.atNs, l, i.txPackets),
      ...metric('container_network_transmit_packets_dropped_total', s.atNs, l, i.txDropped),
    );
  }
  return out;
}

/** started_at, or created_at for a created container not yet started; nothing when neither is set. */
function startedAt(c: Container): { startedAtNs?: bigint } {
  const ns = BigInt(c.startedAt !== '0' && c.startedAt !== '' ? c.startedAt : c.createdAt || '0');
  return ns > 0n ? { startedAtNs: ns } : {};
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
          src.collector.pod(podTarget(p, mine.filter((c) => c.state === 'running'), src.podCgroupPath)),
          Promise.all(mine.map(async (c) => {
            const t = containerTarget(src, c, p);
            const [s, d] = await Promise.all([src.collector.container(t), src.collector.containerDetail(t)]);
            return { c, s, d };
          })),
        ]);
        return {
          pod_sandbox_id: p.id,
          metrics: podMetrics({ id: p.id, name: p.name }, ps),
          container_metrics: cs.map(({ c, s, d }) => ({
            container_id: c.id,
            metrics: containerMetrics({ id: c.id, name: c.name, image: c.imageRef, ...startedAt(c) }, s, d),
          })),
        };
      }));
      return { pod_metrics };
    },
  };
}
