// CNI with Debian's plugins into a pinned netns: pod IP reachable from the host, a hostPort on
// 127.0.0.1 through portmap, DEL cleans up (veth, iptables, stored result) and is idempotent.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { run } from '../../../src/common/exec.js';
import { bridgeMasqChain, createCni, type Cni, type CniPod } from '../../../src/network/cni.js';
import { pinPodNamespaces, removePinnedNamespaces, type PinnedNamespaces } from '../../../src/pod/namespaces.js';

const PLUGINS = '/usr/lib/cni';
const NET = 'crius-cni-test';
const BRIDGE = 'criust0';
const SUBNET_PREFIX = '10.123.7.';

function unavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const f of ['bridge', 'host-local', 'portmap'].map((p) => path.join(PLUGINS, p)).concat(['/usr/sbin/iptables', '/bin/busybox'])) {
    if (!existsSync(f)) return `${f} is missing`;
  }
  return null;
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => { body += b.toString(); });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

async function linkExists(name: string): Promise<boolean> {
  const r = await run('/usr/sbin/ip', ['-o', 'link', 'show', 'dev', name], { okCodes: [0, 1] });
  return r.code === 0;
}

async function iptablesMentions(text: string): Promise<string[]> {
  const r = await run('/usr/sbin/iptables-save', []);
  return r.stdout.split('\n').filter((l) => l.includes(text));
}

describe('CNI in a pinned netns', { skip: unavailable() ?? false }, () => {
  let dir: string;
  let cni: Cni;
  let ns: PinnedNamespaces;
  let server: ChildProcess | undefined;
  const pod: CniPod = { id: `cnitest${process.pid}`, name: 'web', namespace: 'default', uid: 'uid-1' };

  before(async () => {
    dir = await mkdtemp('/tmp/crius-cni-');
    await mkdir(path.join(dir, 'net.d'));
    await writeFile(path.join(dir, 'net.d', '50-test.conflist'), JSON.stringify({
      cniVersion: '1.0.0', name: NET, disableCheck: true,
      plugins: [
        { type: 'bridge', bridge: BRIDGE, isGateway: true, ipMasq: true, hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: `${SUBNET_PREFIX}0/24` }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: path.join(dir, 'ipam') } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }));
    // A later file name loses: the lexicographically first config is the default network.
    await writeFile(path.join(dir, 'net.d', '99-other.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'other', plugins: [{ type: 'nope' }] }));
    cni = createCni({ confDir: path.join(dir, 'net.d'), pluginDirs: ['/nonexistent', PLUGINS], resultsDir: path.join(dir, 'results') });
    ns = await pinPodNamespaces({ dir: path.join(dir, 'ns'), net: true, ipc: true, uts: true, hostname: 'web-0', sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' } });
  });

  after(async () => {
    server?.kill('SIGKILL');
    await cni.del(pod, ns.net).catch(() => undefined);
    await removePinnedNamespaces(ns).catch(() => undefined);
    await run('/usr/sbin/ip', ['link', 'del', BRIDGE], { okCodes: [0, 1] }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(dir));
    assert.deepEqual(mounts, [], 'no namespace pins left');
  });

  it('is ready with a config, names the first file, and is not ready without one', async () => {
    const st = await cni.status();
    assert.equal(st.ready, true, st.message);
    assert.equal(st.network?.name, NET);
    const none = createCni({ confDir: path.join(dir, 'missing'), pluginDirs: [PLUGINS], resultsDir: path.join(dir, 'r2') });
    const st2 = await none.status();
    assert.equal(st2.ready, false);
    assert.equal(st2.reason, 'NetworkPluginNotReady');
    assert.match(st2.message ?? '', /no CNI network config/);
  });

  it('ADD gives the pod an IP reachable from the host and a hostPort on 127.0.0.1; DEL cleans up', async () => {
    const { ips, result } = await cni.add(pod, ns.net ?? '', [
      { hostPort: 12080, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' },
      { hostPort: 0, containerPort: 81, protocol: 'tcp' },
    ]);
    assert.equal(ips.length, 1);
    assert.ok(ips[0]?.startsWith(SUBNET_PREFIX), `pod IP ${ips[0]} in the test subnet`);
    assert.deepEqual(await cni.storedResult(pod.id), result);
    // Other tests on this machine make veths too: follow this pod's host-side veth by name.
    const veth = (result.interfaces ?? []).find((i) => !i.sandbox && i.name !== BRIDGE)?.name ?? '';
    assert.match(veth, /^veth/);
    assert.equal(await linkExists(veth), true);
    // lo is up in the pod and the pinned hostname and sysctl are in place.
    const inNs = await run('/usr/bin/nsenter', [`--net=${ns.net}`, `--uts=${ns.uts}`, '/bin/sh', '-c',
      'cat /proc/sys/kernel/hostname /proc/sys/net/ipv4/ip_unprivileged_port_start; ip -o link show lo']);
    const [host, sysctl, lo] = inNs.stdout.split('\n');
    assert.equal(host, 'web-0');
    assert.equal(sysctl, '0');
    assert.match(lo ?? '', /UP/);

    const www = path.join(dir, 'www');
    await mkdir(www);
    await writeFile(path.join(www, 'index.html'), 'hello from the pod\n');
    server = spawn('/usr/bin/nsenter', [`--net=${ns.net}`, '/bin/busybox', 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' });
    let body = '';
    for (let i = 0; i < 100; i++) {
      try {
        body = await get(`http://${ips[0]}:80/`);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 30));
      }
    }
    assert.equal(body, 'hello from the pod\n', 'pod IP reachable from the host');
    assert.equal(await get('http://127.0.0.1:12080/'), 'hello from the pod\n', 'hostPort through portmap');
    server.kill('SIGKILL');
    server = undefined;
    assert.ok((await iptablesMentions(pod.id)).length > 0, 'portmap/bridge rules name the pod');

    await cni.del(pod, ns.net);
    assert.equal(await linkExists(veth), false, 'veth removed');
    assert.deepEqual(await iptablesMentions(pod.id), [], 'no iptables rules left for the pod');
    assert.equal(await cni.storedResult(pod.id), undefined);
    await cni.del(pod, ns.net);
    await cni.del(pod, path.join(dir, 'gone-netns'));
  });

  it('DEL after the netns is gone still releases the IP (missing netns is fine)', async () => {
    const ns2 = await pinPodNamespaces({ dir: path.join(dir, 'ns2'), net: true, ipc: false, uts: false });
    const pod2: CniPod = { ...pod, id: `${pod.id}b` };
    const { ips } = await cni.add(pod2, ns2.net ?? '', []);
    await removePinnedNamespaces(ns2);
    await cni.del(pod2, ns2.net);
    const leases = existsSync(path.join(dir, 'ipam', NET)) ? (await run('/bin/ls', [path.join(dir, 'ipam', NET)])).stdout : '';
    assert.ok(!leases.includes(ips[0] ?? 'x'), `lease for ${ips[0]} released`);
    assert.deepEqual(await iptablesMentions(pod2.id), []);
    assert.deepEqual(await iptablesMentions(bridgeMasqChain(NET, pod2.id)), [], 'the per-pod masquerade chain is gone too');
  });
});
