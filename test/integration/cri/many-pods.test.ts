// Many user-namespaced pods at once (the density bench's shape, small): 72 pods, each with its own
// explicit 65536-ID mapping and PID mode CONTAINER, started 4 at a time. With all running, every list and
// stats RPC returns each of them exactly once (the stats RPCs sample in chunks of 64, so 72 crosses a
// chunk boundary), each pod has its own IP and its own host IDs; an exit is seen by ListContainers; then
// all are removed 4 at a time and nothing is left: mounts, namespace pins, cgroups, conmons, veths, IPs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { containerConfig, podConfig, podUserns, startCriNode, waitExited, type CriNode } from '../../helpers/cri-fixture.js';
import { nodeLeaks } from '../../helpers/leak-check.js';

const TAG = 'mp';
const PODS = 72;
const BLOCK = 200; // pod i's host IDs start at (BLOCK + i) * 65536
let node: CriNode;
const podIds: string[] = [];

before(async () => {
  node = await startCriNode({ tag: TAG, subnet: 106 });
  await node.image_call('PullImage', { image: { image: node.image } });
});

after(async () => {
  await node?.cleanup();
});

async function inFlight<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

test(`${PODS} user-namespaced pods: listed and sampled once each, then removed without a trace`, async () => {
  const ctrOf = new Map<string, string>();
  const setup = new Map<string, { pod: Record<string, any>; ns: Record<string, any> }>();
  await inFlight(Array.from({ length: PODS }, (_, i) => i), 4, async (i) => {
    const ns = { pid: 'CONTAINER', userns_options: podUserns((BLOCK + i) * 65536) };
    const pod = podConfig(node, { name: `mp-${i}`, linux: { security_context: { namespace_options: ns } } });
    const { pod_sandbox_id: id } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod });
    podIds.push(id);
    setup.set(id, { pod, ns });
    const { container_id: cid } = await node.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: id, config: containerConfig(node, 'sleeper', ['sleep', '1000'], { linux: { security_context: { namespace_options: ns } } }), sandbox_config: pod,
    });
    await node.call('StartContainer', { container_id: cid });
    ctrOf.set(id, cid);
  });

  const pods = (await node.call<{ items: { id: string; state: string }[] }>('ListPodSandbox', {})).items;
  assert.deepEqual(pods.map((p) => p.id).sort(), [...podIds].sort());
  assert.ok(pods.every((p) => p.state === 'SANDBOX_READY'));
  const ctrs = (await node.call<{ containers: { id: string; pod_sandbox_id: string; state: string }[] }>('ListContainers', {})).containers;
  assert.equal(ctrs.length, PODS);
  for (const c of ctrs) {
    assert.equal(c.state, 'CONTAINER_RUNNING');
    assert.equal(ctrOf.get(c.pod_sandbox_id), c.id);
  }

  // Each pod: its own IP, and its container's init runs as its own range's host root.
  const ips = new Set<string>();
  const hostUids = new Set<number>();
  for (const id of podIds) {
    const st = (await node.call<{ status: { network: { ip: string } } }>('PodSandboxStatus', { pod_sandbox_id: id })).status;
    ips.add(st.network.ip);
    const cs = await node.call<{ info: Record<string, string> }>('ContainerStatus', { container_id: ctrOf.get(id), verbose: true });
    const pid = (JSON.parse(cs.info['info'] ?? '{}') as { pid?: number }).pid;
    assert.ok(pid, 'the verbose status names the init pid');
    hostUids.add(Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]));
  }
  assert.equal(ips.size, PODS, 'every pod has an IP of its own');
  assert.equal(hostUids.size, PODS, 'every pod runs as its own range');
  for (const u of hostUids) assert.equal(u / 65536 >= BLOCK && u % 65536 === 0, true, `host uid ${u} is a range's root`);

  const podStats = (await node.call<{ stats: { attributes: { id: string }; linux: { containers: { attributes: { id: string } }[]; network: { default_interface: { name: string } | null } | null } }[] }>('ListPodSandboxStats', {})).stats;
  assert.deepEqual(podStats.map((s) => s.attributes.id).sort(), [...podIds].sort(), 'one entry per pod across the sampling chunks');
  for (const s of podStats) {
    assert.deepEqual(s.linux.containers.map((c) => c.attributes.id), [ctrOf.get(s.attributes.id)], 'a pod\'s own container, and only it');
    assert.equal(s.linux.network?.default_interface?.name, 'eth0', 'interface counters from inside the pod\'s netns');
  }
  const ctrStats = (await node.call<{ stats: { attributes: { id: string }; memory: { working_set_bytes: { value: string } | null } | null }[] }>('ListContainerStats', {})).stats;
  assert.deepEqual(ctrStats.map((s) => s.attributes.id).sort(), [...ctrOf.values()].sort());
  assert.ok(ctrStats.every((s) => Number(s.memory?.working_set_bytes?.value ?? 0) > 0));

  // An exit among many running containers: ListContainers reports it (read from the exits dir).
  const first = podIds[0]!;
  const { pod: firstPod, ns: firstNs } = setup.get(first)!;
  const exiter = (await node.call<{ container_id: string }>('CreateContainer', {
    pod_sandbox_id: first, config: containerConfig(node, 'exiter', ['sh', '-c', 'exit 3'], { linux: { security_context: { namespace_options: firstNs } } }), sandbox_config: firstPod,
  })).container_id;
  await node.call('StartContainer', { container_id: exiter });
  await waitExited(node, exiter);
  const listed = (await node.call<{ containers: { id: string; state: string }[] }>('ListContainers', {})).containers.find((c) => c.id === exiter);
  assert.equal(listed?.state, 'CONTAINER_EXITED');

  await inFlight([...podIds], 4, async (id) => {
    await node.call('StopPodSandbox', { pod_sandbox_id: id });
    await node.call('RemovePodSandbox', { pod_sandbox_id: id });
  });
  assert.deepEqual((await node.call<{ items: unknown[] }>('ListPodSandbox', {})).items, []);
  assert.deepEqual(await nodeLeaks(node, TAG, podIds), []);
});
