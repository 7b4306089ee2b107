import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CAPABILITIES } from '../../../src/spec/defaults.js';
import { CLONE_NAMESPACE_FLAGS, runtimeDefaultSeccomp, seccompArchitectures } from '../../../src/spec/seccomp-default.js';

const denied = (caps: readonly string[]): string[] => runtimeDefaultSeccomp(caps, 'x64').syscalls!.filter((s) => !s.args && s.errnoRet === 1).flatMap((s) => s.names);

test('RuntimeDefault allows by default and denies the dangerous groups with EPERM', () => {
  const p = runtimeDefaultSeccomp(DEFAULT_CAPABILITIES, 'x64');
  assert.equal(p.defaultAction, 'SCMP_ACT_ALLOW');
  assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const d = denied(DEFAULT_CAPABILITIES);
  for (const n of ['keyctl', 'bpf', 'ptrace', 'mount', 'setns', 'open_tree', 'mount_setattr', 'init_module', 'reboot', 'io_uring_setup', 'open_by_handle_at', 'userfaultfd', 'perf_event_open']) {
    assert.ok(d.includes(n), n);
  }
  for (const n of ['read', 'write', 'clone', 'unshare', 'chown', 'chroot']) assert.ok(!d.includes(n), n);
});

test('clone/unshare with any namespace flag are denied; clone3 answers ENOSYS', () => {
  const p = runtimeDefaultSeccomp(DEFAULT_CAPABILITIES, 'x64');
  const flagRules = p.syscalls!.filter((s) => s.args);
  assert.equal(flagRules.length, CLONE_NAMESPACE_FLAGS.length * 2);
  const user = flagRules.find((s) => s.names[0] === 'unshare' && s.args![0]!.value === 0x10000000)!;
  assert.deepEqual(user.args, [{ index: 0, value: 0x10000000, valueTwo: 0x10000000, op: 'SCMP_CMP_MASKED_EQ' }]);
  assert.deepEqual(p.syscalls!.find((s) => s.names.includes('clone3')), { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
});

test('granted capabilities lift their groups', () => {
  const withAdmin = runtimeDefaultSeccomp([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], 'x64');
  const d = withAdmin.syscalls!.flatMap((s) => s.names);
  assert.ok(!d.includes('mount') && !d.includes('setns') && !d.includes('clone3') && !d.includes('bpf'));
  assert.ok(d.includes('keyctl'), 'keyrings stay denied');
  assert.ok(!denied([...DEFAULT_CAPABILITIES, 'CAP_SYS_PTRACE']).includes('ptrace'));
  assert.ok(!denied([...DEFAULT_CAPABILITIES, 'CAP_SYS_TIME']).includes('settimeofday'));
});

test('architectures per host arch', () => {
  assert.deepEqual(seccompArchitectures('arm64'), ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.equal(runtimeDefaultSeccomp([], 'riscv64').architectures, undefined);
});
