import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import { withAnnotations } from '../../../src/spec/annotations.js';
import { defaultDeviceRules, defaultSpec } from '../../../src/spec/defaults.js';
import { withDevices } from '../../../src/spec/devices.js';
import { withCgroupsPath, withResources, withSysctls } from '../../../src/spec/resources.js';
import type { LinuxContainerResources, RuntimeContext } from '../../../src/spec/types.js';
import { ctxOf } from '../../helpers/spec-context.js';

function res(r: LinuxContainerResources, rt: Partial<RuntimeContext> = {}) {
  const s = defaultSpec();
  const ctx = ctxOf({ container: { metadata: { name: 'c1' }, linux: { resources: r } }, runtime: rt });
  withResources(s, ctx);
  return { r: s.linux!.resources!, oom: s.process!.oomScoreAdj, warnings: ctx.warnings };
}

test('cpu, memory and swap from int64 strings; zero means unset', () => {
  const { r } = res({ cpu_shares: '512', cpu_quota: '50000', cpu_period: '100000', cpuset_cpus: '0-1', cpuset_mems: '0', memory_limit_in_bytes: '104857600', memory_swap_limit_in_bytes: '209715200' });
  assert.deepEqual(r.cpu, { shares: 512, quota: 50000, period: 100000, cpus: '0-1', mems: '0' });
  assert.deepEqual(r.memory, { limit: 104857600, swap: 209715200 });
  assert.deepEqual(r.devices, defaultDeviceRules(), 'device rules kept');
  const z = res({ cpu_shares: '0', memory_limit_in_bytes: 0 }).r;
  assert.equal(z.cpu, undefined);
  assert.equal(z.memory, undefined);
});

test('oom_score_adj is clamped to what crius may set, with a warning', () => {
  const a = res({ oom_score_adj: '-997' }, { oomScoreAdjMin: 0 });
  assert.equal(a.oom, 0);
  assert.match(a.warnings[0]!, /oom_score_adj -997 raised to 0/);
  const b = res({ oom_score_adj: 1000 }, { oomScoreAdjMin: 0 });
  assert.equal(b.oom, 1000);
  assert.equal(b.warnings.length, 0);
  assert.throws(() => res({ oom_score_adj: 2000 }), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT');
});

test('hugepages only with hugetlb; unified only on cgroup v2; pids from the runtime config', () => {
  const h = res({ hugepage_limits: [{ page_size: '2MB', limit: '4194304' }], unified: { 'memory.high': '1000000' } }, { pidsLimit: 1024 });
  assert.equal(h.r.hugepageLimits, undefined);
  assert.equal(h.r.unified, undefined);
  assert.equal(h.warnings.length, 2);
  assert.deepEqual(h.r.pids, { limit: 1024 });
  const v2 = res({ hugepage_limits: [{ page_size: '2MB', limit: '4194304' }], unified: { 'memory.high': '1000000' } }, { hugetlb: true, cgroupV2: true });
  assert.deepEqual(v2.r.hugepageLimits, [{ pageSize: '2MB', limit: 4194304 }]);
  assert.deepEqual(v2.r.unified, { 'memory.high': '1000000' });
});

test('negative limits and non-integers are InvalidArgument', () => {
  assert.throws(() => res({ memory_limit_in_bytes: -5 }), /negative/);
  assert.throws(() => res({ cpu_shares: 'lots' }), /not an integer/);
  assert.deepEqual(res({ cpu_quota: -1 }).r.cpu, { quota: -1 }, 'quota -1 means unlimited');
});

test('cgroupsPath from the runtime context', () => {
  const s = defaultSpec();
  withCgroupsPath(s, ctxOf({ runtime: { cgroupsPath: '/process_api/abc/crius/c1' } }));
  assert.equal(s.linux!.cgroupsPath, '/process_api/abc/crius/c1');
});

test('sysctls from the pod; net.* refused with host network', () => {
  const s = defaultSpec();
  withSysctls(s, ctxOf({ sandbox: { linux: { sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0', 'kernel.shmmax': '1000' } } } }));
  assert.deepEqual(s.linux!.sysctl, { 'net.ipv4.ip_unprivileged_port_start': '0', 'kernel.shmmax': '1000' });
  const host = ctxOf({ sandbox: { linux: { sysctls: { 'net.core.somaxconn': '1' }, security_context: { namespace_options: { network: 'NODE' } } } } });
  assert.throws(() => withSysctls(defaultSpec(), host), /"net.core.somaxconn" cannot be set with host network/);
});

test('devices: nodes and cgroup rules from the caller\'s stat; unknown host path is NotFound', () => {
  const s = defaultSpec();
  const deviceNodes = { '/dev/fuse': { type: 'c' as const, major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 } };
  withDevices(s, ctxOf({ container: { metadata: { name: 'c1' }, devices: [{ container_path: '/dev/fuse', host_path: '/dev/fuse', permissions: 'rw' }] }, runtime: { deviceNodes } }));
  assert.deepEqual(s.linux!.devices, [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }]);
  assert.deepEqual(s.linux!.resources!.devices!.at(-1), { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' });
  assert.throws(
    () => withDevices(defaultSpec(), ctxOf({ container: { devices: [{ container_path: '/dev/x', host_path: '/dev/nope', permissions: 'r' }] } })),
    (e: unknown) => e instanceof CriusError && e.code === 'NOT_FOUND' && /"\/dev\/nope"/.test(e.message),
  );
  assert.throws(() => withDevices(defaultSpec(), ctxOf({ container: { devices: [{ container_path: '/dev/fuse', host_path: '/dev/fuse', permissions: 'rwx' }] }, runtime: { deviceNodes } })), /permissions "rwx"/);
});

test('annotations: our io.kubernetes.cri.* keys; CRI annotations only when allowed, never runtime-interpreted ones', () => {
  const ctx = ctxOf({
    container: { metadata: { name: 'web' }, annotations: { 'team/owner': 'a', 'run.oci.keep_original_groups': '1', 'io.kubernetes.cri.container-type': 'sandbox' } },
    runtime: { ids: { sandboxId: 'sb1', imageName: 'busybox:latest' }, annotationAllowlist: ['team/', 'run.oci.', 'io.kubernetes.cri.'] },
  });
  const s = defaultSpec();
  withAnnotations(s, ctx);
  assert.deepEqual(s.annotations, {
    'team/owner': 'a',
    'io.kubernetes.cri.container-type': 'container',
    'io.kubernetes.cri.sandbox-id': 'sb1',
    'io.kubernetes.cri.sandbox-name': 'p1',
    'io.kubernetes.cri.sandbox-namespace': 'default',
    'io.kubernetes.cri.sandbox-uid': 'uid-1',
    'io.kubernetes.cri.container-name': 'web',
    'io.kubernetes.cri.image-name': 'busybox:latest',
  });
  const t = defaultSpec();
  withAnnotations(t, ctxOf({ container: { annotations: { 'team/owner': 'a' } } }));
  assert.equal(t.annotations!['team/owner'], undefined, 'nothing passes without an allowlist');
});
