import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeRuntimeInfoHandlers } from '../../../src/cri/runtime-info.js';
import { parseConfig } from '../../../src/config/config.js';
import type { FeaturesCache, HandlerInfo } from '../../../src/oci/features.js';

const withIdmap = { linux: { namespaces: ['user', 'network'], mountExtensions: { idmap: { enabled: true } } }, mountOptions: ['rro'] };
const noIdmap = { linux: { namespaces: ['user', 'network'] }, mountOptions: [] };

function fakeFeatures(byName: Record<string, Partial<HandlerInfo>>): Pick<FeaturesCache, 'read'> {
  return { read: async (name: string, path: string) => ({ name, path, ...byName[name] }) as HandlerInfo };
}

const config = parseConfig('default_runtime = "crun"\n[runtimes.crun]\npath = "/usr/bin/crun"\n[runtimes.runc]\npath = "/usr/sbin/runc"\n[runtimes.runc11]\npath = "/x/runc"\n', 't.toml');
const deps = (features: Pick<FeaturesCache, 'read'>) => ({
  config, version: '1.2.3', features, kernel: { release: '6.18.0', userNamespaces: true }, cgroupDriver: 'CGROUPFS' as const,
  network: async () => ({ ready: false, reason: 'NetworkPluginNotReady', message: 'no CNI config' }),
});

test('Status lists every handler plus the default under "", with user_namespaces from features', async () => {
  const h = makeRuntimeInfoHandlers(deps(fakeFeatures({ crun: { features: withIdmap }, runc: { features: withIdmap }, runc11: { features: noIdmap } })));
  const res = await h.Status({ verbose: false });
  assert.deepEqual(res.runtime_handlers!.map((x) => [x.name, x.features!.user_namespaces, x.features!.recursive_read_only_mounts]), [
    ['', true, true], ['crun', true, true], ['runc', true, true], ['runc11', false, false],
  ]);
  const conds = res.status!.conditions!;
  assert.deepEqual(conds.map((c) => [c.type, c.status]), [['RuntimeReady', true], ['NetworkReady', false]]);
  assert.equal(conds[1]!.reason, 'NetworkPluginNotReady');
  assert.deepEqual(res.info, {});
});

test('RuntimeReady is false, with the reason, when the default handler is unusable', async () => {
  const h = makeRuntimeInfoHandlers(deps(fakeFeatures({ crun: { reason: 'runtime binary /usr/bin/crun does not exist' }, runc: { features: withIdmap } })));
  const res = await h.Status({ verbose: false });
  const ready = res.status!.conditions![0]!;
  assert.equal(ready.status, false);
  assert.equal(ready.reason, 'DefaultRuntimeUnusable');
  assert.match(ready.message!, /default runtime handler "crun" cannot be used: runtime binary \/usr\/bin\/crun does not exist/);
});

test('verbose Status carries a JSON config with root and state dirs and the handlers', async () => {
  const h = makeRuntimeInfoHandlers(deps(fakeFeatures({ crun: { features: withIdmap, version: 'crun version 1.21' }, runc: { features: withIdmap }, runc11: { features: noIdmap } })));
  const res = await h.Status({ verbose: true });
  const cfg = JSON.parse(res.info!['config']!) as { rootDir: string; stateDir: string; runtimeHandlers: { name: string; userNamespacesUnsupported: string | null }[] };
  assert.equal(cfg.rootDir, '/var/lib/crius');
  assert.equal(cfg.stateDir, '/run/crius');
  assert.deepEqual(cfg.runtimeHandlers.map((x) => x.name), ['crun', 'runc', 'runc11']);
  assert.match(cfg.runtimeHandlers[2]!.userNamespacesUnsupported!, /mountExtensions\.idmap/);
});

test('Version and RuntimeConfig', async () => {
  const h = makeRuntimeInfoHandlers(deps(fakeFeatures({})));
  assert.deepEqual(await h.Version(), { version: '0.1.0', runtime_name: 'crius', runtime_version: '1.2.3', runtime_api_version: 'v1' });
  assert.deepEqual(await h.RuntimeConfig(), { linux: { cgroup_driver: 'CGROUPFS' } });
});
