import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cgroupDriverProblem, conmonScope, containerScope, defaultCgroupDriver, isCriusPodSlice, podSlice, slicePath, systemdCgroupsPath, systemdScopePath,
} from '../../../src/cgroup/driver.js';
import { containerCgroupFsPath, containerCgroupPath, podCgroupFsPath, podCgroupParent, prepareV2Subtree } from '../../../src/cgroup/host.js';
import type { OciHost } from '../../../src/oci/host-setup.js';
import { sliceProperties } from '../../../src/cgroup/pod-resources.js';
import { CriusError } from '../../../src/common/errors.js';

const v2 = { mode: 'v2' as const, v1Mounts: [], unifiedMount: '/sys/fs/cgroup' };
const hybrid = { mode: 'hybrid' as const, v1Mounts: ['/sys/fs/cgroup/memory'], unifiedMount: '/sys/fs/cgroup/unified' };

test('default driver: systemd only with systemd as PID 1 on pure v2', () => {
  assert.equal(defaultCgroupDriver(v2, true), 'systemd');
  assert.equal(defaultCgroupDriver(v2, false), 'cgroupfs');
  assert.equal(defaultCgroupDriver(hybrid, true), 'cgroupfs');
  assert.equal(cgroupDriverProblem('systemd', v2, true), undefined);
  assert.match(cgroupDriverProblem('systemd', v2, false) ?? '', /PID 1/);
  assert.match(cgroupDriverProblem('systemd', hybrid, true) ?? '', /pure cgroup v2.*hybrid/);
  assert.equal(cgroupDriverProblem('cgroupfs', hybrid, false), undefined);
});

test('slice names expand to systemd\'s nesting; scopes are per container', () => {
  assert.equal(slicePath('kubepods-burstable-pod1234.slice'), '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice');
  assert.equal(slicePath('system.slice'), '/system.slice');
  assert.equal(slicePath('-.slice'), '/');
  assert.equal(systemdCgroupsPath('kubepods-besteffort.slice', 'abc'), 'kubepods-besteffort.slice:crius:abc');
  assert.equal(systemdScopePath('kubepods-besteffort.slice', 'abc'), '/kubepods.slice/kubepods-besteffort.slice/crius-abc.scope');
  assert.equal(systemdScopePath('-.slice', 'abc'), '/crius-abc.scope');
  assert.equal(containerScope('abc'), 'crius-abc.scope');
  assert.equal(conmonScope('abc'), 'crius-conmon-abc.scope');
});

test('pod slices: the kubelet\'s slice name, the last part of a slice path, or crius\'s own per-pod slice', () => {
  assert.equal(podSlice('ab12', 'kubepods-burstable-pod0a1b_2c.slice'), 'kubepods-burstable-pod0a1b_2c.slice');
  assert.equal(podSlice('ab12', '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podx.slice'), 'kubepods-besteffort-podx.slice');
  assert.equal(podSlice('ab12'), 'crius-podab12.slice');
  assert.ok(isCriusPodSlice(podSlice('ab12')));
  assert.ok(!isCriusPodSlice('kubepods-burstable-podx.slice'));
  for (const bad of ['/kubepods/burstable/pod1', 'kubepods', 'a--b.slice', '-a.slice', 'a-.slice', 'x y.slice']) {
    assert.throws(() => podSlice('ab12', bad), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT' && e.message.includes(bad), bad);
  }
});

test('host-level paths follow the driver', () => {
  const base = { layout: v2, hideMounts: [], cgroupBase: '/system.slice/crius.service/crius', oomScoreAdjFloor: 0, wrapperPath: '' };
  const sd: OciHost = { ...base, driver: 'systemd' };
  const fs: OciHost = { ...base, driver: 'cgroupfs' };
  assert.equal(podCgroupParent(sd, 'p1', 'kubepods-pod1.slice'), 'kubepods-pod1.slice');
  assert.equal(containerCgroupPath(sd, 'kubepods-pod1.slice', 'c1'), 'kubepods-pod1.slice:crius:c1');
  assert.equal(containerCgroupFsPath(sd, 'kubepods-pod1.slice', 'c1'), '/kubepods.slice/kubepods-pod1.slice/crius-c1.scope');
  assert.equal(podCgroupFsPath(sd, 'kubepods-pod1.slice'), '/kubepods.slice/kubepods-pod1.slice');
  assert.equal(podCgroupParent(fs, 'p1', '/kubepods/pod1'), '/system.slice/crius.service/crius/kubepods/pod1/p1');
  assert.equal(containerCgroupPath(fs, '/x/p1', 'c1'), '/x/p1/c1');
  assert.equal(containerCgroupFsPath(fs, '/x/p1', 'c1'), '/x/p1/c1');
  assert.equal(podCgroupFsPath(fs, '/x/p1'), '/x/p1');
});

test('slice properties for pod limits (systemctl set-property)', () => {
  assert.deepEqual(sliceProperties({ cpuShares: 1024, cpuQuota: 50000, cpuPeriod: 100000, memoryLimit: 1 << 26 }),
    ['CPUWeight=39', 'CPUQuotaPeriodSec=100000us', 'CPUQuota=50.00%', 'MemoryMax=67108864']);
  assert.deepEqual(sliceProperties({ cpuQuota: 150000 }), ['CPUQuotaPeriodSec=100000us', 'CPUQuota=150.00%']);
  assert.deepEqual(sliceProperties({ cpuQuota: -1, cpuPeriod: 50000 }), ['CPUQuotaPeriodSec=50000us', 'CPUQuota=']);
  assert.deepEqual(sliceProperties({}), []);
});

test('v2 cgroupfs subtree: the daemon moves into a leaf, then controllers are enabled in its cgroup and the base', async () => {
  const root = mkdtempSync(join(tmpdir(), 'crius-cg-'));
  try {
    const own = join(root, 'system.slice', 'crius.service');
    mkdirSync(join(own, 'crius'), { recursive: true });
    writeFileSync(join(own, 'cgroup.procs'), '4242\n');
    writeFileSync(join(own, 'cgroup.controllers'), 'cpuset cpu io memory pids rdma\n');
    writeFileSync(join(own, 'crius', 'cgroup.controllers'), 'cpu io memory pids\n');
    const notes = await prepareV2Subtree(root, '/system.slice/crius.service/crius', 4242);
    assert.equal(readFileSync(join(own, 'supervisor', 'cgroup.procs'), 'utf8'), '4242');
    assert.match(notes.join(' '), /supervisor/);
    assert.equal(readFileSync(join(own, 'cgroup.subtree_control'), 'utf8'), '+cpu +cpuset +io +memory +pids');
    assert.equal(readFileSync(join(own, 'crius', 'cgroup.subtree_control'), 'utf8'), '+cpu +io +memory +pids');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('pod limits under the systemd driver go through systemctl set-property --runtime on the slice', async () => {
  const { applySliceLimits } = await import('../../../src/cgroup/pod-resources.js');
  const calls: string[][] = [];
  await applySliceLimits('kubepods-pod1.slice', { memoryLimit: 1024, cpuQuota: 25000, cpuPeriod: 100000 }, async (file, args) => {
    calls.push([file, ...args]);
    return { stdout: '', stderr: '', code: 0 };
  });
  assert.deepEqual(calls, [['systemctl', 'set-property', '--runtime', 'kubepods-pod1.slice', 'CPUQuotaPeriodSec=100000us', 'CPUQuota=25.00%', 'MemoryMax=1024']]);
  calls.length = 0;
  await applySliceLimits('kubepods-pod1.slice', {}, async (file, args) => { calls.push([file, ...args]); return { stdout: '', stderr: '', code: 0 }; });
  assert.deepEqual(calls, [], 'nothing to set, no call');
});
