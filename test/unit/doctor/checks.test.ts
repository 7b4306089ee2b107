import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { doctorExitCode, fail, ok, summarize, warn } from '../../../src/doctor/check.js';
import { checkKernel, checkRoot, checkUserNamespaces } from '../../../src/doctor/kernel-checks.js';
import { checkHandler, checkUsernsHandlers } from '../../../src/doctor/handler-checks.js';
import {
  checkCapSysResource, checkCgroups, checkSubidRange, hasCapSysResource, parseSubidFile,
} from '../../../src/doctor/host-checks.js';
import {
  checkCniConfig, checkCniPlugins, checkConmon, checkNativeHelpers, cniSpecVersion,
  nativeHelperSpecs, parseConmonVersion, REQUIRED_CNI_PLUGINS,
} from '../../../src/doctor/tool-checks.js';
import { checkIdmapProbe, checkOverlayIdmap, type OverlayProbeFact } from '../../../src/doctor/idmap-checks.js';
import { hostSummary } from '../../../src/doctor/host-summary.js';
import { formatDoctorJson, formatDoctorTable } from '../../../src/doctor/format.js';
import { nearestExisting } from '../../../src/doctor/idmap-probes.js';
import type { HandlerInfo } from '../../../src/oci/features.js';
import type { KernelFacts } from '../../../src/common/kernel.js';
import { crun121Features, runc115Features, runc136Features } from '../../helpers/runtime-features.js';

const KERNEL: KernelFacts = { release: '6.18.44', userNamespaces: true };

describe('summary and exit code', () => {
  it('exits 1 only when a check needed for user-namespaced pods fails', () => {
    assert.equal(doctorExitCode([ok('a', 'x', true), warn('b', 'y', 'f', true), fail('c', 'z', 'f', false)]), 0);
    const checks = [ok('a', 'x', true), fail('b', 'y', 'f', true)];
    assert.equal(doctorExitCode(checks), 1);
    assert.deepEqual(summarize(checks), { ok: 1, warn: 0, fail: 1, usernsPodsCanRun: false, blocking: ['b'] });
  });
});

describe('kernel checks', () => {
  it('fails before 5.12 (no idmapped mounts) and before 6.3 (tmpfs volumes), passes on 6.18', () => {
    const old = checkKernel('5.10.0-30-amd64');
    assert.equal(old.status, 'fail');
    assert.match(old.detail, /5\.12/);
    const mid = checkKernel('6.1.0-18-amd64');
    assert.equal(mid.status, 'fail');
    assert.match(mid.detail, /tmpfs/);
    assert.match(mid.fix, /6\.3/);
    assert.match(checkKernel('5.15.0').detail, /5\.19/);
    assert.equal(checkKernel('6.18.44-fc-v782').status, 'ok');
    assert.equal(checkKernel('6.3.0').status, 'ok');
    assert.ok(old.neededForUserns);
  });

  it('user namespaces: missing, disabled by max_user_namespaces = 0, few, and enabled with the sysctls named', () => {
    assert.equal(checkUserNamespaces({ nsUserExists: false }).status, 'fail');
    const off = checkUserNamespaces({ nsUserExists: true, maxUserNamespaces: 0 });
    assert.equal(off.status, 'fail');
    assert.match(off.fix, /user\.max_user_namespaces/);
    assert.equal(checkUserNamespaces({ nsUserExists: true, maxUserNamespaces: 10 }).status, 'warn');
    const on = checkUserNamespaces({ nsUserExists: true, maxUserNamespaces: 96364, unprivilegedUsernsClone: 0, apparmorRestrictUnprivileged: 1 });
    assert.equal(on.status, 'ok', 'the Debian and Ubuntu sysctls only restrict unprivileged users; crius is root');
    assert.match(on.detail, /kernel\.unprivileged_userns_clone = 0/);
    assert.match(on.detail, /kernel\.apparmor_restrict_unprivileged_userns = 1/);
    assert.match(checkUserNamespaces({ nsUserExists: true, maxUserNamespaces: 5000 }).detail, /user\.max_user_namespaces, kernel\.unprivileged_userns_clone, kernel\.apparmor_restrict_unprivileged_userns/);
  });

  it('root', () => {
    assert.equal(checkRoot(0).status, 'ok');
    assert.equal(checkRoot(1000).status, 'fail');
  });
});

describe('handler checks', () => {
  const crun: HandlerInfo = { name: 'crun', path: '/usr/bin/crun', version: 'crun version 1.21', features: crun121Features };
  const runc: HandlerInfo = { name: 'runc', path: '/usr/sbin/runc', version: 'runc version 1.3.6', features: runc136Features };
  const oldRunc: HandlerInfo = { name: 'runc11', path: '/opt/runc-1.1', version: 'runc version 1.1.15', features: runc115Features };
  const missing: HandlerInfo = { name: 'kata', path: '/usr/bin/kata', reason: 'runtime binary /usr/bin/kata does not exist' };

  it('reports idmap, rro and user ns from the features report', () => {
    const c = checkHandler(crun, KERNEL, true);
    assert.equal(c.status, 'ok');
    assert.equal(c.name, 'handler crun (default)');
    assert.match(c.detail, /crun version 1\.21.*idmap yes, rro yes, user ns yes -> user_namespaces yes/);
    assert.equal(checkHandler(runc, KERNEL, false).status, 'ok');
  });

  it('warns for a handler without mountExtensions.idmap (runc 1.1) and fails for a missing binary', () => {
    const o = checkHandler(oldRunc, KERNEL, false);
    assert.equal(o.status, 'warn');
    assert.match(o.detail, /idmap no/);
    assert.match(o.detail, /mountExtensions\.idmap/);
    assert.match(o.fix, /crun >= 1\.9 or runc >= 1\.2/);
    const m = checkHandler(missing, KERNEL, false);
    assert.equal(m.status, 'fail');
    assert.match(m.detail, /does not exist/);
  });

  it('a kernel without user namespaces makes every handler unable', () => {
    assert.equal(checkHandler(crun, { release: '6.18.0', userNamespaces: false }, true).status, 'warn');
  });

  it('user-namespaced pods need some handler; the default one is preferred', () => {
    assert.equal(checkUsernsHandlers([crun, runc], 'crun', KERNEL).status, 'ok');
    const other = checkUsernsHandlers([oldRunc, crun], 'runc11', KERNEL);
    assert.equal(other.status, 'warn');
    assert.match(other.fix, /default_runtime = "crun"/);
    const none = checkUsernsHandlers([oldRunc, missing], 'runc11', KERNEL);
    assert.equal(none.status, 'fail');
    assert.ok(none.neededForUserns);
  });
});

describe('tool checks', () => {
  it('conmon version >= 2.1.12', () => {
    assert.deepEqual(parseConmonVersion('conmon version 2.1.12\ncommit: unknown\n'), [2, 1, 12]);
    assert.equal(checkConmon('/usr/bin/conmon', { ok: true, stdout: 'conmon version 2.1.12\ncommit: unknown\n' }).status, 'ok');
    assert.equal(checkConmon('/usr/bin/conmon', { ok: true, stdout: 'conmon version 2.2.0\n' }).status, 'ok');
    const old = checkConmon('/usr/bin/conmon', { ok: true, stdout: 'conmon version 2.1.6\n' });
    assert.equal(old.status, 'fail');
    assert.match(old.detail, /2\.1\.6.*>= 2\.1\.12/);
    const gone = checkConmon('/usr/bin/conmon', { ok: false, missing: true, error: 'not found' });
    assert.equal(gone.status, 'fail');
    assert.match(gone.detail, /missing/);
    assert.equal(checkConmon('/usr/bin/conmon', { ok: true, stdout: 'weird' }).status, 'warn');
  });

  it('CNI plugins: present with their spec version, or named when missing', () => {
    const VERSION = '{"cniVersion":"1.0.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0"]}';
    assert.equal(cniSpecVersion(VERSION), '1.0.0');
    assert.equal(cniSpecVersion('{"cniVersion":"0.4.0"}'), '0.4.0');
    assert.equal(cniSpecVersion('nope'), undefined);
    const all = REQUIRED_CNI_PLUGINS.map((type) => ({ type, path: `/usr/lib/cni/${type}`, version: { ok: true as const, stdout: VERSION } }));
    const good = checkCniPlugins(['/usr/lib/cni'], all);
    assert.equal(good.status, 'ok');
    assert.match(good.detail, /bridge \(CNI spec 1\.0\.0\).*\(in \/usr\/lib\/cni\)/);
    const someMissing = checkCniPlugins(['/usr/lib/cni', '/opt/cni/bin'], [...all.slice(0, 2), { type: 'portmap' }, { type: 'loopback' }]);
    assert.equal(someMissing.status, 'fail');
    assert.match(someMissing.detail, /\/usr\/lib\/cni, \/opt\/cni\/bin: portmap, loopback/);
    const broken = checkCniPlugins(['/usr/lib/cni'], [{ type: 'bridge', path: '/usr/lib/cni/bridge', version: { ok: false, missing: false, error: 'exit status 1' } }]);
    assert.equal(broken.status, 'fail');
  });

  it('CNI config: none, unparsable, naming missing plugins, fine', () => {
    assert.equal(checkCniConfig({ confDir: '/etc/cni/net.d' }).status, 'fail');
    assert.equal(checkCniConfig({ confDir: '/e', file: '/e/1.conf', network: { error: 'not valid JSON' } }).status, 'fail');
    const mp = checkCniConfig({ confDir: '/e', file: '/e/1.conflist', network: { name: 'n', plugins: ['bridge', 'calico'] }, missingPlugins: ['calico'] });
    assert.equal(mp.status, 'fail');
    assert.match(mp.detail, /calico/);
    const good = checkCniConfig({ confDir: '/e', file: '/e/1.conflist', network: { name: 'crius', plugins: ['bridge', 'portmap'] }, missingPlugins: [] });
    assert.equal(good.status, 'ok');
    assert.match(good.detail, /network crius \(bridge -> portmap\)/);
  });

  it('native helpers: crius-idmap always needed, crius-oci-wrap only on hybrid hosts', () => {
    const hybrid = nativeHelperSpecs(true);
    const all = new Set(hybrid.map((s) => s.name));
    assert.equal(checkNativeHelpers('/n', hybrid, all).status, 'ok');
    const noWrap = new Set([...all].filter((n) => n !== 'crius-oci-wrap'));
    assert.equal(checkNativeHelpers('/n', hybrid, noWrap).status, 'fail');
    assert.equal(checkNativeHelpers('/n', nativeHelperSpecs(false), noWrap).status, 'warn');
    const noIdmap = new Set([...all].filter((n) => n !== 'crius-idmap'));
    const f = checkNativeHelpers('/n', nativeHelperSpecs(false), noIdmap);
    assert.equal(f.status, 'fail');
    assert.match(f.fix, /make -C native/);
  });
});

describe('host checks', () => {
  it('cgroups: hybrid needs the wrapper; v1 and v2 are fine', () => {
    const hybrid = { mode: 'hybrid' as const, v1Mounts: ['/sys/fs/cgroup/memory', '/sys/fs/cgroup/cpu'], unifiedMount: '/sys/fs/cgroup/unified' };
    const h = checkCgroups(hybrid, { path: '/n/crius-oci-wrap', exists: true });
    assert.equal(h.status, 'ok');
    assert.match(h.detail, /hybrid.*\/sys\/fs\/cgroup\/unified.*crius-oci-wrap/);
    const nh = checkCgroups(hybrid, { path: '/n/crius-oci-wrap', exists: false });
    assert.equal(nh.status, 'fail');
    assert.ok(nh.neededForUserns);
    assert.match(checkCgroups({ mode: 'v1', v1Mounts: ['/a'] }, { path: '/w', exists: false }).detail, /^v1/);
    assert.match(checkCgroups({ mode: 'v2', v1Mounts: [], unifiedMount: '/sys/fs/cgroup' }, { path: '/w', exists: false }).detail, /^v2/);
  });

  it('CAP_SYS_RESOURCE: bit 24 of CapEff; without it negative oom_score_adj is clamped', () => {
    assert.equal(hasCapSysResource('000001ffffffffff'), true);
    assert.equal(hasCapSysResource('000001fffeffffff'), false, 'this host: every bit but 24');
    assert.equal(checkCapSysResource('000001ffffffffff', -1000).status, 'ok');
    const w = checkCapSysResource('000001fffeffffff', 0);
    assert.equal(w.status, 'warn');
    assert.match(w.detail, /-997 for Guaranteed pods becomes 0/);
    assert.equal(w.neededForUserns, false);
  });

  it('subordinate IDs: parsed, overlap named with file and line, the top of the ID space refused', () => {
    const entries = [
      ...parseSubidFile('# comment\nalice:100000:65536\nbogus line\ncontainers:2147500000:65536\n', '/etc/subuid'),
      ...parseSubidFile('alice:100000:65536\n', '/etc/subgid'),
    ];
    assert.deepEqual(entries.map((e) => e.where), ['/etc/subuid:2', '/etc/subuid:4', '/etc/subgid:1']);
    assert.equal(checkSubidRange({ start: 3_000_000_000, length: 65536 * 100 }, entries).status, 'ok');
    const clash = checkSubidRange({ start: 2_147_483_648, length: 65536 * 4096 }, entries);
    assert.equal(clash.status, 'fail');
    assert.match(clash.detail, /\/etc\/subuid:4 \(containers:2147500000:65536\)/);
    assert.equal(checkSubidRange({ start: 100000 + 65535, length: 1 }, entries).status, 'fail', 'touching the last ID of a range overlaps');
    assert.equal(checkSubidRange({ start: 100000 + 65536, length: 1 }, entries).status, 'ok', 'the next ID does not');
    const top = checkSubidRange({ start: 4_294_901_760, length: 65536 }, []);
    assert.equal(top.status, 'fail');
    assert.match(top.detail, /4294967295/);
    assert.equal(checkSubidRange({ start: 4_294_901_759, length: 65536 }, []).status, 'ok');
  });
});

describe('idmap checks', () => {
  const tmpfs = { fsType: 'tmpfs', device: '0:99', mountPoint: '/tmp/crius-doctor-x/tmpfs', source: 'crius-doctor' };
  it('ok, refused (with what the filesystem needs) and not probed', () => {
    assert.equal(checkIdmapProbe('idmap tmpfs', 'volumes', { kind: 'ok', path: '/p', fs: tmpfs }, '6.18.0').status, 'ok');
    const refused = checkIdmapProbe('idmap tmpfs', 'volumes', {
      kind: 'refused', path: '/p', fs: tmpfs, failure: { ok: false, syscall: 'mount_setattr', errno: 'EINVAL', errno_num: 22, message: 'Invalid argument' },
    }, '6.1.0');
    assert.equal(refused.status, 'fail');
    assert.match(refused.detail, /mount_setattr failed with EINVAL/);
    assert.match(refused.fix, /tmpfs supports idmapped mounts from Linux 6\.3.*this kernel is 6\.1\.0/);
    const err = checkIdmapProbe('idmap tmpfs', 'volumes', { kind: 'error', path: '/p', error: 'helper missing' }, '6.18.0');
    assert.equal(err.status, 'fail');
    assert.ok(err.neededForUserns);
  });

  const good: OverlayProbeFact = {
    kind: 'ok', method: 'fd', layerDir: '/l', expect: { uid: 65536, gid: 65536 }, root: { uid: 65536, gid: 65536 }, lowerFile: { uid: 65536, gid: 65536 },
  };
  it('overlay over idmapped lowers: ownership must read as the mapped root; copy mode does not need it', () => {
    assert.equal(checkOverlayIdmap(good, 'idmap').status, 'ok');
    const wrong = checkOverlayIdmap({ ...good, lowerFile: { uid: 0, gid: 0 } }, 'idmap');
    assert.equal(wrong.status, 'fail');
    assert.match(wrong.detail, /lower file 0:0, want 65536:65536/);
    const e: OverlayProbeFact = { kind: 'error', layerDir: '/l', error: 'overlay mount failed: EINVAL', refused: true };
    assert.equal(checkOverlayIdmap(e, 'idmap').status, 'fail');
    assert.match(checkOverlayIdmap(e, 'idmap').fix, /5\.19/);
    assert.match(checkOverlayIdmap({ ...e, error: 'helper missing', refused: false }, 'idmap').fix, /native helper built/);
    const copy = checkOverlayIdmap(e, 'copy');
    assert.equal(copy.status, 'warn');
    assert.equal(copy.neededForUserns, false);
  });
});

describe('host summary and output', () => {
  it('summarises kernel, cgroup mode and whether userns pods can work', () => {
    const layout = { mode: 'hybrid' as const, v1Mounts: ['/a'], unifiedMount: '/u' };
    assert.deepEqual(hostSummary(layout, { nsUserExists: true, maxUserNamespaces: 1000 }, '6.18.44'),
      { kernel: '6.18.44', cgroupMode: 'hybrid', usernsOk: true });
    const bad = hostSummary(layout, { nsUserExists: true, maxUserNamespaces: 0 }, '6.1.0');
    assert.equal(bad.usernsOk, false);
    assert.match(bad.usernsProblem ?? '', /tmpfs.*max_user_namespaces = 0/);
  });

  it('table shows fixes and the verdict; JSON carries checks and summary', () => {
    const checks = [ok('kernel', 'Linux 6.18', true), fail('conmon', '/usr/bin/conmon is missing', 'install conmon', true), warn('CAP_SYS_RESOURCE', 'not held', 'grant it')];
    const t = formatDoctorTable(checks);
    assert.match(t, /^STATUS CHECK/);
    assert.match(t, /FAIL   conmon\*/);
    assert.match(t, /fix: install conmon/);
    assert.match(t, /fix: grant it/);
    assert.match(t, /cannot run on this host: conmon failed/);
    const j = JSON.parse(formatDoctorJson(checks)) as { checks: unknown[]; summary: { usernsPodsCanRun: boolean } };
    assert.equal(j.checks.length, 3);
    assert.equal(j.summary.usernsPodsCanRun, false);
  });

  it('nearestExisting walks up to a directory that exists', () => {
    const have = new Set(['/', '/var', '/var/lib']);
    assert.equal(nearestExisting('/var/lib/crius/x', (p) => have.has(p)), '/var/lib');
    assert.equal(nearestExisting('/nope', (p) => have.has(p)), '/');
  });
});

it('cgroup driver and AppArmor lines', async () => {
  const { checkCgroupDriver, checkAppArmor } = await import('../../../src/doctor/host-checks.js');
  const v2 = { mode: 'v2' as const, v1Mounts: [], unifiedMount: '/sys/fs/cgroup' };
  const a = checkCgroupDriver({ layout: v2, driver: 'systemd', configured: false, pid1IsSystemd: true });
  assert.equal(a.status, 'ok');
  assert.match(a.detail, /systemd on cgroup v2.*RuntimeConfig reports SYSTEMD/);
  assert.equal(checkCgroupDriver({ layout: v2, driver: 'systemd', configured: false, pid1IsSystemd: true, kubelet: 'cgroupfs' }).status, 'warn');
  assert.equal(checkCgroupDriver({ layout: v2, driver: 'cgroupfs', configured: true, pid1IsSystemd: true }).status, 'warn');
  assert.equal(checkCgroupDriver({ layout: v2, driver: 'systemd', configured: true, pid1IsSystemd: false, problem: 'needs systemd' }).status, 'fail');
  assert.match(checkAppArmor({ enabled: true, parser: '/usr/sbin/apparmor_parser', defaultLoaded: true }).detail, /in use.*crius-default/);
  assert.equal(checkAppArmor({ enabled: true, defaultLoaded: false }).status, 'warn');
  assert.match(checkAppArmor({ enabled: false, defaultLoaded: false }).detail, /not enabled/);
});
