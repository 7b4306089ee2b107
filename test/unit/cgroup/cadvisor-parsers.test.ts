// The parsers behind the cAdvisor-only metrics, over file contents as this host's kernel (6.18, v1
// controllers) and a v2 kernel print them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  countFds, cpuDetailFromV2, cpuThrottleFromV1, cpuUserSysFromV1, devNameFromUevent, memoryDetailFromV1, memoryDetailFromV2,
  parseBlkioV1, parseIoStatV2, parsePidsMax, parseProcs, periodFromCpuMax, readWriteByDevice, sharesFromWeight,
} from '../../../src/cgroup/cadvisor-parsers.js';

test('v1 cpu.stat throttling; cpuacct usage_user/usage_sys in ns, else cpuacct.stat ticks (USER_HZ 100)', () => {
  assert.deepEqual(cpuThrottleFromV1('nr_periods 120\nnr_throttled 7\nthrottled_time 350000000\nnr_bursts 0\nburst_time 0\n'),
    { periods: 120n, throttledPeriods: 7n, throttledNs: 350_000_000n });
  assert.deepEqual(cpuThrottleFromV1(''), { periods: 0n, throttledPeriods: 0n, throttledNs: 0n });
  assert.deepEqual(cpuUserSysFromV1('1500000000\n', '250000000\n', 'user 1\nsystem 2\n'), { userNs: 1_500_000_000n, systemNs: 250_000_000n });
  assert.deepEqual(cpuUserSysFromV1(undefined, undefined, 'user 150\nsystem 25\n'), { userNs: 1_500_000_000n, systemNs: 250_000_000n });
  assert.deepEqual(cpuUserSysFromV1(undefined, undefined, undefined), {});
});

test('v2 cpu.stat: µs to ns; cpu.max period; cpu.weight back to shares', () => {
  assert.deepEqual(cpuDetailFromV2('usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\nnr_periods 10\nnr_throttled 2\nthrottled_usec 40\n'),
    { periods: 10n, throttledPeriods: 2n, throttledNs: 40_000n, userNs: 2_000_000n, systemNs: 1_000_000n });
  assert.equal(periodFromCpuMax('max 100000\n'), 100000n);
  assert.equal(periodFromCpuMax('20000 50000\n'), 50000n);
  assert.equal(periodFromCpuMax('garbage'), undefined);
  // runc maps shares 1024 -> weight 39 (integer division); the inverse lands within that rounding.
  assert.equal(sharesFromWeight(39n), 998n);
  assert.equal(sharesFromWeight(1n), 2n);
  assert.equal(sharesFromWeight(10000n), 262144n);
});

test('v1 memory detail: hierarchical totals, failcnt, max usage, kmem, oom_kill, memsw limit (unlimited -> 0)', () => {
  const stat = 'cache 100\nmapped_file 10\nswap 0\npgfault 5\npgmajfault 1\ntotal_cache 4096\ntotal_mapped_file 1024\ntotal_swap 512\ntotal_pgfault 50\ntotal_pgmajfault 3\n';
  const d = memoryDetailFromV1({
    stat, failcnt: '2\n', maxUsage: '819200\n', kmemUsage: '65536\n', oomControl: 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n', memswLimit: '67108864\n',
  });
  assert.deepEqual(d, {
    cacheBytes: 4096n, mappedFileBytes: 1024n, swapBytes: 512n, failcnt: 2n, oomKills: 1n,
    faults: { container: { pgfault: 5n, pgmajfault: 1n }, hierarchy: { pgfault: 50n, pgmajfault: 3n } },
    maxUsageBytes: 819200n, kernelBytes: 65536n, swapLimitBytes: 67108864n,
  });
  const u = memoryDetailFromV1({ stat: 'cache 7\n', memswLimit: '9223372036854771712\n' });
  assert.equal(u.cacheBytes, 7n);
  assert.equal(u.swapLimitBytes, 0n);
  assert.equal(u.maxUsageBytes, undefined);
  assert.equal(u.oomKills, 0n);
});

test('v2 memory detail: file, file_mapped, kernel (or kernel_stack+slab), memory.events, peak, swap', () => {
  const d = memoryDetailFromV2({
    stat: 'anon 100\nfile 2048\nkernel 300\nkernel_stack 16\nslab 200\nfile_mapped 512\npgfault 9\npgmajfault 2\n',
    events: 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n', peak: '999\n', swapCurrent: '64\n', swapMax: 'max\n',
  });
  assert.deepEqual(d, {
    cacheBytes: 2048n, mappedFileBytes: 512n, swapBytes: 64n, failcnt: 4n, oomKills: 1n,
    faults: { container: { pgfault: 9n, pgmajfault: 2n }, hierarchy: { pgfault: 9n, pgmajfault: 2n } },
    maxUsageBytes: 999n, kernelBytes: 300n, swapLimitBytes: 0n,
  });
  assert.equal(memoryDetailFromV2({ stat: 'kernel_stack 16\nslab 200\n' }).kernelBytes, 216n);
  assert.equal(memoryDetailFromV2({ stat: 'anon 1\n' }).kernelBytes, undefined);
});

test('block I/O: v1 blkio lines per device and op (Total line skipped); v2 io.stat; read/write sums per device', () => {
  const v1 = parseBlkioV1('254:0 Read 4096\n254:0 Write 8192\n254:0 Sync 8192\n254:0 Async 4096\n254:0 Discard 0\n254:0 Total 12288\nTotal 12288\n');
  assert.equal(v1.length, 6);
  assert.deepEqual(v1[1], { major: 254, minor: 0, op: 'Write', value: 8192n });
  assert.deepEqual(parseBlkioV1('Total 0\n'), []);
  const v2 = parseIoStatV2('254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n');
  assert.deepEqual(v2.bytes.filter((e) => e.major === 254).map((e) => [e.op, e.value]), [['Read', 4096n], ['Write', 8192n], ['Discard', 0n]]);
  assert.deepEqual(v2.ops.find((e) => e.major === 8 && e.op === 'Read'), { major: 8, minor: 16, op: 'Read', value: 1n });
  const sums = readWriteByDevice([...v1.map((e) => ({ ...e, device: '/dev/vda' })), { device: '/dev/vda', op: 'Read', value: 4n }]);
  assert.deepEqual([...sums], [['/dev/vda', { read: 4100n, write: 8192n }]]);
});

test('pids.max ("max" -> 0), cgroup.procs, fd targets, sysfs uevent device names', () => {
  assert.equal(parsePidsMax('max\n'), 0n);
  assert.equal(parsePidsMax('1024\n'), 1024n);
  assert.deepEqual(parseProcs('12\n345\n\n'), [12, 345]);
  assert.deepEqual(countFds(['/dev/null', 'pipe:[123]', 'socket:[456]', 'socket:[789]', 'anon_inode:[eventpoll]']), { fds: 5, sockets: 2 });
  assert.equal(devNameFromUevent('MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n'), '/dev/vda');
  assert.equal(devNameFromUevent('MAJOR=0\n'), undefined);
});
