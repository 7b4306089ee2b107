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
