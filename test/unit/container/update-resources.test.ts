import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ociResourcesFromCri } from '../../../src/container/update-resources.js';

test('CRI resources to OCI update resources: zeros unset, int64 strings parsed', () => {
  const r = ociResourcesFromCri({ cpu_shares: '512', cpu_quota: '50000', cpu_period: '100000', memory_limit_in_bytes: '67108864', cpuset_cpus: '0', oom_score_adj: '0' }, { cgroupV2: false });
  assert.deepEqual(r.resources, { cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0' }, memory: { limit: 67108864 } });
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(ociResourcesFromCri({ cpu_shares: '0', memory_limit_in_bytes: 0 }, { cgroupV2: false }).resources, {});
});

test('quota -1 means unlimited; other negatives are refused', () => {
  assert.equal(ociResourcesFromCri({ cpu_quota: '-1' }, { cgroupV2: false }).resources.cpu?.quota, -1);
  assert.throws(() => ociResourcesFromCri({ memory_limit_in_bytes: '-5' }, { cgroupV2: false }), /memory_limit_in_bytes -5 is negative/);
  assert.throws(() => ociResourcesFromCri({ cpu_shares: 'x' }, { cgroupV2: false }), /not an integer/);
});

test('unified only on v2; oom_score_adj and hugepages warn', () => {
  const v1 = ociResourcesFromCri({ unified: { 'memory.high': '1000' }, oom_score_adj: '-997', hugepage_limits: [{}] }, { cgroupV2: false });
  assert.equal(v1.resources.unified, undefined);
  assert.equal(v1.warnings.length, 3);
  assert.deepEqual(ociResourcesFromCri({ unified: { 'memory.high': '1000' } }, { cgroupV2: true }).resources.unified, { 'memory.high': '1000' });
});
