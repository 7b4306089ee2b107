// Nothing outlives a removed pod: after pods of every kind (plain, user-namespaced, shared-PID with the
// pause infra, host network; crun and runc) ran containers, exec'd into them and were removed, no mount
// below the daemon's dirs, no pinned namespace file, no pod cgroup, no conmon, no veth on the node's
// bridge and no CNI IP reservation remains. Also checked after a pod removed WITHOUT a StopPodSandbox
// first (the kubelet may skip it) and after containers that exited on their own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { containerConfig, podConfig, podUserns, startCriNode, waitExited, type CriNode } from '../../helpers/cri-fixture.js';
import { nodeLeaks } from '../../helpers/leak-check.js';

const TAG = 'lk';
let node: CriNode;
const podIds: string[] = [];

before(async () => {
  node = await startCriNode({ tag: TAG, subnet: 102 });
  await node.image_call('PullImage', { image: { image: node.image } });
});

after(async () => {
  await node?.cleanup();
});

interface Kind {
  name: string;
  handler: string;
  /** namespace_options of both the pod and its containers (the kubelet sends the same). */
  ns: Record<string, any>;
  /** Remove without StopPodSandbox first. */
  removeOnly?: boolean;
}

const KINDS: Kind[] = [
  { name: 'plain', handler: 'crun', ns: { pid: 'CONTAINER' } },
  { name: 'plain-runc', handler: 'runc', ns: { pid: 'CONTAINER' } },
  { name: 'userns', handler: 'crun', ns: { pid: 'CONTAINER', userns_options: podUserns(3_500_000) } },
  { name: 'userns-shared-pid', handler: 'crun', ns: { userns_options: podUserns(3_600_000) } },
  { name: 'shared-pid', handler: 'crun', ns: { pid: 'POD' } },
  { name: 'shared-pid-runc', handler: 'runc', ns: { pid: 'POD' }, removeOnly: true },
  { name: 'host-network', handler: 'crun', ns: { pid: 'CONTAINER', network: 'NODE' } },
  { name: 'plain-remove-only', handler: 'crun', ns: { pid: 'CONTAINER' }, removeOnly: true },
];

for (const k of KINDS) {
  test(`${k.name} (${k.handler}): nothing remains after the pod is removed`, async () => {
    // A host-network pod has the node's hostname; the kubelet sends none for it.
    const pod = podConfig(node, { name: `lk-${k.name}`, ...(k.ns['network'] === 'NODE' ? { hostname: '' } : {}), linux: { security_context: { namespace_options: k.ns } } });
    const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: k.handler });
    podIds.push(podId);
    const ctr = (name: string, cmd: string[]): Record<string, any> =>
      containerConfig(node, name, cmd, { linux: { security_context: { namespace_options: k.ns } } });
    const start = async (c: Record<string, any>): Promise<string> => {
      const { container_id: id } = await node.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: c, sandbox_config: pod });
      await node.call('StartContainer', { container_id: id });
      return id;
    };
    const sleeper = await start(ctr('sleeper', ['sleep', '1000']));
    const done = await start(ctr('done', ['sh', '-c', 'echo bye']));
    // Created but never started: it too must go with the pod.
    await node.call('CreateContainer', { pod_sandbox_id: podId, config: ctr('idle', ['true']), sandbox_config: pod });
    const r = await node.call<{ exit_code: number; stdout: Buffer }>('ExecSync', { container_id: sleeper, cmd: ['cat', '/sys/class/net/lo/flags'], timeout: 10 });
    assert.equal(r.exit_code, 0);
    // lo is up in every pod netns (IFF_UP = 0x1): crius-podns brings it up, for user-namespaced pods too.
    assert.equal(Number(r.stdout.toString().trim()) & 1, 1, `lo flags ${r.stdout.toString().trim()}`);
    if (k.ns['network'] !== 'NODE') {
      // The pod's hostname (for user-namespaced pods set by the process that creates the namespaces).
      const h = await node.call<{ stdout: Buffer }>('ExecSync', { container_id: sleeper, cmd: ['hostname'], timeout: 10 });
      assert.equal(h.stdout.toString().trim(), pod['hostname']);
    }
    assert.equal((await waitExited(node, done))['exit_code'], 0);
    if (!k.removeOnly) await node.call('StopPodSandbox', { pod_sandbox_id: podId });
    await node.call('RemovePodSandbox', { pod_sandbox_id: podId });
    const leaks = await nodeLeaks(node, TAG, podIds);
    assert.deepEqual(leaks, [], `left behind:\n${leaks.join('\n')}`);
  });
}

test('after a daemon shutdown every mount below its dirs is gone (the idmap probe included)', async () => {
  const leaksBefore = await nodeLeaks(node, TAG, podIds);
  assert.deepEqual(leaksBefore, []);
  await node.daemon.stop();
  const { mountsUnder } = await import('../../helpers/leak-check.js');
  const left = mountsUnder(node.daemon.dir);
  // Start a daemon again so the fixture's cleanup can talk to it.
  node.daemon = await node.daemon.restart();
  assert.deepEqual(left, [], `mounts left by a stopped daemon:\n${left.join('\n')}`);
});
