import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import { ALL_CAPABILITIES, capabilitiesFromMask, DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, defaultSpec } from '../../../src/spec/defaults.js';
import {
  withApparmor,
  withCapabilities,
  withMaskedPaths,
  withNoNewPrivileges,
  withPrivileged,
  withReadonlyPaths,
  withReadonlyRootfs,
  withSeccomp,
} from '../../../src/spec/security.js';
import type { LinuxContainerSecurityContext, RuntimeContext } from '../../../src/spec/types.js';
import { ctxOf } from '../../helpers/spec-context.js';

function ctxSc(sc: LinuxContainerSecurityContext, runtime: Partial<RuntimeContext> = {}, sandboxPrivileged = false) {
  return ctxOf({
    container: { metadata: { name: 'c1' }, linux: { security_context: sc } },
    sandbox: { metadata: { name: 'p1', uid: 'u', namespace: 'ns' }, linux: { security_context: { privileged: sandboxPrivileged } } },
    runtime,
  });
}

function caps(sc: LinuxContainerSecurityContext, runtime: Partial<RuntimeContext> = {}): string[] {
  const s = defaultSpec();
  withCapabilities(s, ctxSc(sc, runtime, true));
  const c = s.process!.capabilities!;
  assert.deepEqual(c.effective, c.bounding);
  assert.deepEqual(c.permitted, c.bounding);
  return c.bounding!;
}

test('default capabilities are the containerd/Docker set, inheritable empty', () => {
  const s = defaultSpec();
  withCapabilities(s, ctxSc({}));
  assert.deepEqual(s.process!.capabilities!.bounding, [...DEFAULT_CAPABILITIES]);
  assert.equal(s.process!.capabilities!.inheritable, undefined);
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
});

test('add/drop with names in any case, with or without CAP_', () => {
  const c = caps({ capabilities: { add_capabilities: ['net_admin', 'CAP_SYS_TIME'], drop_capabilities: ['CHOWN', 'kill'] } });
  assert.ok(c.includes('CAP_NET_ADMIN') && c.includes('CAP_SYS_TIME'));
  assert.ok(!c.includes('CAP_CHOWN') && !c.includes('CAP_KILL'));
});

test('ALL: drop ALL + add one; add ALL + drop one', () => {
  assert.deepEqual(caps({ capabilities: { drop_capabilities: ['ALL'], add_capabilities: ['NET_BIND_SERVICE'] } }), ['CAP_NET_BIND_SERVICE']);
  const all = caps({ capabilities: { add_capabilities: ['ALL'], drop_capabilities: ['CHOWN'] } });
  assert.equal(all.length, ALL_CAPABILITIES.length - 1);
  assert.ok(!all.includes('CAP_CHOWN'));
  assert.deepEqual(caps({ capabilities: { drop_capabilities: ['all'] } }), []);
});

test('privileged gets every capability crius holds, not more (no CAP_SYS_RESOURCE here)', () => {
  const own = ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');
  assert.deepEqual(caps({ privileged: true }, { ownCapabilities: own }), own);
  assert.deepEqual(caps({ capabilities: { add_capabilities: ['ALL'] } }, { ownCapabilities: own }), own);
  assert.throws(
    () => caps({ capabilities: { add_capabilities: ['SYS_RESOURCE'] } }, { ownCapabilities: own }),
    (e: unknown) => e instanceof CriusError && e.code === 'FAILED_PRECONDITION' && /CAP_SYS_RESOURCE/.test(e.message),
  );
});

test('unknown capability is InvalidArgument', () => {
  assert.throws(() => caps({ capabilities: { add_capabilities: ['FLY'] } }), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT' && /"FLY"/.test(e.message));
});

test('ambient capabilities go into inheritable and ambient and must be in the set', () => {
  const s = defaultSpec();
  withCapabilities(s, ctxSc({ capabilities: { add_capabilities: ['NET_ADMIN'], add_ambient_capabilities: ['NET_ADMIN'] } }));
  assert.deepEqual(s.process!.capabilities!.ambient, ['CAP_NET_ADMIN']);
  assert.deepEqual(s.process!.capabilities!.inheritable, ['CAP_NET_ADMIN']);
  assert.throws(() => withCapabilities(defaultSpec(), ctxSc({ capabilities: { add_ambient_capabilities: ['NET_ADMIN'] } })), /not in the container's capability set/);
});

test('withPrivileged: no masked/readonly paths, rw /sys, all host devices, open device cgroup', () => {
  const s = defaultSpec();
  const hostDevices = { '/dev/sda': { type: 'b' as const, major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 } };
  withPrivileged(s, ctxSc({ privileged: true }, { hostDevices }, true));
  assert.deepEqual(s.linux!.maskedPaths, []);
  assert.deepEqual(s.linux!.readonlyPaths, []);
  const sys = s.mounts!.find((m) => m.destination === '/sys')!;
  assert.ok(sys.options!.includes('rw') && !sys.options!.includes('ro'));
  assert.deepEqual(s.linux!.devices, [{ path: '/dev/sda', type: 'b', major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 }]);
  assert.deepEqual(s.linux!.resources!.devices, [{ allow: true, access: 'rwm' }]);
});

test('withPrivileged refuses a privileged container in an unprivileged sandbox; no-op when not privileged', () => {
  assert.throws(() => withPrivileged(defaultSpec(), ctxSc({ privileged: true }, {}, false)), /sandbox is not/);
  const s = defaultSpec();
  withPrivileged(s, ctxSc({}));
  assert.deepEqual(s, defaultSpec());
});

test('masked/readonly paths: defaults unless the CRI gives a list', () => {
  const s = defaultSpec();
  withMaskedPaths(s, ctxSc({ masked_paths: [] }));
  withReadonlyPaths(s, ctxSc({}));
  assert.deepEqual(s.linux!.maskedPaths, [...DEFAULT_MASKED_PATHS]);
  assert.deepEqual(s.linux!.readonlyPaths, [...DEFAULT_READONLY_PATHS]);
  withMaskedPaths(s, ctxSc({ masked_paths: ['/proc/x'] }));
  withReadonlyPaths(s, ctxSc({ readonly_paths: ['/proc/y'] }));
  assert.deepEqual(s.linux!.maskedPaths, ['/proc/x']);
  assert.deepEqual(s.linux!.readonlyPaths, ['/proc/y']);
});

test('readonly rootfs and no_new_privs', () => {
  const s = defaultSpec();
  withReadonlyRootfs(s, ctxSc({ readonly_rootfs: true }));
  withNoNewPrivileges(s, ctxSc({ no_new_privs: true }));
  assert.equal(s.root!.readonly, true);
  assert.equal(s.process!.noNewPrivileges, true);
  withReadonlyRootfs(s, ctxSc({}));
  assert.equal(s.root!.readonly, false);
});

test('seccomp: nil and Unconfined = none, RuntimeDefault = our profile, Localhost = the loaded profile, privileged = none', () => {
  const run = (sc: LinuxContainerSecurityContext, rt: Partial<RuntimeContext> = {}) => {
    const s = defaultSpec();
    withSeccomp(s, ctxSc(sc, rt, true));
    return s.linux!.seccomp;
  };
  assert.equal(run({}), undefined);
  assert.equal(run({ seccomp: { profile_type: 'Unconfined' } }), undefined);
  const rd = run({ seccomp: { profile_type: 'RuntimeDefault' } });
  assert.equal(rd?.defaultAction, 'SCMP_ACT_ALLOW');
  assert.ok(rd?.syscalls?.[0]?.names.includes('keyctl'));
  assert.equal(run({ seccomp: { profile_type: 'RuntimeDefault' }, privileged: true }), undefined);
  const local = { defaultAction: 'SCMP_ACT_ERRNO' as const, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' as const }] };
  assert.deepEqual(run({ seccomp: { profile_type: 'Localhost', localhost_ref: '/p.json' } }, { seccompLocalhost: local }), local);
  assert.throws(() => run({ seccomp: { profile_type: 'Localhost', localhost_ref: '/p.json' } }), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT' && /"\/p.json" was not loaded/.test(e.message));
});

test('seccomp on a host without it: skipped with a warning', () => {
  const s = defaultSpec();
  const ctx = ctxSc({ seccomp: { profile_type: 'RuntimeDefault' } }, { seccompEnabled: false });
  withSeccomp(s, ctx);
  assert.equal(s.linux!.seccomp, undefined);
  assert.equal(ctx.warnings.length, 1);
});

test('apparmor: only when enabled; nil means RuntimeDefault; Localhost strips localhost/', () => {
  const run = (sc: LinuxContainerSecurityContext, aa?: RuntimeContext['apparmor']) => {
    const s = defaultSpec();
    withApparmor(s, ctxSc(sc, aa ? { apparmor: aa } : {}, true));
    return s.process!.apparmorProfile;
  };
  const on = { enabled: true, defaultProfile: 'crius-default' };
  assert.equal(run({}), undefined, 'host without AppArmor');
  assert.equal(run({}, on), 'crius-default');
  assert.equal(run({ apparmor: { profile_type: 'Unconfined' } }, on), undefined);
  assert.equal(run({ apparmor: { profile_type: 'Localhost', localhost_ref: 'localhost/my-prof' } }, on), 'my-prof');
  assert.equal(run({ privileged: true }, on), undefined, 'privileged without an explicit profile runs unconfined');
  assert.throws(() => run({ apparmor: { profile_type: 'Localhost', localhost_ref: 'x' } }), (e: unknown) => e instanceof CriusError && e.code === 'FAILED_PRECONDITION');
});

test('apparmor: a Localhost profile that is not loaded is refused naming it; the deprecated apparmor_profile field is read', () => {
  const run = (sc: LinuxContainerSecurityContext, aa?: RuntimeContext['apparmor']) => {
    const s = defaultSpec();
    withApparmor(s, ctxSc(sc, aa ? { apparmor: aa } : {}, true));
    return s.process!.apparmorProfile;
  };
  const on = { enabled: true, defaultProfile: 'crius-default', loaded: (n: string) => n === 'mine' || n === 'crius-default' };
  assert.equal(run({ apparmor: { profile_type: 'Localhost', localhost_ref: 'mine' } }, on), 'mine');
  assert.throws(() => run({ apparmor: { profile_type: 'Localhost', localhost_ref: 'absent-prof' } }, on),
    (e: unknown) => e instanceof CriusError && e.code === 'FAILED_PRECONDITION' && /"absent-prof" is not loaded/.test(e.message));
  assert.equal(run({ apparmor_profile: 'localhost/mine' }, on), 'mine');
  assert.equal(run({ apparmor_profile: 'runtime/default' }, on), 'crius-default');
  assert.equal(run({ apparmor_profile: 'unconfined' }, on), undefined);
  assert.equal(run({ apparmor_profile: '' }, on), 'crius-default', 'empty deprecated field means unset');
  assert.equal(run({ apparmor: { profile_type: 'Unconfined' }, apparmor_profile: 'localhost/mine' }, on), undefined, 'the new field wins');
  assert.throws(() => run({ apparmor_profile: 'bogus' }, on), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT' && /bogus/.test(e.message));
});

test('seccomp Localhost in Docker format sees the final capabilities (run after withCapabilities)', () => {
  const docker = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_PTRACE'] } }] };
  const names = (add: string[]) => {
    const s = defaultSpec();
    const ctx = ctxSc({ seccomp: { profile_type: 'Localhost', localhost_ref: 'd.json' }, capabilities: { add_capabilities: add } }, { seccompLocalhost: docker });
    withCapabilities(s, ctx);
    withSeccomp(s, ctx);
    return (s.linux!.seccomp!.syscalls ?? []).flatMap((x) => x.names);
  };
  assert.deepEqual(names(['SYS_PTRACE']), ['ptrace']);
  assert.deepEqual(names([]), []);
});

test('capabilitiesFromMask reads a /proc status mask in kernel bit order', () => {
  const own = capabilitiesFromMask('000001fffeffffff');
  assert.equal(own.length, ALL_CAPABILITIES.length - 1);
  assert.ok(!own.includes('CAP_SYS_RESOURCE'));
  assert.deepEqual(capabilitiesFromMask('0000000000000001'), ['CAP_CHOWN']);
  assert.deepEqual(capabilitiesFromMask('0000010000000000'), ['CAP_CHECKPOINT_RESTORE']);
  assert.deepEqual(capabilitiesFromMask('00000000a80425fb'), [...DEFAULT_CAPABILITIES].sort((a, b) => ALL_CAPABILITIES.indexOf(a) - ALL_CAPABILITIES.indexOf(b)));
});
