import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkResources, parseCpuList } from '../../../../src/cri/validate/resources.js';
import { invalid } from './helpers.js';

const host = { maxCpu: 7, maxMem: 0 };
const f = 'config.linux.resources';

test('what the kubelet sends passes (0 = unset; quota -1 = none; period 100 ms)', () => {
  checkResources({ cpu_period: '100000', cpu_quota: '50000', cpu_shares: '512', cpuset_cpus: '0-3,6', cpuset_mems: '0' }, f, host);
  checkResources({ cpu_period: '0', cpu_quota: '-1', cpu_shares: '2' }, f, host);
  checkResources({}, f, host);
  checkResources(null, f, host);
});

test('CFS values the kernel refuses are INVALID_ARGUMENT naming the field', () => {
  invalid(() => checkResources({ cpu_period: '1' }, f, host), /config\.linux\.resources\.cpu_period 1 is outside 1000\.\.1000000/);
  invalid(() => checkResources({ cpu_period: '2000000' }, f, host), /cpu_period 2000000 is outside/);
  invalid(() => checkResources({ cpu_quota: '-2' }, f, host), /config\.linux\.resources\.cpu_quota -2 must be -1 \(no limit\) or at least 1000/);
  invalid(() => checkResources({ cpu_quota: '999' }, f, host), /cpu_quota 999/);
  invalid(() => checkResources({ cpu_shares: '1' }, f, host), /cpu_shares 1 is outside 2\.\.262144/);
  invalid(() => checkResources({ cpu_period: 'x' }, f, host), /cpu_period x is not an integer/);
});

test('cpusets: list syntax, ranges in order, nothing above the node\'s highest CPU or memory node', () => {
  assert.equal(parseCpuList('0-3,5', 7, 'c'), 5);
  invalid(() => checkResources({ cpuset_cpus: '0-99999' }, f, host), /config\.linux\.resources\.cpuset_cpus "0-99999" names 99999, but this node's highest is 7/);
  invalid(() => checkResources({ cpuset_cpus: '3-1' }, f, host), /range 3-1 is reversed/);
  invalid(() => checkResources({ cpuset_cpus: '0,,1' }, f, host), /is not a list such as "0-3,8"/);
  invalid(() => checkResources({ cpuset_cpus: '0\n' }, f, host), /is not a list/);
  invalid(() => checkResources({ cpuset_mems: '1' }, f, host), /cpuset_mems "1" names 1, but this node's highest is 0/);
});
