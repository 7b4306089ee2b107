// Pure parsers for the cgroup and /proc files behind the cAdvisor metrics the kubelet's
// /metrics/cadvisor (PodAndContainerStatsFromCRI) and critest's metrics conformance test expect beyond
// the CRI stats fields: CFS throttling, user/system CPU, memory detail, block I/O, thread limits, file
// descriptors. Definitions follow cAdvisor's libcontainer handler (container/libcontainer/handler.go).
import { parseFlatKeyed, parseSingleValue } from './parsers.js';

export interface CpuDetail {
  /** cpu.stat nr_periods: enforcement intervals that elapsed (0 without a CFS quota). */
  periods: bigint;
  /** cpu.stat nr_throttled: intervals in which the cgroup was throttled. */
  throttledPeriods: bigint;
  /** Total time throttled, nanoseconds (v1 throttled_time is ns; v2 throttled_usec is µs). */
  throttledNs: bigint;
  userNs?: bigint;
  systemNs?: bigint;
}

/** v1 cpu.stat: nr_periods, nr_throttled, throttled_time (ns). */
export function cpuThrottleFromV1(cpuStatText: string): CpuDetail {
  const s = parseFlatKeyed(cpuStatText);
  return { periods: s.get('nr_periods') ?? 0n, throttledPeriods: s.get('nr_throttled') ?? 0n, throttledNs: s.get('throttled_time') ?? 0n };
}

/**
 * v1 user/system CPU in ns: cpuacct.usage_user/usage_sys when the kernel has them (4.7+, already ns),
 * else cpuacct.stat "user N / system N" in USER_HZ ticks. USER_HZ is 100 on every Linux ABI (the
 * kernel's exported tick rate, independent of CONFIG_HZ), so a tick is 10 ms.
 */
export function cpuUserSysFromV1(usageUserText: string | undefined, usageSysText: string | undefined, statText: string | undefined): { userNs?: bigint; systemNs?: bigint } {
  const u = usageUserText === undefined ? undefined : parseSingleValue(usageUserText);
  const s = usageSysText === undefined ? undefined : parseSingleValue(usageSysText);
  if (u !== undefined && s !== undefined) return { userNs: u, systemNs: s };
  if (statText === undefined) return {};
  const st = parseFlatKeyed(statText);
  const ticks = (k: string): bigint | undefined => {
    const v = st.get(k);
    return v === undefined ? undefined : v * 10_000_000n;
  };
  const out: { userNs?: bigint; systemNs?: bigint } = {};
  const user = ticks('user');
  const system = ticks('system');
  if (user !== undefined) out.userNs = user;
  if (system !== undefined) out.systemNs = system;
  return out;
}

/** v2 cpu.stat: nr_periods, nr_throttled, throttled_usec, user_usec, system_usec. */
export function cpuDetailFromV2(cpuStatText: string): CpuDetail {
  const s = parseFlatKeyed(cpuStatText);
  const us = (k: string): bigint | undefined => {
    const v = s.get(k);
    return v === undefined ? undefined : v * 1000n;
  };
  const out: CpuDetail = { periods: s.get('nr_periods') ?? 0n, throttledPeriods: s.get('nr_throttled') ?? 0n, throttledNs: us('throttled_usec') ?? 0n };
  const user = us('user_usec');
  const system = us('system_usec');
  if (user !== undefined) out.userNs = user;
  if (system !== undefined) out.systemNs = system;
  return out;
}

export interface CpuSpec {
  /** CFS period, microseconds (cpu.cfs_period_us; v2 second field of cpu.max). */
  periodUs?: bigint;
  /** cpu.shares; on v2 converted back from cpu.weight. */
  shares?: bigint;
}

/**
 * v2 cpu.weight -> shares: the inverse of the shares->weight map runc and the kernel docs use
 * (weight = 1 + (shares - 2) * 9999 / 262142), as cAdvisor reports shares on both hierarchies.
 */
export function sharesFromWeight(weight: bigint): bigint {
  if (weight <= 0n) return 0n;
  return 2n + ((weight - 1n) * 262142n) / 9999n;
}

/** v2 cpu.max "quota period" ("max 100000" when unlimited): the period. */
export function periodFromCpuMax(text: string): bigint | undefined {
  const f = text.trim().split(/\s+/);
  return f.length === 2 && /^\d+$/.test(f[1]!) ? BigInt(f[1]!) : undefined;
}

export interface MemoryDetail {
  cacheBytes: bigint;
  mappedFileBytes: bigint;
  swapBytes: bigint;
  /** Times the usage hit the limit (v1 memory.failcnt; v2 memory.events "max"). */
  failcnt: bigint;
  maxUsageBytes?: bigint;
  kernelBytes?: bigint;
  /** OOM kills inside the cgroup (v1 memory.oom_control / v2 memory.events oom_kill). */
  oomKills: bigint;
  /** pgfault/pgmajfault of the cgroup alone ("container") and with its descendants ("hierarchy"). */
  faults: { container: { pgfault: bigint; pgmajfault: bigint }; hierarchy: { pgfault: bigint; pgmajfault: bigint } };
  /** Memory+swap limit (v1 memsw) or swap limit (v2); 0 when unlimited, as the memory limit is reported. */
  swapLimitBytes?: bigint;
}

/** v1 memory limits read as ~2^63 when unlimited (see parsers.ts). */
const V1_UNLIMITED = 1n << 62n;
const limitOrZero = (v: bigint | undefined): bigint | undefined => (v === undefined ? undefined : v >= V1_UNLIMITED ? 0n : v);

interface MemoryV1Files {
  stat: string;
  failcnt?: string | undefined;
  maxUsage?: string | undefined;
  kmemUsage?: string | undefined;
  oomControl?: string | undefined;
  memswLimit?: string | undefined;
}

/**
 * v1: cAdvisor takes total_cache/total_mapped_file/total_swap with use_hierarchy (always on since 5.x
 * cgroup v1), the per-cgroup keys otherwise.
 */
export function memoryDetailFromV1(f: MemoryV1Files): MemoryDetail {
  const s = parseFlatKeyed(f.stat);
  const tot = (k: string): bigint => s.get(`total_${k}`) ?? s.get(k) ?? 0n;
  const out: MemoryDetail = {
    cacheBytes: tot('cache'),
    mappedFileBytes: tot('mapped_file'),
    swapBytes: tot('swap'),
    failcnt: (f.failcnt === undefined ? undefined : parseSingleValue(f.failcnt)) ?? 0n,
    oomKills: (f.oomControl === undefined ? undefined : parseFlatKeyed(f.oomControl).get('oom_kill')) ?? 0n,
    faults: {
      container: { pgfault: s.get('pgfault') ?? 0n, pgmajfault: s.get('pgmajfault') ?? 0n },
      hierarchy: { pgfault: tot('pgfault'), pgmajfault: tot('pgmajfault') },
    },
  };
  const maxUsage = f.maxUsage === undefined ? undefined : parseSingleValue(f.maxUsage);
  if (maxUsage !== undefined) out.maxUsageBytes = maxUsage;
  const kmem = f.kmemUsage === undefined ? undefined : parseSingleValue(f.kmemUsage);
  if (kmem !== undefined) out.kernelBytes = kmem;
  const swapLimit = limitOrZero(f.memswLimit === undefined ? undefined : parseSingleValue(f.memswLimit));
  if (swapLimit !== undefined) out.swapLimitBytes = swapLimit;
  return out;
}

interface MemoryV2Files {
  stat: string;
  events?: string | undefined;
  peak?: string | undefined;
  swapCurrent?: string | undefined;
  swapMax?: string | undefined;
}

/** v2: file, file_mapped, kernel (or kernel_stack + slab before 5.18), memory.events, memory.peak, swap files. */
export function memoryDetailFromV2(f: MemoryV2Files): MemoryDetail {
  const s = parseFlatKeyed(f.stat);
  const ev = f.events === undefined ? new Map<string, bigint>() : parseFlatKeyed(f.events);
  const pg = { pgfault: s.get('pgfault') ?? 0n, pgmajfault: s.get('pgmajfault') ?? 0n };
  const out: MemoryDetail = {
    cacheBytes: s.get('file') ?? 0n,
    mappedFileBytes: s.get('file_mapped') ?? 0n,
    swapBytes: (f.swapCurrent === undefined ? undefined : parseSingleValue(f.swapCurrent)) ?? 0n,
    failcnt: ev.get('max') ?? 0n,
    oomKills: ev.get('oom_kill') ?? 0n,
    // v2 memory.stat is hierarchical only: both scopes read the same counters.
    faults: { container: pg, hierarchy: pg },
  };
  const peak = f.peak === undefined ? undefined : parseSingleValue(f.peak);
  if (peak !== undefined) out.maxUsageBytes = peak;
  const kernel = s.get('kernel') ?? (s.has('kernel_stack') || s.has('slab') ? (s.get('kernel_stack') ?? 0n) + (s.get('slab') ?? 0n) : undefined);
  if (kernel !== undefined) out.kernelBytes = kernel;
  if (f.swapMax !== undefined) out.swapLimitBytes = parseSingleValue(f.swapMax) ?? 0n;
  return out;
}

export interface BlkioEntry {
  major: number;
  minor: number;
  /** Read, Write, Sync, Async, Discard, Total (v1 names; v2 io.stat maps to Read/Write/Discard). */
  op: string;
  value: bigint;
}

/** v1 blkio.*io_service_bytes* / *io_serviced*: "MAJ:MIN Op N" lines; the trailing "Total N" is skipped. */
export function parseBlkioV1(text: string): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):(\d+)\s+(\w+)\s+(\d+)\s*$/.exec(line);
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: BigInt(m[4]!) });
  }
  return out;
}

/** v2 io.stat "MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=..": bytes and ops per device. */
export function parseIoStatV2(text: string): { bytes: BlkioEntry[]; ops: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ops: BlkioEntry[] = [];
  const names: Record<string, [BlkioEntry[], string]> = {
    rbytes: [bytes, 'Read'], wbytes: [bytes, 'Write'], dbytes: [bytes, 'Discard'], rios: [ops, 'Read'], wios: [ops, 'Write'], dios: [ops, 'Discard'],
  };
  for (const line of text.split('\n')) {
    const m = /^(\d+):(\d+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    for (const kv of m[3]!.split(/\s+/)) {
      const [k, v] = kv.split('=');
      const dest = k === undefined ? undefined : names[k];
      if (dest && v !== undefined && /^\d+$/.test(v)) dest[0].push({ major: Number(m[1]), minor: Number(m[2]), op: dest[1], value: BigInt(v) });
    }
  }
  return { bytes, ops };
}

/** Read/Write sums per device name (container_fs_{reads,writes}{,_bytes}_total); other operations skipped. */
export function readWriteByDevice(entries: { device: string; op: string; value: bigint }[]): Map<string, { read: bigint; write: bigint }> {
  const out = new Map<string, { read: bigint; write: bigint }>();
  for (const e of entries) {
    if (e.op !== 'Read' && e.op !== 'Write') continue;
    const cur = out.get(e.device) ?? { read: 0n, write: 0n };
    if (e.op === 'Read') cur.read += e.value;
    else cur.write += e.value;
    out.set(e.device, cur);
  }
  return out;
}

/** pids.max: "max" (no limit) is 0, as cAdvisor reports ThreadsMax. */
export function parsePidsMax(text: string): bigint {
  return parseSingleValue(text) ?? 0n;
}

/** cgroup.procs: one pid per line. */
export function parseProcs(text: string): number[] {
  return text.split('\n').filter((l) => /^\d+$/.test(l.trim())).map((l) => Number(l.trim()));
}

/** Counts fd link targets: all of them, and sockets ("socket:[inode]", cAdvisor's container_sockets). */
export function countFds(targets: string[]): { fds: number; sockets: number } {
  return { fds: targets.length, sockets: targets.filter((t) => t.startsWith('socket:')).length };
}

/** DEVNAME=vda in /sys/dev/block/MAJ:MIN/uevent -> "/dev/vda". */
export function devNameFromUevent(text: string): string | undefined {
  const m = /^DEVNAME=(.+)$/m.exec(text);
  return m ? `/dev/${m[1]!.trim()}` : undefined;
}
