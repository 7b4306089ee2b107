import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuFromV1, cpuFromV2, memoryFromV1, memoryFromV2, nanoCores, parseFlatKeyed, parseSingleValue } from '../../../src/cgroup/parsers.js';
import { defaultInterface, parseNetDev } from '../../../src/stats/netns-dev.js';
import { v1ControllerMounts } from '../../../src/cgroup/reader.js';

const V1_STAT = `cache 4096
rss 8192
inactive_file 1000
pgfault 7
pgmajfault 1
total_cache 40960
total_rss 1048576
total_inactive_file 20480
total_pgfault 3000
total_pgmajfault 2
`;

test('single values: numbers, max, junk', () => {
  assert.equal(parseSingleValue('123\n'), 123n);
  assert.equal(parseSingleValue('max\n'), undefined);
  assert.equal(parseSingleValue(''), undefined);
  assert.equal(parseSingleValue('12 34'), undefined);
  assert.equal(parseSingleValue('18446744073709551615'), 18446744073709551615n);
});

test('flat keyed files skip unparsable lines', () => {
  const m = parseFlatKeyed('a 1\nbad line here\nb 2\n\n');
  assert.deepEqual([...m], [['a', 1n], ['b', 2n]]);
});

test('v1 memory: total_* keys win, working set = usage - total_inactive_file, unlimited has no available', () => {
  const m = memoryFromV1('2097152\n', '9223372036854771712\n', V1_STAT);
  assert.equal(m.usageBytes, 2097152n);
  assert.equal(m.workingSetBytes, 2097152n - 20480n);
  assert.equal(m.rssBytes, 1048576n);
  assert.equal(m.pageFaults, 3000n);
  assert.equal(m.majorPageFaults, 2n);
  assert.equal(m.availableBytes, undefined);
  assert.equal(m.limitBytes, undefined);
});

test('v1 memory with a limit: available = limit - working set; working set floors at 0', () => {
  const m = memoryFromV1('100\n', '1000\n', 'total_inactive_file 500\n');
  assert.equal(m.workingSetBytes, 0n);
  assert.equal(m.availableBytes, 1000n);
  assert.equal(m.limitBytes, 1000n);
  const n = memoryFromV1('100\n', '1000\n', 'inactive_file 40\nrss 60\n');
  assert.equal(n.workingSetBytes, 60n);
  assert.equal(n.rssBytes, 60n);
});

test('v2 memory: anon is rss, max means no limit', () => {
  const m = memoryFromV2('5000\n', 'max\n', 'anon 3000\nfile 2000\ninactive_file 1500\npgfault 10\npgmajfault 3\n');
  assert.deepEqual(m, { usageBytes: 5000n, workingSetBytes: 3500n, rssBytes: 3000n, pageFaults: 10n, majorPageFaults: 3n });
  assert.equal(memoryFromV2('5000\n', '8000\n', 'inactive_file 1500\n').availableBytes, 4500n);
});

test('cpu: v1 ns as is, v2 usage_usec in ns', () => {
  assert.equal(cpuFromV1('123456789\n').usageNs, 123456789n);
  assert.equal(cpuFromV2('usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n').usageNs, 1_500_000n);
  assert.equal(cpuFromV2('').usageNs, 0n);
});

test('nanoCores: a rate between samples; none without history or elapsed time; 0 after a reset', () => {
  assert.equal(nanoCores(undefined, { usageNs: 5n, atNs: 10n }), undefined);
  assert.equal(nanoCores({ usageNs: 0n, atNs: 0n }, { usageNs: 500_000_000n, atNs: 1_000_000_000n }), 500_000_000n);
  assert.equal(nanoCores({ usageNs: 0n, atNs: 5n }, { usageNs: 10n, atNs: 5n }), undefined);
  assert.equal(nanoCores({ usageNs: 100n, atNs: 0n }, { usageNs: 10n, atNs: 5n }), 0n);
});

test('/proc/net/dev: counters per interface; eth0 is the default, lo never', () => {
  const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0       0          0
  eth0:    1296      16    1    3    0     0          0         0      726       9    2    4    0     0       0          0
`;
  const ifs = parseNetDev(text);
  assert.deepEqual(ifs.map((i) => i.name), ['lo', 'eth0']);
  assert.deepEqual(ifs[1], { name: 'eth0', rxBytes: 1296n, rxPackets: 16n, rxErrors: 1n, rxDropped: 3n, txBytes: 726n, txPackets: 9n, txErrors: 2n, txDropped: 4n });
  assert.equal(defaultInterface(ifs)?.name, 'eth0');
  assert.equal(defaultInterface([ifs[0]!]), undefined);
  assert.equal(defaultInterface([ifs[0]!, { ...ifs[1]!, name: 'net1' }])?.name, 'net1');
});

test('v1 controller mounts from directory names, joint mounts included', () => {
  const m = v1ControllerMounts(['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/pids']);
  assert.equal(m.get('cpuacct'), '/sys/fs/cgroup/cpu,cpuacct');
  assert.equal(m.get('cpu'), '/sys/fs/cgroup/cpu,cpuacct');
  assert.equal(m.get('memory'), '/sys/fs/cgroup/memory');
});

test('PSI: some and full lines, totals from microseconds to nanoseconds', async () => {
  const { parsePressure } = await import('../../../src/cgroup/parsers.js');
  assert.deepEqual(parsePressure('some avg10=1.50 avg60=0.25 avg300=0.00 total=12345\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n'), {
    some: { avg10: 1.5, avg60: 0.25, avg300: 0, totalNs: 12345000n },
    full: { avg10: 0, avg60: 0, avg300: 0, totalNs: 7000n },
  });
  assert.deepEqual(parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n'), { some: { avg10: 0, avg60: 0, avg300: 0, totalNs: 0n } });
  assert.deepEqual(parsePressure('garbage'), {});
});
