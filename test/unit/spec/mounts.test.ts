import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import { defaultSpec } from '../../../src/spec/defaults.js';
import { criMountToOci, imageVolumesToCreate, withImageVolumes, withMountOrder, withMounts, withSandboxFiles } from '../../../src/spec/mounts.js';
import type { CriMount, RuntimeContext } from '../../../src/spec/types.js';
import { ctxOf } from '../../helpers/spec-context.js';

const m = (over: Partial<CriMount>): CriMount => ({ container_path: '/data', host_path: '/host/data', ...over });
const ctxM = (mounts: CriMount[], runtime: Partial<RuntimeContext> = {}, readonlyRootfs = false) =>
  ctxOf({ container: { metadata: { name: 'c1' }, mounts, linux: { security_context: { readonly_rootfs: readonlyRootfs } } }, image: { Cmd: ['x'], Volumes: { '/var/lib/db': {}, '/data': {} } }, runtime });
const isCode = (code: string, re: RegExp) => (e: unknown) => e instanceof CriusError && e.code === code && re.test(e.message);

test('CRI mounts become rbind mounts with propagation and ro/rw', () => {
  const ctx = ctxM([]);
  assert.deepEqual(criMountToOci(m({}), ctx), { destination: '/data', type: 'bind', source: '/host/data', options: ['rbind', 'rprivate', 'rw'] });
  assert.deepEqual(criMountToOci(m({ readonly: true, propagation: 'PROPAGATION_HOST_TO_CONTAINER' }), ctx).options, ['rbind', 'rslave', 'ro']);
  assert.deepEqual(criMountToOci(m({ propagation: 'PROPAGATION_BIDIRECTIONAL' }), ctx).options, ['rbind', 'rshared', 'rw']);
  assert.equal(criMountToOci(m({ container_path: '/a//b/' }), ctx).destination, '/a/b');
  assert.throws(() => criMountToOci(m({ container_path: 'rel' }), ctx), isCode('INVALID_ARGUMENT', /not absolute/));
});

test('recursive read-only: rro, with containerd\'s errors', () => {
  const ctx = ctxM([]);
  assert.deepEqual(criMountToOci(m({ readonly: true, recursive_read_only: true }), ctx).options, ['rbind', 'rprivate', 'rro']);
  assert.throws(() => criMountToOci(m({ recursive_read_only: true }), ctx), isCode('INVALID_ARGUMENT', /conflicts with RW mount \(hostPath="\/host\/data"\)/));
  assert.throws(
    () => criMountToOci(m({ readonly: true, recursive_read_only: true, propagation: 'PROPAGATION_HOST_TO_CONTAINER' }), ctx),
    isCode('INVALID_ARGUMENT', /needs private propagation, got "PROPAGATION_HOST_TO_CONTAINER"/),
  );
  const noRro = ctxM([], { handler: { name: 'old', idmapBind: false, idmapTmpfs: false, rro: false } });
  assert.throws(() => criMountToOci(m({ readonly: true, recursive_read_only: true }), noRro), isCode('FAILED_PRECONDITION', /handler "old" does not support recursive read-only/));
});

test('withMounts replaces defaults at the same destination, refuses duplicates, sets rootfs propagation', () => {
  const s = defaultSpec();
  withMounts(s, ctxM([m({ container_path: '/dev/shm', host_path: '/h/shm' }), m({ propagation: 'PROPAGATION_HOST_TO_CONTAINER' })]));
  assert.equal(s.mounts!.filter((x) => x.destination === '/dev/shm').length, 1);
  assert.equal(s.mounts!.find((x) => x.destination === '/dev/shm')!.source, '/h/shm');
  assert.equal(s.linux!.rootfsPropagation, 'rslave');
  const t = defaultSpec();
  withMounts(t, ctxM([m({ propagation: 'PROPAGATION_BIDIRECTIONAL' }), m({ container_path: '/b', propagation: 'PROPAGATION_HOST_TO_CONTAINER' })]));
  assert.equal(t.linux!.rootfsPropagation, 'rshared');
  assert.throws(() => withMounts(defaultSpec(), ctxM([m({}), m({ container_path: '/data/' })])), /two mounts at "\/data"/);
});

test('withSandboxFiles: hostname/hosts/resolv.conf binds (ro with a read-only rootfs), shared /dev/shm, kubelet mounts win', () => {
  const s = defaultSpec();
  withSandboxFiles(s, ctxM([m({ container_path: '/etc/hosts', host_path: '/kubelet/hosts' })], {}, true));
  const by = (d: string) => s.mounts!.filter((x) => x.destination === d);
  assert.deepEqual(by('/etc/hostname'), [{ destination: '/etc/hostname', type: 'bind', source: '/run/crius/p1/hostname', options: ['rbind', 'rprivate', 'ro'] }]);
  assert.deepEqual(by('/etc/hosts'), [], 'the kubelet mounts /etc/hosts itself');
  assert.equal(by('/etc/resolv.conf')[0]!.source, '/run/crius/p1/resolv.conf');
  assert.deepEqual(by('/dev/shm'), [{ destination: '/dev/shm', type: 'bind', source: '/run/crius/p1/shm', options: ['rbind', 'rprivate', 'nosuid', 'nodev', 'noexec', 'rw'] }]);
});

test('without a sandbox shm the default private tmpfs stays', () => {
  const s = defaultSpec();
  withSandboxFiles(s, ctxM([], { sandboxFiles: {} }));
  assert.equal(s.mounts!.find((x) => x.destination === '/dev/shm')!.type, 'tmpfs');
});

test('image VOLUMEs: the ones the kubelet does not mount get the runtime-made dirs', () => {
  assert.deepEqual(imageVolumesToCreate({ Volumes: { '/b/': {}, '/a': {}, '/data': {} } }, [m({})]), ['/a', '/b']);
  const s = defaultSpec();
  const ctx = ctxM([m({})], { imageVolumeDirs: {} });
  withImageVolumes(s, ctx);
  assert.equal(s.mounts!.some((x) => x.destination === '/var/lib/db'), false);
  assert.match(ctx.warnings[0]!, /VOLUME \/var\/lib\/db has no runtime-made directory/);
  const t = defaultSpec();
  withImageVolumes(t, ctxM([m({})], { imageVolumeDirs: { '/var/lib/db': '/run/crius/c1/volumes/db' } }));
  assert.deepEqual(t.mounts!.find((x) => x.destination === '/var/lib/db'), { destination: '/var/lib/db', type: 'bind', source: '/run/crius/c1/volumes/db', options: ['rbind', 'rprivate', 'rw'] });
});

test('withMountOrder puts parents before children and keeps order otherwise', () => {
  const s = defaultSpec();
  s.mounts = [{ destination: '/a/b/c' }, { destination: '/x' }, { destination: '/a/b' }, { destination: '/a' }, { destination: '/y' }];
  withMountOrder(s, ctxOf());
  assert.deepEqual(s.mounts.map((x) => x.destination), ['/x', '/a', '/y', '/a/b', '/a/b/c']);
});

test('image volumes (KEP-4639): a read-only, noexec bind of the mounted image, sub path inside it; an empty host_path is InvalidArgument', () => {
  const ctx = ctxM([], { imageMountDirs: { '/data': '/var/lib/crius/containers/c/image-volumes/0/mnt' } });
  assert.deepEqual(criMountToOci(m({ host_path: '', image: { image: 'busybox:latest' } }), ctx),
    { destination: '/data', type: 'bind', source: '/var/lib/crius/containers/c/image-volumes/0/mnt', options: ['rbind', 'rprivate', 'ro', 'nosuid', 'nodev', 'noexec'] });
  assert.equal(criMountToOci(m({ host_path: '', image: { image: 'busybox:latest' }, image_sub_path: 'etc/./x/' }), ctx).source, '/var/lib/crius/containers/c/image-volumes/0/mnt/etc/x');
  for (const bad of ['/etc', '..', '../x', 'a/../../x']) {
    assert.throws(() => criMountToOci(m({ host_path: '', image: { image: 'busybox:latest' }, image_sub_path: bad }), ctx), isCode('INVALID_ARGUMENT', /image_sub_path .* must be a relative path inside the image/), bad);
  }
  assert.throws(() => criMountToOci(m({ host_path: '', image: { image: 'busybox:latest' } }), ctxM([])), isCode('INTERNAL', /not mounted/));
  assert.throws(() => criMountToOci(m({ host_path: '' }), ctx), isCode('INVALID_ARGUMENT', /no host_path/));
  assert.equal(criMountToOci(m({ image: { image: '' } }), ctx).source, '/host/data', 'an empty ImageSpec (proto default) is no image volume');
});
