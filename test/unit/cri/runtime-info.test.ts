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

test('UpdateRuntimeConfig keeps the kubelet\'s pod CIDRs (shown in verbose Status, logged on change) and refuses malformed ones', async () => {
  const logged: string[] = [];
  const h = makeRuntimeInfoHandlers({ ...deps(fakeFeatures({ crun: { features: withIdmap } })), logger: { info: (_m: string, f?: Record<string, unknown>) => logged.push(String(f?.['to'])) } });
  const cidrs = async (): Promise<string[]> => (JSON.parse((await h.Status({ verbose: true })).info!['config']!) as { podCIDRs: string[] }).podCIDRs;
  assert.deepEqual(await cidrs(), []);
  const req = (pod_cidr: string) => ({ runtime_config: { network_config: { pod_cidr } } });
  assert.deepEqual(await h.UpdateRuntimeConfig(req('10.244.1.0/24,fd00:10:244:1::/64')), {});
  assert.deepEqual(await h.UpdateRuntimeConfig(req('10.244.1.0/24, fd00:10:244:1::/64')), {});
  assert.deepEqual(await cidrs(), ['10.244.1.0/24', 'fd00:10:244:1::/64']);
  assert.deepEqual(logged, ['10.244.1.0/24,fd00:10:244:1::/64'], 'logged once: the second call changed nothing');
  for (const bad of ['10.244.1.0', '10.244.1.0/33', 'fd00::/129', 'nonsense/8', '10.0.0.0/8,10.1.0.0/16', '10.0.0.0/8,fd00::/64,fd01::/64']) {
    await assert.rejects(h.UpdateRuntimeConfig(req(bad)), (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT' && /pod_cidr/.test(e.message), bad);
  }
  assert.deepEqual(await cidrs(), ['10.244.1.0/24', 'fd00:10:244:1::/64'], 'a refused update changes nothing');
  assert.deepEqual(await h.UpdateRuntimeConfig({ runtime_config: null }), {});
  assert.deepEqual(await cidrs(), []);
});
