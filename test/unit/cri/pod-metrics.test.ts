import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerMetrics, metricDescriptors, podMetrics } from '../../../src/cri/pod-metrics.js';
import { countBy } from '../../../src/daemon/metrics.js';

test('descriptors cover the cAdvisor names the kubelet asks for; label values match label keys', () => {
  const d = new Map(metricDescriptors().map((x) => [x.name, x]));
  for (const n of ['container_cpu_usage_seconds_total', 'container_memory_working_set_bytes', 'container_memory_rss', 'container_memory_usage_bytes', 'container_fs_usage_bytes', 'container_network_receive_bytes_total', 'container_network_transmit_bytes_total']) {
    assert.ok(d.has(n), n);
  }
  const ms = containerMetrics({ id: 'c', name: 'web', image: 'busybox' }, {
    atNs: 5n, cpu: { usageNs: 2_500_000_000n }, memory: { usageBytes: 10n, workingSetBytes: 8n, rssBytes: 6n, pageFaults: 0n, majorPageFaults: 0n }, processCount: 1n, writable: { bytes: 4096, inodes: 3 },
  });
  for (const m of ms) assert.equal(m.label_values?.length, (d.get(m.name!)!.label_keys ?? []).length, m.name);
  const cpu = ms.find((m) => m.name === 'container_cpu_usage_seconds_total')!;
  assert.equal(cpu.value?.value, '2');
  assert.equal(cpu.metric_type, 'COUNTER');
  assert.equal(ms.find((m) => m.name === 'container_memory_working_set_bytes')?.metric_type, 'GAUGE');
  const net = podMetrics({ id: 'p', name: 'pod' }, { atNs: 1n, network: { interfaces: [{ name: 'eth0', rxBytes: 7n, rxErrors: 0n, txBytes: 9n, txErrors: 0n }] } });
  assert.deepEqual(net.find((m) => m.name === 'container_network_receive_bytes_total')?.label_values, ['p', 'pod', '', 'eth0']);
  for (const m of net) assert.equal(m.label_values?.length, (d.get(m.name!)!.label_keys ?? []).length, m.name);
});

test('countBy keeps known states at 0', () => {
  assert.deepEqual(countBy(['a', 'a', 'c'], (x) => x, ['a', 'b']), { a: 2, b: 0, c: 1 });
});

test('cAdvisor detail metrics: every descriptor emitted with as many label values as keys; seconds are whole', () => {
  const d = new Map(metricDescriptors().map((x) => [x.name, x]));
  const ms = containerMetrics({ id: 'c', name: 'web', image: 'busybox', startedAtNs: 1_700_000_000_500_000_000n }, {
    atNs: 1_700_000_100_000_000_000n, cpu: { usageNs: 1n }, memory: { usageBytes: 10n, workingSetBytes: 8n, rssBytes: 6n, pageFaults: 0n, majorPageFaults: 0n }, processCount: 1n, writable: { bytes: 1, inodes: 1 },
  }, {
    cgroup: {
      cpu: { periods: 4n, throttledPeriods: 2n, throttledNs: 3_500_000_000n, userNs: 2_000_000_000n, systemNs: 1_000_000_000n },
      cpuSpec: { periodUs: 100000n, shares: 1024n },
      memory: {
        cacheBytes: 1n, mappedFileBytes: 2n, swapBytes: 0n, failcnt: 0n, maxUsageBytes: 9n, kernelBytes: 3n, oomKills: 0n, swapLimitBytes: 0n,
        faults: { container: { pgfault: 5n, pgmajfault: 0n }, hierarchy: { pgfault: 6n, pgmajfault: 1n } },
      },
      ioBytes: [{ major: 254, minor: 0, device: '/dev/vda', op: 'Read', value: 10n }, { major: 254, minor: 0, device: '/dev/vda', op: 'Write', value: 20n }, { major: 254, minor: 0, device: '/dev/vda', op: 'Total', value: 30n }],
      ioOps: [{ major: 254, minor: 0, device: '/dev/vda', op: 'Write', value: 2n }],
      threads: 1n, threadsMax: 0n, pids: [1],
    },
    fds: { fds: 3, sockets: 1 },
    fs: { device: '/dev/vda', limitBytes: 100n, inodesTotal: 10n, inodesFree: 5n },
  });
  const names = new Set(ms.map((m) => m.name));
  for (const x of d.values()) if (!x.name!.startsWith('container_network_')) assert.ok(names.has(x.name!), x.name!);
  for (const m of ms) assert.equal(m.label_values?.length, (d.get(m.name!)!.label_keys ?? []).length, m.name);
  const v = (n: string, ...extra: string[]): string =>
    String(ms.find((m) => m.name === n && extra.every((e, i) => m.label_values?.[3 + i] === e))?.value?.value);
  assert.equal(v('container_cpu_cfs_throttled_seconds_total'), '3');
  assert.equal(v('container_cpu_user_seconds_total'), '2');
  assert.equal(v('container_start_time_seconds'), '1700000000');
  assert.equal(v('container_last_seen'), '1700000100');
  assert.equal(v('container_memory_failures_total', 'pgmajfault', 'hierarchy'), '1');
  assert.equal(v('container_blkio_device_usage_total', '/dev/vda', '254', '0', 'Total'), '30');
  assert.equal(v('container_fs_writes_bytes_total', '/dev/vda'), '20');
  assert.equal(v('container_fs_reads_total', '/dev/vda'), '0');
  assert.equal(v('container_fs_inodes_free', '/dev/vda'), '5');
  assert.equal(v('container_sockets'), '1');
  const net = podMetrics({ id: 'p', name: 'pod' }, { atNs: 1n, network: { interfaces: [{ name: 'eth0', rxBytes: 7n, rxErrors: 0n, txBytes: 9n, txErrors: 0n, rxPackets: 3n, rxDropped: 0n, txPackets: 4n, txDropped: 1n }] } });
  assert.equal(String(net.find((m) => m.name === 'container_network_transmit_packets_dropped_total')?.value?.value), '1');
  for (const x of d.values()) if (x.name!.startsWith('container_network_')) assert.ok(net.some((m) => m.name === x.name), x.name!);
});
