// The detail reader over fake cgroup trees (v1 with separate cpu/cpuacct/memory/blkio/pids hierarchies
// as on this host, and v2), fd counting over a fake /proc, statfs of a real directory.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { countProcessFds, createDetailReader, fsCapacity } from '../../../src/cgroup/cadvisor-reader.js';
import { StatsCollector } from '../../../src/stats/stats-collector.js';
import { createCgroupReader } from '../../../src/cgroup/reader.js';

const root = mkdtempSync(path.join(tmpdir(), 'crius-cad-'));
after(() => rmSync(root, { recursive: true, force: true }));

function files(dir: string, f: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [k, v] of Object.entries(f)) writeFileSync(path.join(dir, k), v);
}

const cg = '/own/crius/pod/ctr';
const v1Mounts = ['cpu', 'cpuacct', 'memory', 'blkio', 'pids'].map((m) => path.join(root, 'v1', m));

test('v1: every controller file read from its own hierarchy; blkio falls back to the throttle files', () => {
  files(path.join(root, 'v1/cpu', cg), { 'cpu.stat': 'nr_periods 5\nnr_throttled 1\nthrottled_time 2000000000\n', 'cpu.cfs_period_us': '100000\n', 'cpu.shares': '1024\n' });
  files(path.join(root, 'v1/cpuacct', cg), { 'cpuacct.usage_user': '3000000000\n', 'cpuacct.usage_sys': '1000000000\n', 'cgroup.procs': '' });
  files(path.join(root, 'v1/memory', cg), {
    'cgroup.procs': '10\n11\n', 'memory.stat': 'total_cache 4096\ntotal_mapped_file 1024\ntotal_swap 0\npgfault 3\ntotal_pgfault 4\n',
    'memory.failcnt': '0\n', 'memory.max_usage_in_bytes': '8192\n', 'memory.kmem.usage_in_bytes': '512\n', 'memory.oom_control': 'oom_kill 0\n', 'memory.memsw.limit_in_bytes': '67108864\n',
  });
  files(path.join(root, 'v1/blkio', cg), {
    'blkio.bfq.io_service_bytes_recursive': 'Total 0\n', 'blkio.throttle.io_service_bytes_recursive': '7:99 Read 0\n7:99 Write 4096\nTotal 4096\n',
    'blkio.throttle.io_serviced_recursive': '7:99 Read 0\n7:99 Write 1\nTotal 1\n',
  });
  files(path.join(root, 'v1/pids', cg), { 'pids.current': '3\n', 'pids.max': 'max\n' });
  const d = createDetailReader({ mode: 'hybrid', v1Mounts, unifiedMount: path.join(root, 'unified') })(cg);
  assert.ok(d);
  assert.deepEqual(d.pids, [10, 11]);
  assert.deepEqual(d.cpu, { periods: 5n, throttledPeriods: 1n, throttledNs: 2_000_000_000n, userNs: 3_000_000_000n, systemNs: 1_000_000_000n });
  assert.deepEqual(d.cpuSpec, { periodUs: 100000n, shares: 1024n });
  assert.equal(d.memory?.cacheBytes, 4096n);
  assert.equal(d.memory?.maxUsageBytes, 8192n);
  assert.equal(d.memory?.kernelBytes, 512n);
  assert.equal(d.memory?.swapLimitBytes, 67108864n);
  // 7:99 is no block device in sysfs: named by its number.
  assert.deepEqual(d.ioBytes.map((e) => [e.device, e.op, e.value]), [['7:99', 'Read', 0n], ['7:99', 'Write', 4096n]]);
  assert.equal(d.ioOps.find((e) => e.op === 'Write')?.value, 1n);
  assert.equal(d.threads, 3n);
  assert.equal(d.threadsMax, 0n);
  assert.equal(createDetailReader({ mode: 'hybrid', v1Mounts })('/gone'), undefined);
});

test('v2: one unified directory', () => {
  files(path.join(root, 'v2', cg), {
    'cgroup.procs': '42\n', 'cpu.stat': 'usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 2\nnr_throttled 0\nthrottled_usec 0\n', 'cpu.max': '20000 100000\n', 'cpu.weight': '100\n',
    'memory.stat': 'file 100\nfile_mapped 50\nkernel 70\n', 'memory.events': 'max 0\noom_kill 0\n', 'memory.swap.current': '0\n', 'memory.swap.max': '0\n',
    'io.stat': '7:99 rbytes=512 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n', 'pids.current': '1\n', 'pids.max': '100\n',
  });
  const d = createDetailReader({ mode: 'v2', v1Mounts: [], unifiedMount: path.join(root, 'v2') })(cg);
  assert.ok(d);
  assert.deepEqual(d.pids, [42]);
  assert.deepEqual(d.cpuSpec, { periodUs: 100000n, shares: 2597n });
  assert.equal(d.cpu?.userNs, 6000n);
  assert.equal(d.memory?.kernelBytes, 70n);
  assert.deepEqual(d.ioBytes.filter((e) => e.op === 'Read').map((e) => e.value), [512n]);
  assert.equal(d.threadsMax, 100n);
});

test('fds and sockets over a fake /proc; a pid without fd dir is skipped', async () => {
  const fd = path.join(root, 'proc/10/fd');
  mkdirSync(fd, { recursive: true });
  symlinkSync('/dev/null', path.join(fd, '0'));
  symlinkSync('socket:[123]', path.join(fd, '1'));
  symlinkSync('pipe:[7]', path.join(fd, '2'));
  assert.deepEqual(await countProcessFds([10, 11], path.join(root, 'proc')), { fds: 3, sockets: 1 });
});

test('fsCapacity: statfs of a real directory; collector.containerDetail combines the three', async () => {
  const cap = await fsCapacity(root);
  assert.ok(cap && cap.limitBytes > 0n && cap.inodesTotal >= cap.inodesFree, JSON.stringify(cap, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
  assert.equal(await fsCapacity(path.join(root, 'nope')), undefined);
  const reader = createCgroupReader({ mode: 'hybrid', v1Mounts });
  const c = new StatsCollector({ cgroups: reader, now: () => 1n, fds: async (pids) => ({ fds: pids.length * 2, sockets: 1 }), fsCapacity: async () => cap });
  const d = await c.containerDetail({ id: 'c', cgroupPath: cg, upperDir: root });
  assert.deepEqual(d.fds, { fds: 4, sockets: 1 });
  assert.equal(d.cgroup?.threads, 3n);
  assert.equal(d.fs, cap);
});
