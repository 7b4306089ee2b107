import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import { checkIdmapSupport, handlerCapabilities, idmappedMountDestinations, specUsesIdmap } from '../../../src/spec/idmap-check.js';
import { defaultSpec } from '../../../src/spec/defaults.js';
import type { Spec } from '../../../src/spec/oci-types.js';
import { crun121Features, runc115Features, runc136Features } from '../../helpers/runtime-features.js';

const MAP = [{ containerID: 0, hostID: 100000, size: 65536 }];

function withMount(extra: Spec['mounts']): Spec {
  const s = defaultSpec();
  s.mounts!.push(...(extra ?? []));
  return s;
}

const idmapped = withMount([{ destination: '/data', type: 'bind', source: '/h', options: ['rbind'], uidMappings: MAP, gidMappings: MAP }]);

test('specUsesIdmap: mappings on a mount, or idmap/ridmap options; nothing else', () => {
  assert.equal(specUsesIdmap(defaultSpec()), false);
  assert.equal(specUsesIdmap(idmapped), true);
  assert.equal(specUsesIdmap(withMount([{ destination: '/x', type: 'bind', source: '/h', options: ['rbind', 'ridmap'] }])), true);
  assert.equal(specUsesIdmap(withMount([{ destination: '/x', type: 'bind', source: '/h', options: ['idmap'] }])), true);
  const userOnly = defaultSpec();
  userOnly.linux!.uidMappings = MAP;
  assert.equal(specUsesIdmap(userOnly), false, 'the container userns mapping is not an idmapped mount');
  assert.deepEqual(idmappedMountDestinations(idmapped), ['/data']);
});

test('crun 1.21 and runc 1.3.6 pass', () => {
  checkIdmapSupport(idmapped, { name: 'crun', path: '/usr/bin/crun', version: 'crun version 1.21', features: crun121Features });
  checkIdmapSupport(idmapped, { name: 'runc', path: '/usr/sbin/runc', version: 'runc version 1.3.6+ds1', features: runc136Features });
});

test('runc 1.1 (no mountExtensions) fails with FailedPrecondition naming handler, path, version, the missing entry and the fix', () => {
  assert.throws(
    () => checkIdmapSupport(idmapped, { name: 'runc-old', path: '/opt/runc-1.1/runc', version: 'runc version 1.1.15', features: runc115Features }),
    (e: unknown) => {
      assert.ok(e instanceof CriusError);
      assert.equal(e.code, 'FAILED_PRECONDITION');
      assert.equal(
        e.message,
        'runtime handler "runc-old" (/opt/runc-1.1/runc, runc version 1.1.15) cannot do idmapped mounts, needed for /data: missing `linux.mountExtensions.idmap` entry in the handler\'s `features` output; use crun >= 1.9 or runc >= 1.2 for this handler (or run the pod without hostUsers: false)',
      );
      return true;
    },
  );
});

test('idmap present but disabled, and no features at all', () => {
  const disabled = structuredClone(crun121Features);
  disabled.linux!.mountExtensions = { idmap: { enabled: false } };
  assert.throws(() => checkIdmapSupport(idmapped, { name: 'crun', path: '/usr/bin/crun', features: disabled }), /`linux.mountExtensions.idmap.enabled` .* present but false/);
  assert.throws(
    () => checkIdmapSupport(idmapped, { name: 'runc10', path: '/opt/runc10', reason: '`/opt/runc10 features` failed (exit status 1)' }),
    (e: unknown) => e instanceof CriusError && e.code === 'FAILED_PRECONDITION' && /reports no features \(`\/opt\/runc10 features` failed/.test(e.message),
  );
  checkIdmapSupport(defaultSpec(), { name: 'runc10', path: '/opt/runc10' });
});

test('a user namespace the handler does not list is refused', () => {
  const s = defaultSpec();
  s.linux!.namespaces!.push({ type: 'user' });
  const noUser = structuredClone(crun121Features);
  noUser.linux!.namespaces = ['mount', 'network'];
  assert.throws(() => checkIdmapSupport(s, { name: 'x', path: '/x', features: noUser }), /"user" is missing from `linux.namespaces`/);
  checkIdmapSupport(s, { name: 'runc-old', path: '/r', features: runc115Features }); // userns without idmapped mounts is fine on 1.1
});

test('handlerCapabilities: crun idmaps tmpfs, runc only binds, runc 1.1 nothing; rro from mountOptions and kernel', () => {
  assert.deepEqual(handlerCapabilities('crun', crun121Features), { name: 'crun', idmapBind: true, idmapTmpfs: true, rro: true });
  assert.deepEqual(handlerCapabilities('runc', runc136Features), { name: 'runc', idmapBind: true, idmapTmpfs: false, rro: true });
  assert.deepEqual(handlerCapabilities('old', runc115Features, false), { name: 'old', idmapBind: false, idmapTmpfs: false, rro: false });
  assert.deepEqual(handlerCapabilities('none', undefined), { name: 'none', idmapBind: false, idmapTmpfs: false, rro: false });
});
