// Samples containers and pods: cgroup CPU/memory/pids, the writable layer, the pod's interfaces. Keeps the
// previous CPU sample of each target so usage_nano_cores is a rate over the kubelet's own polling window
// (cAdvisor/containerd do the same); entries not sampled for 10 minutes are dropped.
import type { CgroupReader, CgroupUsage } from '../cgroup/reader.js';
import { nanoCores, type CpuSample, type MemorySample } from '../cgroup/parsers.js';
import { defaultInterface, type InterfaceSample } from './netns-dev.js';
import { dirUsage as realDirUsage, type DirUsage } from './dir-usage.js';
import { readPodNetDev, type NetnsTarget } from './netns-dev.js';
import { countProcessFds, fsCapacity as realFsCapacity, type CgroupDetail, type FsCapacity } from '../cgroup/cadvisor-reader.js';

interface ContainerTarget {
  id: string;
  /** Absolute cgroup path (OCI linux.cgroupsPath). */
  cgroupPath: string;
  /** The overlay upper dir: what the container wrote to its rootfs. */
  upperDir: string;
}

interface PodTarget {
  id: string;
  /** The pod's cgroup parent: its containers' cgroups are children, so it holds their totals. */
  cgroupPath: string;
  /** Absent for host-network pods: their traffic is the node's, not the pod's. */
  netns?: NetnsTarget;
}

interface CpuStat extends CpuSample {
  /** Rate since the previous sample of the same target, in nanocores. */
  nanoCores?: bigint;
}

export interface CgroupStats {
  /** Unix nanoseconds when sampled. */
  atNs: bigint;
  cpu?: CpuStat;
  memory?: MemorySample;
  processCount?: bigint;
  psi?: CgroupUsage['psi'];
}

export interface ContainerSample extends CgroupStats {
  writable?: DirUsage;
}

/** What only the metrics RPC reads: cgroup detail, open fds/sockets, the writable layer's filesystem. */
export interface ContainerDetail {
  cgroup?: CgroupDetail;
  fds?: { fds: number; sockets: number };
  fs?: FsCapacity;
}

interface NetworkSample {
  interfaces: InterfaceSample[];
  default?: InterfaceSample;
}

export interface PodSample extends CgroupStats {
  network?: NetworkSample;
}

interface StatsCollectorDeps {
  cgroups: CgroupReader;
  now(): bigint;
  dirUsage?: (dir: string) => Promise<DirUsage | undefined>;
  netDev?: (t: NetnsTarget) => Promise<{ ifaces: InterfaceSample[] } | undefined>;
  fds?: (pids: number[]) => Promise<{ fds: number; sockets: number }>;
  fsCapacity?: (dir: string) => Promise<FsCapacity | undefined>;
}

const FORGET_AFTER_NS = 10n * 60n * 1_000_000_000n;

export class StatsCollector {
  private readonly lastCpu = new Map<string, { usageNs: bigint; atNs: bigint }>();

  constructor(private readonly d: StatsCollectorDeps) {}

  private async cgroup(key: string, cgPath: string): Promise<CgroupStats> {
    const atNs = this.d.now();
    const u = await this.d.cgroups.read(cgPath);
    const out: CgroupStats = { atNs };
    if (!u) return out;
    if (u.cpu) {
      const cur = { usageNs: u.cpu.usageNs, atNs };
      const rate = nanoCores(this.lastCpu.get(key), cur);
      this.lastCpu.set(key, cur);
      out.cpu = rate === undefined ? { ...u.cpu } : { ...u.cpu, nanoCores: rate };
    }
    if (u.memory) out.memory = u.memory;
    if (u.processCount !== undefined) out.processCount = u.processCount;
    if (u.psi) out.psi = u.psi;
    return out;
  }

  async container(t: ContainerTarget): Promise<ContainerSample> {
    const [cg, writable] = await Promise.all([
      this.cgroup(`c:${t.id}`, t.cgroupPath),
      (this.d.dirUsage ?? realDirUsage)(t.upperDir),
    ]);
    return writable ? { ...cg, writable } : cg;
  }

  /** The cAdvisor-only detail of a container (ListPodSandboxMetrics); absent parts are left out. */
  async containerDetail(t: ContainerTarget): Promise<ContainerDetail> {
    const cg = this.d.cgroups.detail?.(t.cgroupPath);
    const [fds, fs] = await Promise.all([
      cg ? (this.d.fds ?? countProcessFds)(cg.pids) : Promise.resolve(undefined),
      (this.d.fsCapacity ?? realFsCapacity)(t.upperDir),
    ]);
    const out: ContainerDetail = {};
    if (cg) out.cgroup = cg;
    if (fds) out.fds = fds;
    if (fs) out.fs = fs;
    return out;
  }

  async pod(t: PodTarget): Promise<PodSample> {
    const [cg, net] = await Promise.all([
      this.cgroup(`p:${t.id}`, t.cgroupPath),
      t.netns ? (this.d.netDev ?? readPodNetDev)(t.netns) : Promise.resolve(undefined),
    ]);
    if (!net) return cg;
    const ifaces = net.ifaces.filter((i) => i.name !== 'lo');
    const def = defaultInterface(ifaces);
    return { ...cg, network: def ? { interfaces: ifaces, default: def } : { interfaces: ifaces } };
  }

  /** Drops rate state of targets not sampled recently (removed containers and pods). */
  prune(): void {
    const now = this.d.now();
    for (const [k, v] of this.lastCpu) if (now - v.atNs > FORGET_AFTER_NS) this.lastCpu.delete(k);
  }
}
