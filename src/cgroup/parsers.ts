// Pure parsers for the cgroup files the stats RPCs read, and the arithmetic that turns them into the
// numbers the kubelet expects (cAdvisor's definitions, so eviction and `kubectl top` agree with
// containerd/CRI-O nodes). Numbers are bigint: counters are u64 in the kernel.

/** A single-value file (memory.usage_in_bytes, pids.current, memory.max). "max" (v2 unlimited) -> undefined. */
export function parseSingleValue(text: string): bigint | undefined {
  const t = text.trim();
  if (t === '' || t === 'max') return undefined;
  if (!/^-?\d+$/.test(t)) return undefined;
  return BigInt(t);
}

/** A flat keyed file (memory.stat, cpu.stat): "key value" per line. Unparsable lines are skipped. */
export function parseFlatKeyed(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(-?\d+)\s*$/.exec(line);
    if (m) out.set(m[1]!, BigInt(m[2]!));
  }
  return out;
}

export interface CpuSample {
  /** Cumulative CPU time, nanoseconds. */
  usageNs: bigint;
}

export interface MemorySample {
  usageBytes: bigint;
  /** usage - inactive_file, floored at 0 (cAdvisor; what the kubelet's eviction manager compares). */
  workingSetBytes: bigint;
  rssBytes: bigint;
  pageFaults: bigint;
  majorPageFaults: bigint;
  /** limit - working set, when a limit is set. */
  availableBytes?: bigint;
  limitBytes?: bigint;
}

/**
 * v1 memory limits read as a huge number (PAGE_COUNTER_MAX * page size, e.g. 9223372036854771712) when
 * unlimited; anything at or above 2^62 counts as unlimited.
 */
const V1_UNLIMITED = 1n << 62n;

function workingSet(usage: bigint, inactiveFile: bigint): bigint {
  return usage > inactiveFile ? usage - inactiveFile : 0n;
}

function withAvailable(s: MemorySample, limit: bigint | undefined): MemorySample {
  if (limit === undefined || limit >= V1_UNLIMITED) return s;
  return { ...s, limitBytes: limit, availableBytes: limit > s.workingSetBytes ? limit - s.workingSetBytes : 0n };
}

/**
 * cgroup v1: memory.usage_in_bytes, memory.limit_in_bytes, memory.stat. The total_* keys include child
 * cgroups (a pod's parent cgroup holds none of its own processes), so they win over the local ones.
 */
export function memoryFromV1(usageText: string, limitText: string, statText: string): MemorySample {
  const stat = parseFlatKeyed(statText);
  const get = (k: string): bigint => stat.get(`total_${k}`) ?? stat.get(k) ?? 0n;
  const usage = parseSingleValue(usageText) ?? 0n;
  return withAvailable({
    usageBytes: usage,
    workingSetBytes: workingSet(usage, get('inactive_file')),
    // cAdvisor's RSS on v1 is total_rss (anonymous + swap cache), not the RSS of ps.
    rssBytes: get('rss'),
    pageFaults: get('pgfault'),
    majorPageFaults: get('pgmajfault'),
  }, parseSingleValue(limitText));
}

/** cgroup v2: memory.current, memory.max, memory.stat (hierarchical already). RSS is `anon`. */
export function memoryFromV2(currentText: string, maxText: string, statText: string): MemorySample {
  const stat = parseFlatKeyed(statText);
  const usage = parseSingleValue(currentText) ?? 0n;
  return withAvailable({
    usageBytes: usage,
    workingSetBytes: workingSet(usage, stat.get('inactive_file') ?? 0n),
    rssBytes: stat.get('anon') ?? 0n,
    pageFaults: stat.get('pgfault') ?? 0n,
    majorPageFaults: stat.get('pgmajfault') ?? 0n,
  }, parseSingleValue(maxText));
}

/** cgroup v1 cpuacct.usage: nanoseconds already. */
export function cpuFromV1(cpuacctUsageText: string): CpuSample {
  return { usageNs: parseSingleValue(cpuacctUsageText) ?? 0n };
}

/** cgroup v2 cpu.stat usage_usec, in nanoseconds. */
export function cpuFromV2(cpuStatText: string): CpuSample {
  return { usageNs: (parseFlatKeyed(cpuStatText).get('usage_usec') ?? 0n) * 1000n };
}

/**
 * usage_nano_cores between two samples: CPU nanoseconds per wall nanosecond, times 1e9 (nanocores), as
 * cAdvisor and containerd compute it. Undefined without an earlier sample or when time did not advance;
 * 0 when the counter went backwards (a recreated cgroup).
 */
export function nanoCores(prev: { usageNs: bigint; atNs: bigint } | undefined, cur: { usageNs: bigint; atNs: bigint }): bigint | undefined {
  if (!prev) return undefined;
  const dt = cur.atNs - prev.atNs;
  if (dt <= 0n) return undefined;
  if (cur.usageNs < prev.usageNs) return 0n;
  return ((cur.usageNs - prev.usageNs) * 1_000_000_000n) / dt;
}

/** One line of a cgroup v2 pressure file (PSI): averages in percent, total stall time in nanoseconds. */
export interface PsiLine {
  avg10: number;
  avg60: number;
  avg300: number;
  totalNs: bigint;
}

export interface PsiSample {
  some?: PsiLine;
  /** Absent from cpu.pressure on kernels before 5.13. */
  full?: PsiLine;
}

/**
 * cpu.pressure / memory.pressure / io.pressure: "some avg10=0.00 avg60=0.00 avg300=0.00 total=123" and
 * the same for "full"; total is in microseconds (the CRI's PsiData.Total is nanoseconds). Pure.
 */
export function parsePressure(text: string): PsiSample {
  const out: PsiSample = {};
  for (const line of text.split('\n')) {
    const m = /^(some|full)\s+avg10=([\d.]+)\s+avg60=([\d.]+)\s+avg300=([\d.]+)\s+total=(\d+)\s*$/.exec(line.trim());
    if (!m) continue;
    out[m[1] as 'some' | 'full'] = { avg10: Number(m[2]), avg60: Number(m[3]), avg300: Number(m[4]), totalNs: BigInt(m[5]!) * 1000n };
  }
  return out;
}
