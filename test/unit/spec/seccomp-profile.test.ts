import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import { seccompFromProfileJson } from '../../../src/spec/seccomp-profile.js';

const pc = { ref: 'profiles/audit.json', capabilities: ['CAP_CHOWN'], arch: 'x64', kernelRelease: '6.18.0' };
const isBad = (re: RegExp) => (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT' && /Localhost "profiles\/audit.json"/.test(e.message) && re.test(e.message);

test('an OCI-format profile passes through', () => {
  const oci = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' }, { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] }],
  };
  assert.deepEqual(seccompFromProfileJson(oci, pc), oci);
  assert.deepEqual(seccompFromProfileJson({ defaultAction: 'SCMP_ACT_LOG' }, pc), { defaultAction: 'SCMP_ACT_LOG' });
});

test('a Docker-format profile: native archMap entry, includes/excludes on caps, arches and kernel, legacy name', () => {
  const docker = {
    defaultAction: 'SCMP_ACT_ERRNO',
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    ],
    syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ALLOW', comment: 'always', includes: {}, excludes: {} },
      { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['chown'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_CHOWN'] } },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
      { names: ['arm_fadvise64_64'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm', 'arm64'] } },
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_CHOWN'] } },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, excludes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['future'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '7.1' } },
      { names: ['recent'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.8' } },
      { name: 'legacy', action: 'SCMP_ACT_ALLOW' },
    ],
  };
  const out = seccompFromProfileJson(docker, pc);
  assert.deepEqual(out.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(out.syscalls!.map((s) => s.names[0]), ['read', 'chown', 'arch_prctl', 'clone3', 'recent', 'legacy']);
  assert.equal(out.syscalls!.find((s) => s.names[0] === 'clone3')!.errnoRet, 38);
  assert.deepEqual(seccompFromProfileJson(docker, { ...pc, arch: 'arm64' }).architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
});

test('malformed profiles are InvalidArgument naming the profile and the field', () => {
  assert.throws(() => seccompFromProfileJson([], pc), isBad(/not a JSON object/));
  assert.throws(() => seccompFromProfileJson({ defaultAction: 'ALLOW' }, pc), isBad(/defaultAction \(a string of 5 characters\) is not a seccomp action/));
  assert.throws(() => seccompFromProfileJson({ defaultAction: 'SCMP_ACT_ALLOW', architectures: [], archMap: [] }, pc), isBad(/both architectures and archMap/));
  assert.throws(() => seccompFromProfileJson({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ALLOW' }] }, pc), isBad(/syscalls\[0\] names no syscall/));
  assert.throws(() => seccompFromProfileJson({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'nope' }] }, pc), isBad(/syscalls\[0\].action \(a string of 4 characters\)/));
  assert.throws(() => seccompFromProfileJson({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'EQ' }] }] }, pc), isBad(/args\[0\]/));
  assert.throws(() => seccompFromProfileJson({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }] }, pc), isBad(/both name and names/));
});
