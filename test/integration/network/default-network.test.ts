// crius's default pod network as shipped (contrib/cni/10-crius.conflist: ptp, host-local, portmap; only
// its name, subnet and IPAM dir changed for the test) on a real daemon: one pod reaches another by its IP
// (routed by the host: there is no bridge), the host reaches a pod, a user-namespaced pod gets the same
// network, a hostPort on 127.0.0.1 reaches a pod, and removing the pods leaves no veth, route or address.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { containerConfig, podConfig, podUserns, removePod, startCriNode, type CriNode } from '../../helpers/cri-fixture.js';
import { waitFor } from '../../helpers/daemon.js';
import { freePort } from '../../helpers/registry.js';

const SUBNET = '10.133.';
let node: CriNode;

before(async () => {
  node = await startCriNode({ tag: 'dn', subnet: 133, network: 'shipped' });
  await node.image_call('PullImage', { image: { image: node.image } });
});

after(async () => {
  await node?.cleanup();
});

interface Pod { id: string; ip: string; config: Record<string, any> }

async function startPod(extra: Record<string, any>, cmd: string[]): Promise<Pod> {
  const config = podConfig(node, extra);
  const { pod_sandbox_id: id } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config });
  const cfg = containerConfig(node, 'main', cmd);
  cfg['linux'] = { security_context: { namespace_options: config['linux'].security_context.namespace_options } };
  const { container_id: cid } = await node.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: id, config: cfg, sandbox_config: config });
  await node.call('StartContainer', { container_id: cid });
  const st = await node.call<{ status: { network: { ip: string } } }>('PodSandboxStatus', { pod_sandbox_id: id });
  return { id, ip: st.status.network.ip, config: { ...config, containerId: cid } };
}

async function execIn(pod: Pod, cmd: string[]): Promise<{ stdout: string; exit_code: number }> {
  const r = await node.call<{ stdout: Buffer; exit_code: number }>('ExecSync', { container_id: pod.config['containerId'], cmd, timeout: 20 }, 60_000);
  return { stdout: Buffer.from(r.stdout).toString(), exit_code: r.exit_code };
}

/** Host routes into the test's subnet (ptp adds a /32 per pod). */
function podRoutes(): string[] {
  return execFileSync('/usr/sbin/ip', ['-4', 'route', 'show'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(SUBNET));
}

const serve = (text: string): string[] => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 8080 -h /www`];

test('pods reach each other and the host reaches them; a hostPort works; nothing is left after removal', async () => {
  const hostPort = await freePort();
  const routesBefore = podRoutes();
  const server = await startPod({
    linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } },
    port_mappings: [{ protocol: 'TCP', container_port: 8080, host_port: hostPort, host_ip: '127.0.0.1' }],
  }, serve('from-server'));
  // A user-namespaced client: its network namespace belongs to its user namespace, the routing is the same.
  const client = await startPod({ linux: { security_context: { namespace_options: { pid: 'CONTAINER', userns_options: podUserns(65536 * 3001) } } } }, ['sleep', '600']);
  try {
    assert.ok(server.ip.startsWith(SUBNET) && client.ip.startsWith(SUBNET), `${server.ip} ${client.ip}`);
    assert.notEqual(server.ip, client.ip);
    // Each pod's address is routed to its own veth on the host: no bridge in between.
    assert.equal(podRoutes().length - routesBefore.length, 2, podRoutes().join('\n'));
    const fromHost = await (await fetch(`http://${server.ip}:8080/`)).text();
    assert.equal(fromHost.trim(), 'from-server');
    let got = { stdout: '', exit_code: -1 };
    await waitFor(async () => {
      // nc, not wget: the test image's busybox wget dies with a segmentation fault here.
      got = await execIn(client, ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${server.ip} 8080`]);
      return got.exit_code === 0 && got.stdout.includes('from-server');
    }, 20_000, `pod ${client.ip} -> pod ${server.ip}:8080`).catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(got)}`); });
    assert.match(got.stdout, /^HTTP\/1\.[01] 200/);
    const viaHostPort = await (await fetch(`http://127.0.0.1:${hostPort}/`)).text();
    assert.equal(viaHostPort.trim(), 'from-server');
  } finally {
    await removePod(node, client.id);
    await removePod(node, server.id);
  }
  assert.deepEqual(podRoutes(), routesBefore, 'the pods\' routes are gone');
  const addrs = execFileSync('/usr/sbin/ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(` ${SUBNET}`));
  assert.deepEqual(addrs, [], 'no host-side veth keeps a pod gateway address');
});
