import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bridgeMasqChain, cniArgs, isIdlePortmap, parseNetworkConfig, pickConfigFile, pluginStdin, podIpsFromResult } from '../../../src/network/cni.js';
import { errorCode } from '../../../src/common/errors.js';

const LIST = parseNetworkConfig(JSON.stringify({
  cniVersion: '1.0.0', name: 'crius', disableCheck: true,
  plugins: [
    { type: 'bridge', bridge: 'crius0', ipam: { type: 'host-local' } },
    { type: 'portmap', capabilities: { portMappings: true, bandwidth: false }, snat: true },
  ],
}), '/etc/cni/net.d/10-crius.conflist');

describe('CNI config and results', () => {
  it('picks the lexicographically first config file', () => {
    assert.equal(pickConfigFile(['99-loopback.conflist', '10-crius.conflist', 'README', '05-x.json.bak', '20-a.conf']), '10-crius.conflist');
    assert.equal(pickConfigFile(['README']), undefined);
  });

  it('parses a conflist and wraps a single .conf; rejects broken configs', () => {
    assert.equal(LIST.name, 'crius');
    assert.equal(LIST.disableCheck, true);
    assert.equal(LIST.plugins.length, 2);
    const single = parseNetworkConfig('{"cniVersion":"0.4.0","name":"n","type":"bridge"}', 'x.conf');
    assert.deepEqual(single.plugins.map((p) => p.type), ['bridge']);
    for (const bad of ['{', '{"name":"n","cniVersion":"1.0.0"}', '{"name":"n","cniVersion":"1.0.0","plugins":[{"type":"../evil"}]}', '{"cniVersion":"1.0.0","plugins":[]}']) {
      assert.throws(() => parseNetworkConfig(bad, 'f'), (e: unknown) => errorCode(e) === 'FAILED_PRECONDITION', bad);
    }
  });

  it('gives each plugin its name, version, declared runtimeConfig only, and prevResult', () => {
    const rc = { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' }], bandwidth: { ingressRate: 1 } };
    const first = pluginStdin(LIST, LIST.plugins[0]!, rc);
    assert.deepEqual(first, { type: 'bridge', bridge: 'crius0', ipam: { type: 'host-local' }, name: 'crius', cniVersion: '1.0.0' });
    const prev = { cniVersion: '1.0.0', ips: [{ address: '10.88.0.2/16', interface: 1 }] };
    const second = pluginStdin(LIST, LIST.plugins[1]!, rc, prev);
    assert.deepEqual(second, { type: 'portmap', snat: true, name: 'crius', cniVersion: '1.0.0', runtimeConfig: { portMappings: rc.portMappings }, prevResult: prev });
    assert.equal('runtimeConfig' in pluginStdin(LIST, LIST.plugins[1]!, {}), false);
  });

  it('takes the pod IPs from the sandbox interface', () => {
    const result = {
      interfaces: [{ name: 'crius0', mac: 'a' }, { name: 'veth1', mac: 'b' }, { name: 'eth0', mac: 'c', sandbox: '/run/ns/net' }],
      ips: [{ address: '10.88.0.1/16', interface: 0 }, { address: '10.88.0.5/16', gateway: '10.88.0.1', interface: 2 }, { address: 'fd00::5/64', interface: 2 }],
    };
    assert.deepEqual(podIpsFromResult(result), ['10.88.0.5', 'fd00::5']);
    assert.deepEqual(podIpsFromResult({ ips: [{ address: '10.1.0.2/24' }] }), ['10.1.0.2']);
  });

  it('skips portmap only when it has no port mappings to set up', () => {
    const pm = LIST.plugins[1]!;
    assert.equal(isIdlePortmap(pm, {}), true);
    assert.equal(isIdlePortmap(pm, { portMappings: [] }), true);
    assert.equal(isIdlePortmap(pm, { portMappings: [{ hostPort: 80 }] }), false);
    assert.equal(isIdlePortmap(LIST.plugins[0]!, {}), false);
    assert.equal(isIdlePortmap({ type: 'portmap' }, {}), false, 'a portmap that does not declare the capability runs');
  });

  it('builds CNI_ARGS like ocicni and the bridge masquerade chain name', () => {
    assert.equal(cniArgs({ id: 'abc', name: 'web', namespace: 'default', uid: 'u;1' }),
      'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u_1');
    assert.equal(bridgeMasqChain('crius-cni-test', 'cnitest10578b'), 'CNI-ab9ebc610ef8404646329d29');
  });
});
