import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  cgroupBaseFrom, cgroupDirs, cgroupLayoutFromMountinfo, cgroupParentFor, containerCgroupsPath, parseProcCgroup, runtimeHiddenMounts,
} from '../../../src/cgroup/mode.js';
import { errorCode } from '../../../src/common/errors.js';

const HYBRID = `
25 1 0:22 / /sys rw - sysfs sysfs rw
30 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const V2 = '30 25 0:26 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n';
const V1 = '31 30 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n';
const PROC_CGROUP = '9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/\n0::/\n';

describe('cgroup layout', () => {
  it('tells v1, v2 and hybrid apart from mountinfo', () => {
    const h = cgroupLayoutFromMountinfo(HYBRID);
    assert.equal(h.mode, 'hybrid');
    assert.deepEqual(h.v1Mounts, ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/memory']);
    assert.equal(h.unifiedMount, '/sys/fs/cgroup/unified');
    assert.deepEqual(runtimeHiddenMounts(h), ['/sys/fs/cgroup/unified']);
    const v2 = cgroupLayoutFromMountinfo(V2);
    assert.equal(v2.mode, 'v2');
    assert.deepEqual(runtimeHiddenMounts(v2), []);
    const v1 = cgroupLayoutFromMountinfo(V1);
    assert.equal(v1.mode, 'v1');
    assert.deepEqual(v1.v1Mounts, ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/memory']);
    assert.deepEqual(runtimeHiddenMounts(v1), []);
  });

  it('parses /proc/self/cgroup, including comma-joined controllers and the v2 entry', () => {
    const m = parseProcCgroup(PROC_CGROUP);
    assert.equal(m.get('memory'), '/process_api/abc');
    assert.equal(m.get('cpu'), '/');
    assert.equal(m.get('cpuacct'), '/');
    assert.equal(m.get('name=systemd'), '/');
    assert.equal(m.get(''), '/');
  });

  it('nests pods beneath our own memory cgroup (v1/hybrid) or our v2 cgroup', () => {
    const h = cgroupLayoutFromMountinfo(HYBRID);
    const base = cgroupBaseFrom(h, parseProcCgroup(PROC_CGROUP));
    assert.equal(base, '/process_api/abc/crius');
    assert.equal(cgroupBaseFrom(cgroupLayoutFromMountinfo(V2), parseProcCgroup('0::/system.slice/crius.service\n')), '/system.slice/crius.service/crius');
    assert.equal(cgroupBaseFrom(cgroupLayoutFromMountinfo(V2), parseProcCgroup('0::/\n')), '/crius');
    assert.equal(cgroupParentFor(base, 'pod1'), '/process_api/abc/crius/pod1');
    assert.equal(cgroupParentFor(base, 'pod1', '/kubepods/burstable/'), '/process_api/abc/crius/kubepods/burstable/pod1');
    assert.equal(containerCgroupsPath('/x/crius/pod1', 'c1'), '/x/crius/pod1/c1');
    for (const bad of ['../etc', 'a b', '']) {
      assert.throws(() => cgroupParentFor(base, bad), (e: unknown) => errorCode(e) === 'INVALID_ARGUMENT');
    }
    assert.throws(() => cgroupParentFor(base, 'p', '/kubepods/../../x'), (e: unknown) => errorCode(e) === 'INVALID_ARGUMENT');
  });

  it('lists the directories of a cgroup in every hierarchy', () => {
    const h = cgroupLayoutFromMountinfo(HYBRID);
    assert.deepEqual(cgroupDirs(h, '/a/b'), ['/sys/fs/cgroup/cpu/a/b', '/sys/fs/cgroup/memory/a/b', '/sys/fs/cgroup/unified/a/b']);
    assert.deepEqual(cgroupDirs(h, '/a/b', false), ['/sys/fs/cgroup/cpu/a/b', '/sys/fs/cgroup/memory/a/b']);
    assert.deepEqual(cgroupDirs(cgroupLayoutFromMountinfo(V2), '/a'), ['/sys/fs/cgroup/a']);
  });
});
