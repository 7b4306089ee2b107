// Crash safety over CRI: the daemon is SIGKILLed (or SIGTERMed) while pods and containers run, and a new
// daemon on the same dirs must carry on: conmon supervises every container, so they keep running; exits
// that happened while the daemon was down are read from conmon's exit files; and pods or containers a
// crash caught half-created are undone at start-up (they were recorded as 'creating' before any side
// effect). Every test ends with a leak check scoped to this node.
import { CRUN } from '../../helpers/host-binaries.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { containerConfig, podConfig, podUserns, removePod, startCriNode, type CriNode } from '../../helpers/cri-fixture.js';
import { waitFor } from '../../helpers/daemon.js';
import { nodeLeaks } from '../../helpers/leak-check.js';

const TAG = 'rs';
let node: CriNode;
const allPods: string[] = [];

before(async () => {
  node = await startCriNode({ tag: TAG, subnet: 101 });
  await node.image_call('PullImage', { image: { image: node.image } });
});

after(async () => {
  await node?.cleanup();
});

type Status = Record<string, any>;

async function createStart(podId: string, pod: Record<string, any>, ctr: Record<string, any>): Promise<string> {
  const { container_id: id } = await node.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: ctr, sandbox_config: pod });
  await node.call('StartContainer', { container_id: id });
  return id;
}

async function runPod(pod: Record<string, any>): Promise<string> {
  const { pod_sandbox_id: id } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod });
  allPods.push(id);
  return id;
}

async function status(id: string): Promise<Status> {
  return (await node.call<{ status: Status }>('ContainerStatus', { container_id: id })).status;
}

async function execOk(id: string): Promise<void> {
  const r = await node.call<{ stdout: Buffer; exit_code: number }>('ExecSync', { container_id: id, cmd: ['sh', '-c', 'echo alive'], timeout: 10 });
  assert.equal(r.exit_code, 0, `exec in ${id}`);
  assert.equal(r.stdout.toString(), 'alive\n');
}

async function assertNoLeaks(): Promise<void> {
  const leaks = await nodeLeaks(node, TAG, allPods);
  assert.deepEqual(leaks, [], `left behind:\n${leaks.join('\n')}`);
}

const CONTAINER_PID = { linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } } };

/** A container of a PID-mode CONTAINER pod (the kubelet sends the pod's PID mode for each container). */
function ctrConfig(name: string, command: string[]): Record<string, any> {
  return containerConfig(node, name, command, CONTAINER_PID);
}

test('SIGKILL: pods and containers survive, an exit during the downtime is recorded, Stop/Remove work after', async () => {
  // A plain pod (two containers), a user-namespaced pod, and a shared-PID pod (infra pause).
  const plain = podConfig(node, CONTAINER_PID);
  const userns = podUserns(3_100_000);
  const uns = podConfig(node, { linux: { security_context: { namespace_options: { pid: 'CONTAINER', userns_options: userns } } } });
  const shared = podConfig(node);
  const plainId = await runPod(plain);
  const unsId = await runPod(uns);
  const sharedId = await runPod(shared);
  const sleeper = await createStart(plainId, plain, ctrConfig('sleeper', ['sleep', '1000']));
  // Exits while the daemon is down: it waits for a file the test creates after the kill.
  const quitter = await createStart(plainId, plain, ctrConfig('quitter', ['sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 1; done; exit 7']));
  const unsSleeper = await createStart(unsId, uns, containerConfig(node, 'sleeper', ['sleep', '1000'], {
    linux: { security_context: { namespace_options: { pid: 'CONTAINER', userns_options: userns } } },
  }));
  const sharedSleeper = await createStart(sharedId, shared, containerConfig(node, 'sleeper', ['sleep', '1000']));
  const running = [sleeper, quitter, unsSleeper, sharedSleeper];
  for (const id of running) assert.equal((await status(id))['state'], 'CONTAINER_RUNNING');

  await node.daemon.kill();
  const killedAt = BigInt(Date.now()) * 1_000_000n;
  // The daemon is gone; conmon is not: let the quitter exit now, and wait for conmon's exit file.
  await execInContainerWithoutDaemon(quitter, 'touch /tmp/go');
  await waitFor(() => existsSync(join(node.daemon.state, 'exits', quitter)), 10_000, 'the exit file conmon writes');
  node.daemon = await node.daemon.restart();
  const restartedAt = BigInt(Date.now()) * 1_000_000n;

  try {
    const pods = await node.call<{ items: { id: string; state: string }[] }>('ListPodSandbox', {});
    for (const id of [plainId, unsId, sharedId]) {
      assert.equal(pods.items.find((p) => p.id === id)?.state, 'SANDBOX_READY', `pod ${id} after restart`);
    }
    const ctrs = await node.call<{ containers: { id: string; state: string }[] }>('ListContainers', {});
    for (const id of running) assert.ok(ctrs.containers.some((c) => c.id === id), `container ${id} listed after restart`);

    const q = await status(quitter);
    assert.equal(q['state'], 'CONTAINER_EXITED');
    assert.equal(q['exit_code'], 7);
    assert.equal(q['reason'], 'Error');
    const finished = BigInt(q['finished_at']);
    assert.ok(finished >= killedAt && finished <= restartedAt, `finished_at ${finished} within the downtime ${killedAt}..${restartedAt}`);

    for (const id of [sleeper, unsSleeper, sharedSleeper]) {
      assert.equal((await status(id))['state'], 'CONTAINER_RUNNING', `container ${id} still running`);
      await execOk(id);
    }

    await node.call('StopContainer', { container_id: sleeper, timeout: 0 });
    const s = await status(sleeper);
    assert.equal(s['state'], 'CONTAINER_EXITED');
    assert.equal(s['exit_code'], 137);
    await node.call('RemoveContainer', { container_id: sleeper });
    await assert.rejects(status(sleeper), /NOT_FOUND|not found/i);
  } finally {
    for (const id of [plainId, unsId, sharedId]) await removePod(node, id);
  }
  assert.equal((await node.call<{ containers: unknown[] }>('ListContainers', {})).containers.length, 0);
  await assertNoLeaks();
});

/**
 * Runs a command in a container while the daemon is down, through the runtime directly (as an operator
 * would): the container must not depend on the daemon for anything.
 */
async function execInContainerWithoutDaemon(id: string, script: string): Promise<void> {
  await crunWithoutDaemon(['exec', id, 'sh', '-c', script]);
}

/** crun on the daemon's runtime root, through crius-oci-wrap where this host needs it. */
async function crunWithoutDaemon(args: string[]): Promise<void> {
  const { run } = await import('../../../src/common/exec.js');
  const { nativeBuildPath } = await import('../../../src/common/install-root.js');
  const { detectCgroupLayout, runtimeHiddenMounts } = await import('../../../src/cgroup/mode.js');
  const hide = runtimeHiddenMounts(await detectCgroupLayout());
  const argv = [CRUN, `--root=${join(node.daemon.state, 'runtime', 'crun')}`, ...args];
  if (hide.length > 0) await run(nativeBuildPath('crius-oci-wrap'), [...hide.flatMap((h) => ['--hide', h]), ...argv], { timeoutMs: 10_000 });
  else await run(argv[0]!, argv.slice(1), { timeoutMs: 10_000 });
}

test('SIGTERM: a clean shutdown leaves containers running, and the next daemon manages them', async () => {
  const pod = podConfig(node, CONTAINER_PID);
  const podId = await runPod(pod);
  try {
    const id = await createStart(podId, pod, ctrConfig('sleeper', ['sleep', '1000']));
    await node.restartDaemon('term');
    assert.equal((await status(id))['state'], 'CONTAINER_RUNNING');
    await execOk(id);
    await node.call('StopContainer', { container_id: id, timeout: 1 });
    assert.equal((await status(id))['state'], 'CONTAINER_EXITED');
  } finally {
    await removePod(node, podId);
  }
  await assertNoLeaks();
});

test('a container the runtime started just before a crash (store still says created) is running after restart', async () => {
  const pod = podConfig(node, CONTAINER_PID);
  const podId = await runPod(pod);
  try {
    const { container_id: id } = await node.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: ctrConfig('late', ['sleep', '1000']), sandbox_config: pod });
    await node.daemon.kill();
    // What StartContainer had done when the crash came: the runtime's start, not yet the store update.
    await crunWithoutDaemon(['start', id]);
    node.daemon = await node.daemon.restart();
    const s = await status(id);
    assert.equal(s['state'], 'CONTAINER_RUNNING');
    assert.notEqual(s['started_at'], '0');
    await execOk(id);
    await node.call('StopContainer', { container_id: id, timeout: 0 });
    assert.equal((await status(id))['exit_code'], 137);
  } finally {
    await removePod(node, podId);
  }
  await assertNoLeaks();
});

function newEntry(dir: string, before: Set<string>): string | undefined {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  return names.find((n) => !before.has(n));
}

/**
 * Starts `call` without awaiting it, waits until the daemon recorded the object (its dir appears under
 * `dir`), lets it go on for `delayMs`, then SIGKILLs the daemon and starts a new one.
 */
async function killDuring(dir: string, call: () => Promise<unknown>, delayMs: number): Promise<string | undefined> {
  const before = new Set(existsSync(dir) ? readdirSync(dir) : []);
  const pending = call().then(() => 'done', (err: Error) => `failed: ${err.message}`);
  let id: string | undefined;
  await waitFor(() => (id = newEntry(dir, before)) !== undefined, 20_000, `a new entry in ${dir}`);
  if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
  await node.daemon.kill();
  await pending;
  node.daemon = await node.daemon.restart();
  return id;
}

/** The recorded steps of each object the last start-up undid (from its log), for the test's diagnostics. */
function undoneSteps(): string[] {
  return node.daemon.logs().split('\n').filter((l) => l.includes('left half-created by a crash'))
    .map((l) => JSON.stringify((JSON.parse(l) as { done?: unknown }).done ?? []));
}

test('SIGKILL mid-RunPodSandbox: the half-created pod is undone at start-up, nothing leaks', async (t) => {
  let undone = 0;
  // Shared-PID userns pods take the most steps (userns, netns, CNI, infra): kill at several points.
  for (const [i, delay] of [0, 20, 60, 150, 300, 600].entries()) {
    const pod = podConfig(node, { linux: { security_context: { namespace_options: { userns_options: podUserns(3_200_000 + i * 65536) } } } });
    const id = await killDuring(join(node.daemon.state, 'pods'), () => node.call('RunPodSandbox', { config: pod }), delay);
    assert.ok(id);
    allPods.push(id);
    const steps = undoneSteps();
    undone += steps.length;
    t.diagnostic(`kill ${delay} ms after the pod was recorded: ${steps.length > 0 ? `undone at start-up after steps ${steps.join(' ')}` : 'the call had finished'}`);
    const pods = await node.call<{ items: { id: string; state: string }[] }>('ListPodSandbox', {});
    const listed = pods.items.find((p) => p.id === id);
    // Either the call finished before the kill (a complete, ready pod) or nothing of it remains.
    if (listed) {
      assert.equal(listed.state, 'SANDBOX_READY');
      await removePod(node, id);
    }
    await assertNoLeaks();
  }
  assert.ok(undone > 0, 'at least one kill hit a half-created pod');
});

test('SIGKILL mid-CreateContainer: the half-created container is undone at start-up, the pod stays usable', async (t) => {
  const pod = podConfig(node, CONTAINER_PID);
  const podId = await runPod(pod);
  let undone = 0;
  try {
    for (const [i, delay] of [0, 20, 60, 150].entries()) {
      const ctr = ctrConfig(`c${i}`, ['sleep', '1000']);
      const id = await killDuring(join(node.daemon.state, 'containers'), () => node.call('CreateContainer', { pod_sandbox_id: podId, config: ctr, sandbox_config: pod }), delay);
      const steps = undoneSteps();
      undone += steps.length;
      t.diagnostic(`kill ${delay} ms after the container was recorded: ${steps.length > 0 ? `undone at start-up after steps ${steps.join(' ')}` : 'the call had finished'}`);
      const ctrs = await node.call<{ containers: { id: string; state: string }[] }>('ListContainers', {});
      const listed = ctrs.containers.find((c) => c.id === id);
      if (listed) {
        assert.equal(listed.state, 'CONTAINER_CREATED');
        await node.call('RemoveContainer', { container_id: id });
      } else {
        assert.equal(existsSync(join(node.daemon.state, 'containers', id!)), false, 'bundle of the undone container');
        assert.equal(existsSync(join(node.daemon.root, 'containers', id!)), false, 'data dir of the undone container');
      }
    }
    // The pod still works after all this.
    const id = await createStart(podId, pod, ctrConfig('after', ['sleep', '1000']));
    await execOk(id);
  } finally {
    await removePod(node, podId);
  }
  await assertNoLeaks();
  assert.ok(undone > 0, 'at least one kill hit a half-created container');
});

test('SIGKILL mid-RemovePodSandbox: the pod is still listed or gone, and a repeated RemovePodSandbox leaves nothing', async (t) => {
  for (const delay of [5, 60, 200, 450, 800]) {
    // A shared-PID userns pod with a running container: the longest teardown (container, infra, CNI, pins).
    const userns = podUserns(3_800_000);
    const ns = { userns_options: userns };
    const pod = podConfig(node, { linux: { security_context: { namespace_options: ns } } });
    const podId = await runPod(pod);
    await createStart(podId, pod, containerConfig(node, 'sleeper', ['sleep', '1000'], { linux: { security_context: { namespace_options: ns } } }));
    const pending = node.call('RemovePodSandbox', { pod_sandbox_id: podId }).then(() => 'done', (err: Error) => `failed: ${err.message}`);
    await new Promise((r) => setTimeout(r, delay));
    await node.daemon.kill();
    const outcome = await pending;
    node.daemon = await node.daemon.restart();
    const listed = (await node.call<{ items: { id: string }[] }>('ListPodSandbox', {})).items.some((p) => p.id === podId);
    t.diagnostic(`kill ${delay} ms into RemovePodSandbox: call ${outcome.startsWith('done') ? 'had finished' : 'was cut'}, pod ${listed ? 'still listed' : 'gone'} after restart`);
    // The kubelet retries RemovePodSandbox until it succeeds; every step of it is idempotent.
    await node.call('RemovePodSandbox', { pod_sandbox_id: podId });
    assert.equal((await node.call<{ items: { id: string }[] }>('ListPodSandbox', {})).items.some((p) => p.id === podId), false);
    await assertNoLeaks();
  }
});

test('a crash between unpinning the netns and unlinking its file does not block the RemovePodSandbox retry', async () => {
  const { execFileSync } = await import('node:child_process');
  const pod = podConfig(node, CONTAINER_PID);
  const podId = await runPod(pod);
  const netns = join(node.daemon.state, 'pods', podId, 'ns', 'net');
  assert.ok(existsSync(netns));
  await node.daemon.kill();
  // Where the crash left RemovePodSandbox: the pin is unmounted (the netns is gone), its file is not.
  execFileSync('/usr/bin/umount', [netns]);
  assert.ok(existsSync(netns));
  node.daemon = await node.daemon.restart();
  // CNI DEL must treat the empty file as a missing netns (and still release the IP), not fail forever.
  await node.call('RemovePodSandbox', { pod_sandbox_id: podId });
  assert.equal((await node.call<{ items: { id: string }[] }>('ListPodSandbox', {})).items.some((p) => p.id === podId), false);
  await assertNoLeaks();
});

test('the first RPCs after a restart, sent as soon as the socket accepts, already see what recovery found', async () => {
  const pod = podConfig(node, CONTAINER_PID);
  const podId = await runPod(pod);
  const sleeper = await createStart(podId, pod, ctrConfig('sleeper', ['sleep', '1000']));
  const quitter = await createStart(podId, pod, ctrConfig('quitter', ['sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 1; done; exit 3']));
  await node.daemon.kill();
  await execInContainerWithoutDaemon(quitter, 'touch /tmp/go');
  await waitFor(() => existsSync(join(node.daemon.state, 'exits', quitter)), 10_000, 'the exit file conmon writes');
  // Not waiting for "serving CRI": the new daemon serves its socket before it has recovered (Version
  // answers at once); every other RPC must wait for recovery, so none sees the pre-crash state.
  node.daemon = await node.daemon.restart({ readyWhen: 'socket' });
  try {
    const [q, ctrs, version] = await Promise.all([
      status(quitter),
      node.call<{ containers: { id: string; state: string }[] }>('ListContainers', {}),
      node.call<{ runtime_name: string }>('Version', {}),
    ]);
    assert.equal(version.runtime_name, 'crius');
    assert.equal(q['state'], 'CONTAINER_EXITED');
    assert.equal(q['exit_code'], 3);
    assert.deepEqual(
      ctrs.containers.filter((c) => c.id === sleeper || c.id === quitter).map((c) => [c.id, c.state]).sort(),
      [[quitter, 'CONTAINER_EXITED'], [sleeper, 'CONTAINER_RUNNING']].sort(),
    );
    await execOk(sleeper);
  } finally {
    await removePod(node, podId);
  }
  await assertNoLeaks();
});
