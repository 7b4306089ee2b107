import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podCgroupWrites, podLimitsFromCri, sharesToWeight } from '../../../src/cgroup/pod-resources.js';
import { podTotals } from '../../../src/cri/pod-resources.js';

test('v1 writes: period before quota, each file in its controller', () => {
  assert.deepEqual(podCgroupWrites(false, { cpuShares: 512, cpuQuota: 50000, cpuPeriod: 100000, memoryLimit: 1024 }), [
    { controller: 'cpu', file: 'cpu.shares', value: '512' },
    { controller: 'cpu', file: 'cpu.cfs_period_us', value: '100000' },
    { controller: 'cpu', file: 'cpu.cfs_quota_us', value: '50000' },
    { controller: 'memory', file: 'memory.limit_in_bytes', value: '1024' },
  ]);
  assert.deepEqual(podCgroupWrites(false, {}), []);
});

test('v2 writes: weight from shares, cpu.max, memory.max', () => {
  assert.deepEqual(podCgroupWrites(true, { cpuShares: 1024, cpuQuota: -1, memoryLimit: 2048 }), [
    { controller: '', file: 'cpu.weight', value: '39' },
    { controller: '', file: 'cpu.max', value: 'max 100000' },
    { controller: '', file: 'memory.max', value: '2048' },
  ]);
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(262144), 10000);
});

test('CRI limits: 0 unset, -1 quota allowed, junk refused; overhead adds up', () => {
  assert.deepEqual(podLimitsFromCri({ cpu_shares: '0', cpu_quota: '-1', memory_limit_in_bytes: '100' }), { cpuQuota: -1, memoryLimit: 100 });
  assert.throws(() => podLimitsFromCri({ memory_limit_in_bytes: '-2' }), /not a valid value/);
  assert.deepEqual(podTotals({ cpu_shares: '1024', memory_limit_in_bytes: '1000', cpu_quota: '100000', cpu_period: '100000' }, { cpu_shares: '10', memory_limit_in_bytes: '24', cpu_quota: '5000', cpu_period: '50000' }),
    { cpuShares: 1034, memoryLimit: 1024, cpuQuota: 110000, cpuPeriod: 100000 });
  assert.deepEqual(podTotals({ memory_limit_in_bytes: '1000' }, null), { memoryLimit: 1000 });
});
