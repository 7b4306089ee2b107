// Pods and containers end to end over CRI, with real crun/runc, conmon, CNI and a local registry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { containerConfig, logContent, podConfig, removePod, runContainer, startCriNode, waitExited, type CriNode } from '../../helpers/cri-fixture.js';

let node: CriNode;

before(async () => {
  node = await startCriNode({ tag: 'lc', subnet: 91 });
});

after(async () => {
  await node?.cleanup();
});

for (const handler of ['crun', 'runc']) {
  test(`${handler}: a container runs, logs in CRI format and reports exit code 0 as Completed`, async () => {
    const pod = podConfig(node);
    const { podId, containerId } = await runContainer(node, pod, containerConfig(node, 'hello', ['sh', '-c', 'echo hello from $(hostname); id -u']), handler);
    try {
      const st = await waitExited(node, containerId);
      assert.equal(st['exit_code'], 0);
      assert.equal(st['reason'], 'Completed');
      const log = logContent(join(pod['log_directory'], 'hello.log'));
      assert.match(log, new RegExp(`hello from ${pod['metadata'].name}\\n0\\n`));
      const pst = await node.call<{ status: { state: string; network: { ip: string } } }>('PodSandboxStatus', { pod_sandbox_id: podId });
      assert.equal(pst.status.state, 'SANDBOX_READY');
      assert.match(pst.status.network.ip, /^10\.91\./);
    } finally {
      await removePod(node, podId);
    }
    const list = await node.call<{ items: unknown[] }>('ListPodSandbox', { filter: { id: podId } });
    assert.equal(list.items.length, 0);
  });
}

test('exit codes 1 and 137 (killed) are reported', async () => {
  const pod = podConfig(node);
  const { podId, containerId } = await runContainer(node, pod, containerConfig(node, 'fail', ['sh', '-c', 'exit 1']));
  try {
    const st = await waitExited(node, containerId);
    assert.equal(st['exit_code'], 1);
    assert.equal(st['reason'], 'Error');
    const { container_id: sleeper } = await node.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: containerConfig(node, 'sleeper', ['sleep', '1000']), sandbox_config: pod });
    await node.call('StartContainer', { container_id: sleeper });
    await node.call('StopContainer', { container_id: sleeper, timeout: 0 });
    const st2 = (await node.call<{ status: Record<string, any> }>('ContainerStatus', { container_id: sleeper })).status;
    assert.equal(st2['state'], 'CONTAINER_EXITED');
    assert.equal(st2['exit_code'], 137);
  } finally {
    await removePod(node, podId);
  }
});

test('ExecSync returns output and exit code, and a timeout kills the process (DEADLINE_EXCEEDED)', async () => {
  const pod = podConfig(node);
  const { podId, containerId } = await runContainer(node, pod, containerConfig(node, 'long', ['sleep', '1000']));
  try {
    const r = await node.call<{ stdout: Buffer; stderr: Buffer; exit_code: number }>('ExecSync', { container_id: containerId, cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'], timeout: 10 });
    assert.equal(Buffer.from(r.stdout).toString(), 'out\n');
    assert.equal(Buffer.from(r.stderr).toString(), 'err\n');
    assert.equal(r.exit_code, 3);
    // A timeout is DEADLINE_EXCEEDED (the kubelet's probes read it as "timed out"), once the process is gone.
    await assert.rejects(node.call('ExecSync', { container_id: containerId, cmd: ['sleep', '600'], timeout: 1 }), (e: { code: number }) => e.code === 4);
    const ps = await node.call<{ stdout: Buffer }>('ExecSync', { container_id: containerId, cmd: ['ps'], timeout: 10 });
    assert.doesNotMatch(Buffer.from(ps.stdout).toString(), /sleep 600/);
  } finally {
    await removePod(node, podId);
  }
});

test('StopPodSandbox and RemovePodSandbox are idempotent; unknown IDs are fine', async () => {
  await node.call('StopPodSandbox', { pod_sandbox_id: 'f'.repeat(64) });
  await node.call('RemovePodSandbox', { pod_sandbox_id: 'f'.repeat(64) });
  await node.call('RemoveContainer', { container_id: 'e'.repeat(64) });
  await assert.rejects(node.call('PodSandboxStatus', { pod_sandbox_id: 'f'.repeat(64) }), (e: { code: number }) => e.code === 5);
});
