import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import { defaultSpec } from '../../../src/spec/defaults.js';
import { withImageVolumes, withMounts, withSandboxFiles } from '../../../src/spec/mounts.js';
import type { Spec } from '../../../src/spec/oci-types.js';
import type { CriMount, RuntimeContext } from '../../../src/spec/types.js';
import { processHostIds, withIdmappedMounts, withMappedIdsCheck, withUserNamespace, withUsernsSysfs } from '../../../src/spec/userns.js';
import { ctxOf, HOST_ID, POD_MAPPING, USERNS_RUNTIME } from '../../helpers/spec-context.js';

const OCI_MAP = [{ containerID: 0, hostID: HOST_ID, size: 65536 }];

test('withUserNamespace joins the pinned user namespace without repeating mappings', () => {
  const s = defaultSpec();
  withUserNamespace(s, ctxOf({ runtime: { ...USERNS_RUNTIME, namespaces: { user: '/run/crius/ns/p1/user' } } }));
  assert.deepEqual(s.linux!.namespaces!.find((n) => n.type === 'user'), { type: 'user', path: '/run/crius/ns/p1/user' });
  assert.equal(s.linux!.uidMappings, undefined);
});

test('withUserNamespace without a pinned path asks the runtime to create it with the pod mapping', () => {
  const s = defaultSpec();
  withUserNamespace(s, ctxOf({ runtime: USERNS_RUNTIME }));
  assert.deepEqual(s.linux!.namespaces!.find((n) => n.type === 'user'), { type: 'user' });
  assert.deepEqual(s.linux!.uidMappings, OCI_MAP);
  assert.deepEqual(s.linux!.gidMappings, OCI_MAP);
});

test('withUserNamespace: host user namespace leaves none', () => {
  const s = defaultSpec();
  s.linux!.namespaces!.push({ type: 'user' });
  s.linux!.uidMappings = OCI_MAP;
  withUserNamespace(s, ctxOf());
  assert.equal(s.linux!.namespaces!.some((n) => n.type === 'user'), false);
  assert.equal(s.linux!.uidMappings, undefined);
});

test('withMappedIdsCheck names the unmapped uid/gid and the range', () => {
  const small: Partial<RuntimeContext> = { userns: { uid: { containerId: 0, hostId: HOST_ID, length: 1000 }, gid: { containerId: 0, hostId: HOST_ID, length: 1000 } } };
  const s = defaultSpec();
  s.process!.user = { uid: 1000, gid: 0 };
  assert.throws(() => withMappedIdsCheck(s, ctxOf({ runtime: small })), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT' && /uid 1000 is not mapped .*0-999/.test(e.message));
  s.process!.user = { uid: 999, gid: 0, additionalGids: [0, 5000] };
  assert.throws(() => withMappedIdsCheck(s, ctxOf({ runtime: small })), /gid 5000 is not mapped/);
  s.process!.user = { uid: 5000, gid: 0 };
  withMappedIdsCheck(s, ctxOf()); // host userns: anything goes
});

function volumesSpec(mounts: CriMount[], runtime: Partial<RuntimeContext>): { spec: Spec; warnings: string[] } {
  const spec = defaultSpec();
  const ctx = ctxOf({
    container: { metadata: { name: 'c1' }, mounts },
    image: { Cmd: ['x'], Volumes: { '/var/lib/db': {} } },
    runtime: { imageVolumeDirs: { '/var/lib/db': '/run/crius/c1/volumes/db' }, ...runtime },
  });
  withMounts(spec, ctx);
  withSandboxFiles(spec, ctx);
  withImageVolumes(spec, ctx);
  withIdmappedMounts(spec, ctx);
  return { spec, warnings: ctx.warnings };
}

test('withIdmappedMounts: CRI mappings verbatim, runtime-made files get the pod mapping, /dev/shm and image VOLUMEs none', () => {
  const other = [{ host_id: 300000, container_id: 0, length: 1000 }];
  const { spec } = volumesSpec(
    [
      { container_path: '/config', host_path: '/kubelet/pods/x/volumes/cm', readonly: true, uidMappings: POD_MAPPING, gidMappings: POD_MAPPING },
      { container_path: '/other', host_path: '/h/other', uidMappings: other, gidMappings: other },
      { container_path: '/plain', host_path: '/h/plain' },
    ],
    USERNS_RUNTIME,
  );
  const by = (d: string) => spec.mounts!.find((x) => x.destination === d)!;
  assert.deepEqual(by('/config').uidMappings, OCI_MAP);
  assert.deepEqual(by('/other').gidMappings, [{ containerID: 0, hostID: 300000, size: 1000 }]);
  assert.equal(by('/plain').uidMappings, undefined, 'a CRI mount without mappings stays unmapped (the kubelet decides)');
  for (const d of ['/etc/hostname', '/etc/hosts', '/etc/resolv.conf']) {
    assert.deepEqual(by(d).uidMappings, OCI_MAP, d);
    assert.deepEqual(by(d).gidMappings, OCI_MAP, d);
  }
  assert.equal(by('/var/lib/db').uidMappings, undefined, 'image VOLUME dirs are copied with owners in the pod range, not idmapped');
  assert.equal(by('/dev/shm').uidMappings, undefined);
  assert.ok(spec.mounts!.every((x) => !(x.options ?? []).includes('idmap')), 'mappings alone ask for the idmap');
});

test('withIdmappedMounts: no user namespace, no runtime mappings', () => {
  const { spec } = volumesSpec([], {});
  assert.ok(spec.mounts!.every((x) => x.uidMappings === undefined));
});

test('withIdmappedMounts: one-sided or zero-length mappings are InvalidArgument', () => {
  assert.throws(() => volumesSpec([{ container_path: '/d', host_path: '/h', uidMappings: POD_MAPPING }], USERNS_RUNTIME), /has 1 uidMappings and 0 gidMappings/);
  const zero = [{ host_id: 1, container_id: 0, length: 0 }];
  assert.throws(() => volumesSpec([{ container_path: '/d', host_path: '/h', uidMappings: zero, gidMappings: zero }], USERNS_RUNTIME), /length 0/);
});

test('withIdmappedMounts: a handler without idmap fails with FailedPrecondition naming the mount and the fix', () => {
  const handler = { name: 'runc-old', idmapBind: false, idmapTmpfs: false, rro: true };
  assert.throws(
    () => volumesSpec([{ container_path: '/d', host_path: '/h', uidMappings: POD_MAPPING, gidMappings: POD_MAPPING }], { ...USERNS_RUNTIME, handler }),
    (e: unknown) => e instanceof CriusError && e.code === 'FAILED_PRECONDITION' && /"\/d".*"\/h".*"runc-old".*crun >= 1.9 or runc >= 1.2/.test(e.message),
  );
});

test('withIdmappedMounts for runc: a mapped non-bind mount loses its mappings with a warning; crun keeps them', () => {
  const run = (handler: RuntimeContext['handler']) => {
    const spec = defaultSpec();
    spec.mounts!.push({ destination: '/cache', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
    const ctx = ctxOf({ container: { metadata: { name: 'c1' }, mounts: [{ container_path: '/cache', host_path: 'tmpfs', uidMappings: POD_MAPPING, gidMappings: POD_MAPPING }] }, runtime: { ...USERNS_RUNTIME, handler } });
    withIdmappedMounts(spec, ctx);
    return { m: spec.mounts!.find((x) => x.destination === '/cache')!, warnings: ctx.warnings };
  };
  const runc = run({ name: 'runc', idmapBind: true, idmapTmpfs: false, rro: true });
  assert.equal(runc.m.uidMappings, undefined);
  assert.match(runc.warnings[0]!, /handler "runc" cannot idmap a tmpfs mount/);
  const crun = run({ name: 'crun', idmapBind: true, idmapTmpfs: true, rro: true });
  assert.deepEqual(crun.m.uidMappings, OCI_MAP);
});

test('withUsernsSysfs: sysfs stays when the pod userns owns the netns; rro bind otherwise', () => {
  const sys = (rt: Partial<RuntimeContext>, network?: 'NODE') => {
    const s = defaultSpec();
    const ctx = ctxOf({ container: { metadata: { name: 'c1' }, linux: { security_context: { namespace_options: network ? { network } : {} } } }, runtime: rt });
    withUsernsSysfs(s, ctx);
    return { m: s.mounts!.find((x) => x.destination === '/sys')!, warnings: ctx.warnings };
  };
  assert.equal(sys(USERNS_RUNTIME).m.type, 'sysfs');
  assert.equal(sys({}).m.type, 'sysfs');
  assert.deepEqual(sys(USERNS_RUNTIME, 'NODE').m, { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'rro'] });
  assert.equal(sys({ ...USERNS_RUNTIME, netnsOwnedByUserns: false }).m.type, 'bind');
  const noRro = sys({ ...USERNS_RUNTIME, netnsOwnedByUserns: false, handler: { name: 'x', idmapBind: true, idmapTmpfs: false, rro: false } });
  assert.ok(noRro.m.options!.includes('ro'));
  assert.equal(noRro.warnings.length, 1);
});

test('processHostIds maps process.user to host IDs for the stdio pipes', () => {
  const s = defaultSpec();
  s.process!.user = { uid: 101, gid: 101 };
  assert.deepEqual(processHostIds(s, USERNS_RUNTIME.userns!), { uid: HOST_ID + 101, gid: HOST_ID + 101 });
  assert.equal(processHostIds(s, null), null);
  s.process!.user = { uid: 70000, gid: 0 };
  assert.throws(() => processHostIds(s, USERNS_RUNTIME.userns!), /uid 70000 is not mapped/);
});

test('withUserNamespace drops devpts gid=5 when gid 5 is not mapped', () => {
  const devpts = (len: number) => {
    const s = defaultSpec();
    withUserNamespace(s, ctxOf({ runtime: { userns: { uid: { containerId: 0, hostId: HOST_ID, length: len }, gid: { containerId: 0, hostId: HOST_ID, length: len } } } }));
    return s.mounts!.find((m) => m.type === 'devpts')!.options!;
  };
  assert.ok(devpts(65536).includes('gid=5'));
  assert.ok(!devpts(1).includes('gid=5'));
});
