// Reads the cgroup and /proc detail behind the cAdvisor-only metrics (ListPodSandboxMetrics): CFS
// throttling, user/system CPU, CPU spec, memory detail, block I/O per device, threads and their limit,
// open file descriptors and sockets of the cgroup's processes, and the writable layer's filesystem
// capacity. Only the metrics RPC pays for these reads; ContainerStats keeps to the cheap ones.
// Same hierarchy choice as reader.ts: v1 controllers on v1 and hybrid hosts, unified on v2.
import { readFileSync } from 'node:fs';
import { readdir, readlink, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { CgroupLayout } from './mode.js';
import { v1ControllerMounts } from './reader.js';
import { parseSingleValue } from './parsers.js';
import {
  countFds, cpuDetailFromV2, cpuThrottleFromV1, cpuUserSysFromV1, devNameFromUevent, memoryDetailFromV1, memoryDetailFromV2,
  parseBlkioV1, parseIoStatV2, parsePidsMax, parseProcs, periodFromCpuMax, sharesFromWeight,
  type BlkioEntry, type CpuDetail, type CpuSpec, type MemoryDetail,
} from './cadvisor-parsers.js';

interface BlkioDevice {
  major: number;
  minor: number;
  /** /dev/<name> from sysfs, else "MAJ:MIN". */
  device: string;
}

export interface CgroupDetail {
  cpu?: CpuDetail;
  cpuSpec: CpuSpec;
  memory?: MemoryDetail;
  /** io_service_bytes per device and operation. */
  ioBytes: (BlkioEntry & BlkioDevice)[];
  /** io_serviced (operations) per device and operation. */
  ioOps: (BlkioEntry & BlkioDevice)[];
  threads?: bigint;
  threadsMax?: bigint;
  /** Processes in the cgroup (cgroup.procs), for the fd counts. */
  pids: number[];
}

export interface FsCapacity {
  device: string;
  limitBytes: bigint;
  inodesTotal: bigint;
  inodesFree: bigint;
}

/** Synchronous for the reason given in reader.ts: cgroupfs and sysfs reads cost no disk I/O. */
function readOr(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

const devNames = new Map<string, string>();

/** /dev name of a block device number (cached: device names do not change while the disk is attached). */
function deviceName(major: number, minor: number, sysRoot = '/sys'): string {
  const k = `${major}:${minor}`;
  const hit = devNames.get(k);
  if (hit !== undefined) return hit;
  const t = readOr(path.join(sysRoot, 'dev/block', k, 'uevent'));
  const name = (t === undefined ? undefined : devNameFromUevent(t)) ?? k;
  devNames.set(k, name);
  return name;
}

const named = (es: BlkioEntry[]): (BlkioEntry & BlkioDevice)[] => es.map((e) => ({ ...e, device: deviceName(e.major, e.minor) }));

/** Entries with at least one device line, else undefined (empty CFQ/BFQ files when another policy accounts). */
function blkio(text: string | undefined): BlkioEntry[] | undefined {
  const es = text === undefined ? [] : parseBlkioV1(text);
  return es.length > 0 ? es : undefined;
}

type DetailReader = (cgPath: string) => CgroupDetail | undefined;

export function createDetailReader(layout: CgroupLayout): DetailReader {
  if (layout.mode === 'v2') {
    const root = layout.unifiedMount ?? '/sys/fs/cgroup';
    return (cgPath) => {
      const dir = path.join(root, cgPath);
      const f = (n: string): string | undefined => readOr(path.join(dir, n));
      const procs = f('cgroup.procs');
      if (procs === undefined) return undefined;
      const out: CgroupDetail = { cpuSpec: {}, ioBytes: [], ioOps: [], pids: parseProcs(procs) };
      const cpuStat = f('cpu.stat');
      if (cpuStat !== undefined) out.cpu = cpuDetailFromV2(cpuStat);
      const cpuMax = f('cpu.max');
      const period = cpuMax === undefined ? undefined : periodFromCpuMax(cpuMax);
      if (period !== undefined) out.cpuSpec.periodUs = period;
      const weight = f('cpu.weight');
      const w = weight === undefined ? undefined : parseSingleValue(weight);
      if (w !== undefined) out.cpuSpec.shares = sharesFromWeight(w);
      const stat = f('memory.stat');
      if (stat !== undefined) {
        out.memory = memoryDetailFromV2({ stat, events: f('memory.events'), peak: f('memory.peak'), swapCurrent: f('memory.swap.current'), swapMax: f('memory.swap.max') });
      }
      const io = f('io.stat');
      if (io !== undefined) {
        const p = parseIoStatV2(io);
        out.ioBytes = named(p.bytes);
        out.ioOps = named(p.ops);
      }
      const cur = f('pids.current');
      const n = cur === undefined ? undefined : parseSingleValue(cur);
      if (n !== undefined) out.threads = n;
      const max = f('pids.max');
      if (max !== undefined) out.threadsMax = parsePidsMax(max);
      return out;
    };
  }
  const mounts = v1ControllerMounts(layout.v1Mounts);
  const file = (ctrl: string, cgPath: string, name: string): string | undefined => {
    const m = mounts.get(ctrl);
    return m === undefined ? undefined : readOr(path.join(m, cgPath, name));
  };
  return (cgPath) => {
    const f = (ctrl: string, name: string): string | undefined => file(ctrl, cgPath, name);
    const procs = f('memory', 'cgroup.procs') ?? f('cpuacct', 'cgroup.procs') ?? f('pids', 'cgroup.procs');
    if (procs === undefined) return undefined;
    const out: CgroupDetail = { cpuSpec: {}, ioBytes: [], ioOps: [], pids: parseProcs(procs) };
    const cpuStat = f('cpu', 'cpu.stat');
    const userSys = cpuUserSysFromV1(f('cpuacct', 'cpuacct.usage_user'), f('cpuacct', 'cpuacct.usage_sys'), f('cpuacct', 'cpuacct.stat'));
    if (cpuStat !== undefined) out.cpu = { ...cpuThrottleFromV1(cpuStat), ...userSys };
    const period = f('cpu', 'cpu.cfs_period_us');
    const p = period === undefined ? undefined : parseSingleValue(period);
    if (p !== undefined) out.cpuSpec.periodUs = p;
    const shares = f('cpu', 'cpu.shares');
    const s = shares === undefined ? undefined : parseSingleValue(shares);
    if (s !== undefined) out.cpuSpec.shares = s;
    const stat = f('memory', 'memory.stat');
    if (stat !== undefined) {
      out.memory = memoryDetailFromV1({
        stat, failcnt: f('memory', 'memory.failcnt'), maxUsage: f('memory', 'memory.max_usage_in_bytes'), kmemUsage: f('memory', 'memory.kmem.usage_in_bytes'),
        oomControl: f('memory', 'memory.oom_control'), memswLimit: f('memory', 'memory.memsw.limit_in_bytes'),
      });
    }
    // libcontainer's order: the CFQ/BFQ proportional-weight files when they hold devices, else the
    // throttle policy's, which accounts every bio whatever the I/O scheduler.
    const bytes = blkio(f('blkio', 'blkio.io_service_bytes_recursive')) ?? blkio(f('blkio', 'blkio.bfq.io_service_bytes_recursive')) ?? blkio(f('blkio', 'blkio.throttle.io_service_bytes_recursive')) ?? [];
    const ops = blkio(f('blkio', 'blkio.io_serviced_recursive')) ?? blkio(f('blkio', 'blkio.bfq.io_serviced_recursive')) ?? blkio(f('blkio', 'blkio.throttle.io_serviced_recursive')) ?? [];
    out.ioBytes = named(bytes);
    out.ioOps = named(ops);
    const cur = f('pids', 'pids.current');
    const n = cur === undefined ? undefined : parseSingleValue(cur);
    if (n !== undefined) out.threads = n;
    const max = f('pids', 'pids.max');
    if (max !== undefined) out.threadsMax = parsePidsMax(max);
    return out;
  };
}

/**
 * Open fds and sockets of the given processes: /proc/<pid>/fd link targets, as cAdvisor counts them.
 * Processes that exit meanwhile are skipped.
 */
export async function countProcessFds(pids: number[], procRoot = '/proc'): Promise<{ fds: number; sockets: number }> {
  let fds = 0;
  let sockets = 0;
  await Promise.all(pids.map(async (pid) => {
    const dir = path.join(procRoot, String(pid), 'fd');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    const targets = (await Promise.all(names.map((n) => readlink(path.join(dir, n)).catch(() => undefined)))).filter((t): t is string => t !== undefined);
    const c = countFds(targets);
    fds += c.fds;
    sockets += c.sockets;
  }));
  return { fds, sockets };
}

/** Capacity of the filesystem holding `dir` (the overlay upper dir): statfs, device named from st_dev. */
export async function fsCapacity(dir: string): Promise<FsCapacity | undefined> {
  try {
    const [fs, st] = await Promise.all([statfs(dir, { bigint: true }), stat(dir, { bigint: true })]);
    // st_dev encodes major/minor as glibc's gnu_dev_major/minor do.
    const dev = st.dev;
    const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
    const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
    return { device: deviceName(major, minor), limitBytes: fs.blocks * fs.bsize, inodesTotal: fs.files, inodesFree: fs.ffree };
  } catch {
    return undefined;
  }
}
