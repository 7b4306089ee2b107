// Exec, Attach and PortForward through the daemon: the CRI RPC hands back a URL, the client speaks
// SPDY to it as crictl and the kubelet do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { containerConfig, podConfig, podUserns, removePod, runContainer, startCriNode, type CriNode } from '../../helpers/cri-fixture.js';
import { exitCodeOf, spdyExec } from '../../helpers/spdy-client.js';

let node: CriNode;

before(async () => {
  node = await startCriNode({ tag: 'st', subnet: 93 });
});

after(async () => {
  await node?.cleanup();
});

test('Exec over SPDY: output, exit code, stdin; in a userns pod root is the pod root', async () => {
  const userns = podUserns(6_000_000);
  const ns = { pid: 'CONTAINER', userns_options: userns };
  const pod = podConfig(node, { linux: { security_context: { namespace_options: ns } } });
  const { podId, containerId } = await runContainer(node, pod, containerConfig(node, 'srv', ['sleep', '1000'], { linux: { security_context: { namespace_options: ns } } }));
  try {
    const { url } = await node.call<{ url: string }>('Exec', { container_id: containerId, cmd: ['sh', '-c', 'id -u; cat /proc/self/uid_map; exit 3'], stdout: true, stderr: true });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\//);
    const r = await spdyExec(url, { stdout: true, stderr: true });
    assert.equal(exitCodeOf(r.error), 3);
    assert.match(r.stdout.toString(), /^0\n\s+0\s+6000000\s+65536\n$/);
    const { url: url2 } = await node.call<{ url: string }>('Exec', { container_id: containerId, cmd: ['cat'], stdin: true, stdout: true });
    const echo = await spdyExec(url2, { stdin: Buffer.from('hello through stdin\n'), stdout: true });
    assert.equal(echo.stdout.toString(), 'hello through stdin\n');
    assert.equal(exitCodeOf(echo.error), 0);
    // A URL is single-use.
    await assert.rejects(spdyExec(url2, { stdout: true }), /404/);
    await assert.rejects(node.call('Exec', { container_id: 'no-such', cmd: ['true'], stdout: true }), (e: { code: number }) => e.code === 5);
  } finally {
    await removePod(node, podId);
  }
});
