// What the kubelet (and critest) expect beyond the container basics (issue 12 items 4, 5, 7, 8, 10), on
// crun and runc: sandbox lifecycle events, ExecSync timeouts that leave nothing behind and output that
// outlives the exec'd command, host-network hostnames, the default handler's name, verbose status info.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hostname as osHostname } from 'node:os';
import { containerConfig, podConfig, podUserns, removePod, startCriNode, type CriNode } from '../../helpers/cri-fixture.js';
import { subscribed, waitFor } from '../../helpers/daemon.js';
import { HANDLERS } from '../../helpers/host-binaries.js';

let node: CriNode;

before(async () => {
  node = await startCriNode({ tag: 'kc', subnet: 122 });
  await node.image_call('PullImage', { image: { image: node.image } });
});

after(async () => {
  await node?.cleanup();
});

type Event = { container_id: string; container_event_type: string; pod_sandbox_status: Record<string, any> | null; containers_statuses: Record<string, any>[] };

async function runningContainer(pod: Record<string, any>, podId: string, name: string, cmd: string[]): Promise<string> {
  const { container_id: id } = await node.call<{ container_id: string }>('CreateContainer', {
    pod_sandbox_id: podId, sandbox_config: pod,
    config: containerConfig(node, name, cmd, { linux: { security_context: { namespace_options: pod['linux'].security_context.namespace_options } } }),
  });
  await node.call('StartContainer', { container_id: id });
  return id;
}

async function execSync(id: string, cmd: string[], timeout = 0): Promise<{ stdout: string; stderr: string; exit_code: number }> {
  const r = await node.call<{ stdout: Buffer; stderr: Buffer; exit_code: number }>('ExecSync', { container_id: id, cmd, timeout }, 60_000);
  return { stdout: Buffer.from(r.stdout).toString(), stderr: Buffer.from(r.stderr).toString(), exit_code: r.exit_code };
}

for (const h of HANDLERS) {
  test(`${h.name}: GetContainerEvents carries the sandbox's own lifecycle, in order, with statuses`, async (t) => {
    if (h.skip) { t.skip(h.skip); return; }
    const stream = node.daemon.client.runtime.GetContainerEvents({});
    const events: Event[] = [];
    stream.on('data', (e: Event) => events.push(e));
    stream.on('error', () => undefined);
    try {
      // The server sends its headers once the subscription exists: wait for them before the pod starts.
      await subscribed(stream);
      const pod = podConfig(node);
      const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: h.name });
      await waitFor(() => events.filter((e) => e.container_id === podId).length >= 2, 5000, 'created and started events of the sandbox');
      await node.call('StopPodSandbox', { pod_sandbox_id: podId });
      await waitFor(() => events.filter((e) => e.container_id === podId).length >= 3, 5000, 'stopped event of the sandbox');
      await node.call('RemovePodSandbox', { pod_sandbox_id: podId });
      await waitFor(() => events.filter((e) => e.container_id === podId).length >= 4, 5000, 'deleted event of the sandbox');
      const mine = events.filter((e) => e.container_id === podId);
      assert.deepEqual(mine.map((e) => e.container_event_type), ['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
      for (const e of mine) {
        assert.equal(e.pod_sandbox_status?.['id'], podId, e.container_event_type);
        assert.ok(Array.isArray(e.containers_statuses), e.container_event_type);
      }
      assert.equal(mine[1]!.pod_sandbox_status?.['state'], 'SANDBOX_READY');
      assert.equal(mine[3]!.pod_sandbox_status?.['state'], 'SANDBOX_NOTREADY');
    } finally {
      stream.cancel();
    }
  });

  test(`${h.name}: ExecSync with a timeout returns DeadlineExceeded only once the process tree is gone; late output is kept`, async (t) => {
    if (h.skip) { t.skip(h.skip); return; }
    const pod = podConfig(node);
    const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: h.name });
    try {
      const id = await runningContainer(pod, podId, 'exec', ['sleep', '600']);
      for (let round = 0; round < 3; round++) {
        await assert.rejects(execSync(id, ['sh', '-c', 'sleep 4321 & sleep 4322; echo never'], 1), (e: { code: number; details: string }) => {
          assert.equal(e.code, 4, e.details); // DEADLINE_EXCEEDED
          assert.match(e.details, /timed out after 1 s/);
          return true;
        });
        // Right after the call returned: nothing of the exec'd tree exists, not even as a zombie.
        const ps = await execSync(id, ['sh', '-c', 'for d in /proc/[0-9]*; do cat $d/cmdline 2>/dev/null | tr "\\0" " "; echo; done']);
        assert.doesNotMatch(ps.stdout, /432[12]/, `round ${round}: ${ps.stdout}`);
      }
      // A background child's output after the command exited is collected until the pipes close.
      const late = await execSync(id, ['sh', '-c', '(sleep 1; echo late; echo late-err >&2) & echo early']);
      assert.equal(late.stdout, 'early\nlate\n');
      assert.equal(late.stderr, 'late-err\n');
      assert.equal(late.exit_code, 0);
      const code = await execSync(id, ['sh', '-c', 'echo out; echo err >&2; exit 7']);
      assert.deepEqual(code, { stdout: 'out\n', stderr: 'err\n', exit_code: 7 });
    } finally {
      await removePod(node, podId);
    }
  });

  test(`${h.name}: a host-network pod has the node's hostname everywhere; another hostname is InvalidArgument`, async (t) => {
    if (h.skip) { t.skip(h.skip); return; }
    const ns = { network: 'NODE', pid: 'CONTAINER' };
    const bad = podConfig(node, { hostname: 'not-the-node', linux: { security_context: { namespace_options: ns } } });
    await assert.rejects(node.call('RunPodSandbox', { config: bad, runtime_handler: h.name }), (e: { code: number; details: string }) => {
      assert.equal(e.code, 3, e.details);
      assert.match(e.details, /hostname "not-the-node" cannot be set in a host-network pod/);
      return true;
    });
    const pod = podConfig(node, { hostname: '', linux: { security_context: { namespace_options: ns } } });
    const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: h.name });
    try {
      const id = await runningContainer(pod, podId, 'hn', ['sleep', '600']);
      const r = await execSync(id, ['sh', '-c', 'hostname; cat /etc/hostname; echo $HOSTNAME']);
      assert.equal(r.stdout, `${osHostname()}\n${osHostname()}\n${osHostname()}\n`);
    } finally {
      await removePod(node, podId);
    }
  });

  test(`${h.name}: verbose statuses carry runtimeSpec, pid, sandbox ID, handler, mappings and idmapped mounts`, async (t) => {
    if (h.skip) { t.skip(h.skip); return; }
    const H = h.name === 'crun' ? 1_500_000 : 1_600_000;
    const pod = podConfig(node, { linux: { security_context: { namespace_options: { userns_options: podUserns(H) } } } });
    const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: h.name });
    try {
      const id = await runningContainer(pod, podId, 'v', ['sleep', '600']);
      const cs = await node.call<{ info: Record<string, string>; status: Record<string, any> }>('ContainerStatus', { container_id: id, verbose: true });
      const info = JSON.parse(cs.info['info']!);
      assert.equal(info.sandboxID, podId);
      assert.equal(info.handler, h.name);
      assert.ok(info.pid > 0);
      assert.deepEqual(info.runtimeSpec.process.args, ['sleep', '600']);
      assert.deepEqual(info.userNamespace.uidMappings ?? [], info.runtimeSpec.linux.uidMappings ?? []);
      assert.ok(info.idmappedMounts.some((m: { destination: string; uidMappings: { hostID: number }[] }) => m.destination === '/etc/hosts' && m.uidMappings[0]!.hostID === H), JSON.stringify(info.idmappedMounts));
      const ps = await node.call<{ info: Record<string, string> }>('PodSandboxStatus', { pod_sandbox_id: podId, verbose: true });
      const pinfo = JSON.parse(ps.info['info']!);
      assert.equal(pinfo.sandboxID, podId);
      assert.equal(pinfo.handler, h.name);
      assert.ok(pinfo.pid > 0, 'the infra process of a PID-mode-POD pod');
      assert.deepEqual(pinfo.idMappings.uids, [{ containerId: 0, hostId: H, length: 65536 }]);
      assert.ok(pinfo.runtimeSpec?.process, 'the infra container spec');
    } finally {
      await removePod(node, podId);
    }
  });
}

test('the default handler is reported as sent: "" stays "" in PodSandboxStatus and ListPodSandbox', async () => {
  for (const sent of ['', 'crun']) {
    const pod = podConfig(node);
    const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: sent });
    try {
      const s = await node.call<{ status: Record<string, any>; info: Record<string, string> }>('PodSandboxStatus', { pod_sandbox_id: podId, verbose: true });
      assert.equal(s.status['runtime_handler'], sent);
      assert.equal(JSON.parse(s.info['info']!).handler, 'crun', 'the verbose info names the handler that runs it');
      const list = await node.call<{ items: Record<string, any>[] }>('ListPodSandbox', { filter: { id: podId } });
      assert.equal(list.items[0]!['runtime_handler'], sent);
    } finally {
      await removePod(node, podId);
    }
  }
});
