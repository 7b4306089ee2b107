// ContainerStats, ListContainerStats, PodSandboxStats, ListPodSandboxStats: find the objects, sample them
// through stats/, encode CRI stats (u64 as decimal strings, timestamps in Unix nanoseconds).
import type { ContainerStats } from '../generated/runtime/v1/ContainerStats.js';
import type { PodSandboxStats } from '../generated/runtime/v1/PodSandboxStats.js';
import type { CpuUsage } from '../generated/runtime/v1/CpuUsage.js';
import type { MemoryUsage } from '../generated/runtime/v1/MemoryUsage.js';
import type { NetworkInterfaceUsage } from '../generated/runtime/v1/NetworkInterfaceUsage.js';
import { invalidArgument, notFound } from '../common/errors.js';
import type { Container } from '../container/types.js';
import type { Pod } from '../pod/types.js';
import type { CgroupStats, ContainerSample, PodSample, StatsCollector } from '../stats/stats-collector.js';
import type { PsiLine, PsiSample } from '../cgroup/parsers.js';
import type { InterfaceSample } from '../stats/netns-dev.js';
import type { IoUsage } from '../generated/runtime/v1/IoUsage.js';
import type { PsiData } from '../generated/runtime/v1/PsiData.js';
import type { PsiStats } from '../generated/runtime/v1/PsiStats.js';
import { matchesId, matchesLabels } from './label-filter.js';

export interface StatsSources {
  pods: { list(): Pod[]; get(id: string): Pod };
  containers: { list(podId?: string): Promise<Container[]>; get(id: string): Container };
  collector: StatsCollector;
  /** The container's cgroupsPath from its pod's cgroup parent (cgroup/mode.ts containerCgroupsPath). */
  cgroupsPath(podParent: string, containerId: string): string;
  /** The cgroupfs path of a pod's cgroup parent (systemd driver: the slice's path); identity when absent. */
  podCgroupPath?(podParent: string): string;
  /** Where writable layers live (reported as the writable layer's fs_id). */
  containersDir: string;
}

function psiStats(p: PsiSample | undefined): PsiStats | null {
  if (!p) return null;
  const line = (l: PsiLine | undefined): PsiData | null => (l ? { Total: String(l.totalNs), Avg10: l.avg10, Avg60: l.avg60, Avg300: l.avg300 } : null);
  return { Some: line(p.some), Full: line(p.full) };
}

function ioUsage(s: CgroupStats): IoUsage | null {
  return s.psi?.io ? { timestamp: String(s.atNs), psi: psiStats(s.psi.io) } : null;
}

const u64 = (v: bigint | number | undefined): { value: string } | null => (v === undefined ? null : { value: String(v) });

function cpuUsage(s: CgroupStats): CpuUsage | null {
  if (!s.cpu) return null;
  return { timestamp: String(s.atNs), usage_core_nano_seconds: u64(s.cpu.usageNs), usage_nano_cores: u64(s.cpu.nanoCores), psi: psiStats(s.psi?.cpu) };
}

function memoryUsage(s: CgroupStats): MemoryUsage | null {
  const m = s.memory;
  if (!m) return null;
  return {
    timestamp: String(s.atNs), working_set_bytes: u64(m.workingSetBytes), available_bytes: u64(m.availableBytes),
    usage_bytes: u64(m.usageBytes), rss_bytes: u64(m.rssBytes), page_faults: u64(m.pageFaults), major_page_faults: u64(m.majorPageFaults),
    psi: psiStats(s.psi?.memory),
  };
}

function iface(i: InterfaceSample): NetworkInterfaceUsage {
  return { name: i.name, rx_bytes: u64(i.rxBytes), rx_errors: u64(i.rxErrors), tx_bytes: u64(i.txBytes), tx_errors: u64(i.txErrors) };
}

export function containerTarget(src: StatsSources, c: Container, pod: Pod): { id: string; cgroupPath: string; upperDir: string } {
  return { id: c.id, cgroupPath: src.cgroupsPath(pod.runtime.cgroupParent, c.id), upperDir: `${c.runtime.dataDir}/upper` };
}

export function podTarget(p: Pod, running: Container[], cgroupPath: (parent: string) => string = (x) => x): { id: string; cgroupPath: string; netns?: { netnsPath: string; pids: number[] } } {
  const net = p.runtime.namespaces.net;
  const pids = [...(p.runtime.infra ? [p.runtime.infra.pid] : []), ...running.map((c) => c.runtime.pid).filter((x): x is number => x !== undefined)];
  const cg = cgroupPath(p.runtime.cgroupParent);
  return net ? { id: p.id, cgroupPath: cg, netns: { netnsPath: net, pids } } : { id: p.id, cgroupPath: cg };
}

function toCriContainerStats(src: StatsSources, c: Container, s: ContainerSample): ContainerStats {
  return {
    attributes: { id: c.id, metadata: c.config.metadata, labels: c.config.labels ?? {}, annotations: c.config.annotations ?? {} },
    cpu: cpuUsage(s),
    memory: memoryUsage(s),
    io: ioUsage(s),
    writable_layer: s.writable
      ? { timestamp: String(s.atNs), fs_id: { mountpoint: src.containersDir }, used_bytes: u64(s.writable.bytes), inodes_used: u64(s.writable.inodes) }
      : null,
  };
}

function toCriPodStats(p: Pod, s: PodSample, containers: ContainerStats[]): PodSandboxStats {
  return {
    attributes: { id: p.id, metadata: p.config.metadata, labels: p.config.labels ?? {}, annotations: p.config.annotations ?? {} },
    linux: {
      cpu: cpuUsage(s),
      memory: memoryUsage(s),
      network: s.network
        ? { timestamp: String(s.atNs), default_interface: s.network.default ? iface(s.network.default) : null, interfaces: s.network.interfaces.map(iface) }
        : null,
      process: s.processCount === undefined ? null : { timestamp: String(s.atNs), process_count: u64(s.processCount) },
      containers,
      io: ioUsage(s),
    },
  };
}

/** Container stats of the given containers (of known pods), sampled concurrently. */
async function sampleContainers(src: StatsSources, list: Container[]): Promise<ContainerStats[]> {
  const pods = new Map(src.pods.list().map((p) => [p.id, p]));
  const out = await Promise.all(list.map(async (c) => {
    const pod = pods.get(c.podId);
    if (!pod) return undefined;
    return toCriContainerStats(src, c, await src.collector.container(containerTarget(src, c, pod)));
  }));
  return out.filter((x): x is ContainerStats => x !== undefined);
}

async function samplePod(src: StatsSources, p: Pod, containers: Container[]): Promise<PodSandboxStats> {
  const running = containers.filter((c) => c.state === 'running');
  const [s, cstats] = await Promise.all([src.collector.pod(podTarget(p, running, src.podCgroupPath)), sampleContainers(src, containers)]);
  return toCriPodStats(p, s, cstats);
}

interface ContainerStatsFilterIn { id?: string | null; pod_sandbox_id?: string | null; label_selector?: Record<string, string> | null }
interface PodStatsFilterIn { id?: string | null; label_selector?: Record<string, string> | null }

export function makeStatsHandlers(src: StatsSources) {
  return {
    ContainerStats: async (req: { container_id?: string | null }): Promise<{ stats: ContainerStats }> => {
      if (!req.container_id) throw invalidArgument('ContainerStats: container_id is empty');
      const c = src.containers.get(req.container_id);
      const [stats] = await sampleContainers(src, [c]);
      if (!stats) throw notFound(`ContainerStats: the pod "${c.podId}" of container "${c.id}" is gone; the container is being removed`);
      return { stats };
    },
    ListContainerStats: async (req: { filter?: ContainerStatsFilterIn | null }): Promise<{ stats: ContainerStats[] }> => {
      const f = req.filter;
      src.collector.prune();
      // Running and created ones: exited containers have no cgroup left, and the kubelet wants live usage.
      const list = (await src.containers.list()).filter((c) =>
        (c.state === 'running' || c.state === 'created') &&
        matchesId(c.id, f?.id) && matchesId(c.podId, f?.pod_sandbox_id) && matchesLabels(c.config.labels, f?.label_selector));
      return { stats: await sampleContainers(src, list) };
    },
    PodSandboxStats: async (req: { pod_sandbox_id?: string | null }): Promise<{ stats: PodSandboxStats }> => {
      if (!req.pod_sandbox_id) throw invalidArgument('PodSandboxStats: pod_sandbox_id is empty');
      const p = src.pods.get(req.pod_sandbox_id);
      const containers = (await src.containers.list(p.id)).filter((c) => c.state === 'running' || c.state === 'created');
      return { stats: await samplePod(src, p, containers) };
    },
    ListPodSandboxStats: async (req: { filter?: PodStatsFilterIn | null }): Promise<{ stats: PodSandboxStats[] }> => {
      const f = req.filter;
      src.collector.prune();
      const pods = src.pods.list().filter((p) => p.state === 'ready' && matchesId(p.id, f?.id) && matchesLabels(p.config.labels, f?.label_selector));
      const all = (await src.containers.list()).filter((c) => c.state === 'running' || c.state === 'created');
      return { stats: await Promise.all(pods.map((p) => samplePod(src, p, all.filter((c) => c.podId === p.id)))) };
    },
  };
}
