// State derived from what runs (issue 15, item 6): after a reboot (the boot ID recorded at the last start
// differs from the kernel's) pods are NOTREADY and containers EXITED 255 "node rebooted", and the
// kubelet's Stop/Remove clean up without errors and without leaks; when the infra (pause) process of a
// PID-POD pod dies, the pod becomes NOTREADY and GetContainerEvents says so.
// A reboot is simulated on a stopped daemon: its conmons and containers are SIGKILLed (conmon first, so
// no exit is recorded, as when the power goes), the mounts below its state dir (namespace pins, shm,
// root filesystems) are unmounted, and the recorded boot ID is changed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { containerConfig, podConfig, startCriNode, type CriNode } from '../../helpers/cri-fixture.js';
import { pidAlive, waitFor } from '../../helpers/daemon.js';
import { conmonsUnder, mountsUnder, nodeLeaks } from '../../helpers/leak-check.js';
import { run } from '../../../src/common/exec.js';

const TAG = 'rb';
let node: CriNode;
const allPods: string[] = [];

before(async () => {
  node = await startCriNode({ tag: TAG, subnet: 114 });
  await node.image_call('PullImage', { image: { image: node.image } });
});

after(async () => {
  await node?.cleanup();
});

const SHARED_PID = { security_context: { namespace_options: { pid: 'POD' } } };

async function runSharedPidPod(name: string): Promise<{ pod: Record<string, any>; podId: string; containerId: string }> {
  const pod = podConfig(node, { name, linux: SHARED_PID });
  const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod });
  allPods.push(podId);
  const ctr = containerConfig(node, 'app', ['sleep', '300'], { linux: SHARED_PID });
  const { container_id: containerId } = await node.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: ctr, sandbox_config: pod });
  await node.call('StartContainer', { container_id: containerId });
  return { pod, podId, containerId };
}

/** The infra (pause) process's pid: the pod's PID namespace is /proc/<it>/ns/pid. */
async function infraPid(podId: string): Promise<number> {
  const res = await node.call<{ info: { info: string } }>('PodSandboxStatus', { pod_sandbox_id: podId, verbose: true });
  const ns = (JSON.parse(res.info.info) as { namespaces: { pid?: string } }).namespaces.pid ?? '';
  const m = /^\/proc\/(\d+)\/ns\/pid$/.exec(ns);
  assert.ok(m, `pod ${podId} has a shared PID namespace held by its infra process (got ${ns})`);
  return Number(m[1]);
}

async function assertNoLeaks(): Promise<void> {
  const leaks = await nodeLeaks(node, TAG, allPods);
  assert.deepEqual(leaks, [], `left behind:\n${leaks.join('\n')}`);
}

test('after a reboot pods are NOTREADY, containers EXITED 255 "node rebooted", and Stop/Remove clean up', async () => {
  const { podId, containerId } = await runSharedPidPod('reboot');
  const verbose = await node.call<{ info: { info: string } }>('ContainerStatus', { container_id: containerId, verbose: true });
  const ctrPid = (JSON.parse(verbose.info.info) as { pid: number }).pid;
  const pause = await infraPid(podId);
  await node.daemon.kill();
  // The power goes: conmon first (no exit file is written), then what it supervised.
  for (const pid of conmonsUnder(node.daemon.dir)) process.kill(pid, 'SIGKILL');
  for (const pid of [ctrPid, pause]) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  await waitFor(() => !pidAlive(ctrPid) && !pidAlive(pause) && conmonsUnder(node.daemon.dir).length === 0, 10_000, 'the pod\'s processes to die');
  // /run is empty after a reboot: the namespace pins, shm and root filesystems below the state dir are gone.
  for (const m of mountsUnder(node.daemon.state).reverse()) await run('/usr/bin/umount', ['-l', m], { okCodes: [0, 32] });
  const db = new Database(join(node.daemon.root, 'crius.db'));
  try {
    const before = db.prepare("SELECT value FROM meta WHERE key = 'boot_id'").get() as { value: string } | undefined;
    assert.ok(before, 'the daemon records the boot ID at start');
    db.prepare("UPDATE meta SET value = 'a-previous-boot' WHERE key = 'boot_id'").run();
  } finally {
    db.close();
  }
  node.daemon = await node.daemon.restart();

  const pod = (await node.call<{ status: Record<string, any> }>('PodSandboxStatus', { pod_sandbox_id: podId })).status;
  assert.equal(pod['state'], 'SANDBOX_NOTREADY');
  const ctr = (await node.call<{ status: Record<string, any> }>('ContainerStatus', { container_id: containerId })).status;
  assert.equal(ctr['state'], 'CONTAINER_EXITED');
  assert.equal(ctr['exit_code'], 255);
  assert.equal(ctr['reason'], 'node rebooted');
  // What the kubelet then does, each call answering OK.
  await node.call('StopContainer', { container_id: containerId, timeout: 10 });
  await node.call('RemoveContainer', { container_id: containerId });
  await node.call('StopPodSandbox', { pod_sandbox_id: podId });
  await node.call('RemovePodSandbox', { pod_sandbox_id: podId });
  await assertNoLeaks();
});

test('a restart without a reboot keeps pods READY (the boot ID is the same)', async () => {
  const { podId, containerId } = await runSharedPidPod('noreboot');
  await node.restartDaemon('kill');
  const pod = (await node.call<{ status: Record<string, any> }>('PodSandboxStatus', { pod_sandbox_id: podId })).status;
  assert.equal(pod['state'], 'SANDBOX_READY');
  const ctr = (await node.call<{ status: Record<string, any> }>('ContainerStatus', { container_id: containerId })).status;
  assert.equal(ctr['state'], 'CONTAINER_RUNNING');
  await node.call('StopPodSandbox', { pod_sandbox_id: podId });
  await node.call('RemovePodSandbox', { pod_sandbox_id: podId });
  await assertNoLeaks();
});

test('when the infra process of a PID-POD pod dies, the pod becomes NOTREADY and an event says so', async () => {
  type Ev = Record<string, any>;
  const events: Ev[] = [];
  const stream = node.daemon.client.runtime.GetContainerEvents({});
  stream.on('data', (e: Ev) => events.push(e));
  stream.on('error', () => undefined);
  try {
    const { podId } = await runSharedPidPod('infradeath');
    // The stream is live once it delivered the events of the pod's own container.
    await waitFor(() => events.some((e) => e['pod_sandbox_status']?.id === podId && e['container_event_type'] === 'CONTAINER_STARTED_EVENT'), 10_000, 'the subscription to see the container start');
    process.kill(await infraPid(podId), 'SIGKILL');
    await waitFor(async () => (await node.call<{ status: Record<string, any> }>('PodSandboxStatus', { pod_sandbox_id: podId })).status['state'] === 'SANDBOX_NOTREADY', 15_000, 'the pod to become NOTREADY');
    await waitFor(() => events.some((e) => e['container_id'] === podId && e['container_event_type'] === 'CONTAINER_STOPPED_EVENT'), 10_000, 'a stopped event for the pod');
    const ev = events.find((e) => e['container_id'] === podId && e['container_event_type'] === 'CONTAINER_STOPPED_EVENT')!;
    assert.equal(ev['pod_sandbox_status']?.state, 'SANDBOX_NOTREADY');
    await node.call('StopPodSandbox', { pod_sandbox_id: podId });
    await node.call('RemovePodSandbox', { pod_sandbox_id: podId });
    // Stop and Remove of an already NOTREADY pod report no second infra death.
    assert.equal(events.filter((e) => e['container_id'] === podId && e['container_event_type'] === 'CONTAINER_STOPPED_EVENT').length, 1);
  } finally {
    stream.cancel();
  }
  await assertNoLeaks();
});
