// A hostile CRI client against the real daemon (issue 13, items 4, 5, 8, 9, 11, 12, 13): seccomp refs
// that are FIFOs, /dev/zero or secrets; newline injection into the pod's files; log paths escaping the
// log directory; mounts over /proc, /dev, /sys; values the kernel refuses; oversized labels; host ID 0.
// Each must answer INVALID_ARGUMENT (or NOT_FOUND) naming the field, cost no memory, leave nothing on
// disk, and leave the daemon answering. Devices, and privileged pods' host /dev, are checked from inside
// a container (crun, and runc when a runc >= 1.2 is installed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { containerConfig, logContent, podConfig, podUserns, removePod, startCriNode, waitExited, type CriNode } from '../helpers/cri-fixture.js';
import { nodeLeaks } from '../helpers/leak-check.js';
import { RUNC } from '../helpers/host-binaries.js';

const TAG = 'hv';
let node: CriNode;
let work: string;
const podIds: string[] = [];

before(async () => {
  node = await startCriNode({ tag: TAG, subnet: 131 });
  await node.image_call('PullImage', { image: { image: node.image } });
  work = join(node.dir, 'hostile');
  mkdirSync(work);
});

after(async () => {
  if (!node) return;
  const leaks = await nodeLeaks(node, TAG, podIds);
  await node.cleanup();
  assert.deepEqual(leaks, [], `left behind: ${leaks.join('; ')}`);
});

interface RpcError { code: number; details: string }
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;

/** The call fails with `code` and a message matching `pattern`; returns the message. */
async function refused(p: Promise<unknown>, code: number, pattern: RegExp): Promise<string> {
  let caught: RpcError | undefined;
  try {
    await p;
  } catch (err) {
    caught = err as RpcError;
  }
  assert.ok(caught, 'the call succeeded but should have been refused');
  assert.equal(caught.code, code, `code ${caught.code}: ${caught.details}`);
  assert.match(caught.details, pattern);
  return caught.details;
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

/** Runs fn while sampling the daemon's RSS every 20 ms; returns the peak growth over the start in MiB. */
async function rssGrowthDuring(fn: () => Promise<unknown>): Promise<number> {
  const pid = node.daemon.proc.pid!;
  const start = rssKiB(pid);
  let peak = start;
  const timer = setInterval(() => { peak = Math.max(peak, rssKiB(pid)); }, 20);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, rssKiB(pid));
  return (peak - start) / 1024;
}

async function runPod(extra: Record<string, any> = {}, handler = ''): Promise<{ pod: Record<string, any>; podId: string }> {
  const pod = podConfig(node, extra);
  const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: handler }, 60_000);
  podIds.push(podId);
  return { pod, podId };
}

function createContainer(pod: Record<string, any>, podId: string, name: string, cmd: string[], extra: Record<string, any> = {}, timeoutMs = 30_000): Promise<{ container_id: string }> {
  const cfg = { ...containerConfig(node, name, cmd), ...extra };
  return node.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: cfg, sandbox_config: pod }, timeoutMs);
}

const seccomp = (ref: string) => ({ linux: { security_context: { seccomp: { profile_type: 'Localhost', localhost_ref: ref } } } });

async function containerCount(): Promise<number> {
  return (await node.call<{ containers: unknown[] }>('ListContainers', {})).containers.length;
}

test('Localhost seccomp refs: a FIFO and /dev/zero are refused at once, memory stays flat, every RPC still answers', async () => {
  const { pod, podId } = await runPod();
  try {
    const fifo = join(work, 'profile.fifo');
    execFileSync('mkfifo', [fifo]);
    const countBefore = await containerCount();
    // The deadline is only a guard: a read that waits for a FIFO writer would answer DEADLINE_EXCEEDED.
    await refused(createContainer(pod, podId, 'fifo', ['true'], seccomp(fifo), 10_000), INVALID_ARGUMENT,
      /config\.linux\.security_context\.seccomp\.localhost_ref: .*profile\.fifo is a FIFO; a seccomp profile must be a regular JSON file of at most 1048576 bytes/);
    // Four at once exhausted the file-I/O pool before; eight now, all refused.
    await Promise.all(Array.from({ length: 8 }, (_, i) => refused(createContainer(pod, podId, `fifo${i}`, ['true'], seccomp(fifo), 10_000), INVALID_ARGUMENT, /is a FIFO/)));

    const growth = await rssGrowthDuring(() => refused(createContainer(pod, podId, 'zero', ['true'], seccomp('/dev/zero'), 10_000), INVALID_ARGUMENT,
      /localhost_ref: \/dev\/zero is a character device/));
    console.log(`daemon RSS growth during the /dev/zero seccomp ref: ${growth.toFixed(1)} MiB`);
    assert.ok(growth < 100, `the daemon grew by ${growth.toFixed(1)} MiB reading /dev/zero`);

    // Then five more RPCs that use the file-I/O pool still answer: a create that reads a real profile,
    // status, list, and the pod's status.
    const profile = join(work, 'allow.json');
    writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW' }));
    const { container_id: id } = await createContainer(pod, podId, 'ok', ['true'], seccomp(profile), 30_000);
    await node.call('StartContainer', { container_id: id }, 30_000);
    assert.equal((await waitExited(node, id))['exit_code'], 0);
    await node.call('ContainerStatus', { container_id: id }, 10_000);
    await node.call('ListContainers', {}, 10_000);
    await node.call('PodSandboxStatus', { pod_sandbox_id: podId }, 10_000);
    await node.call('ListPodSandbox', {}, 10_000);
    assert.equal(await containerCount(), countBefore + 1, 'only the good container exists');
  } finally {
    await removePod(node, podId);
  }
});

test('a secret file as localhost_ref is refused without a byte of it, in the answer or the daemon log', async () => {
  const { pod, podId } = await runPod();
  try {
    const secret = readFileSync('/etc/shadow', 'utf8');
    const msg = await refused(createContainer(pod, podId, 'shadow', ['true'], seccomp('/etc/shadow')), INVALID_ARGUMENT, /localhost_ref: \/etc\/shadow is not valid JSON/);
    const firstLine = secret.split('\n')[0]!;
    for (const piece of [firstLine.slice(0, 8), firstLine.split(':')[1] ?? '']) {
      if (piece.length < 2) continue;
      assert.ok(!msg.includes(piece), 'the answer quotes /etc/shadow');
      assert.ok(!node.daemon.logs().includes(piece), 'the daemon log quotes /etc/shadow');
    }
  } finally {
    await removePod(node, podId);
  }
});

test('RunPodSandbox: injected or oversized fields are INVALID_ARGUMENT naming the field, and nothing is made', async () => {
  const big = 'x'.repeat(200_000);
  const cases: [string, Record<string, any>, RegExp][] = [
    ['hostname with a newline', { hostname: 'a\nb' }, /config\.hostname "a\\nb" contains a newline/],
    ['300-character hostname', { hostname: 'h'.repeat(300) }, /config\.hostname .* is 300 bytes; a hostname is at most 64/],
    ['hostname label of 64', { hostname: 'h'.repeat(64) }, /config\.hostname .*label of 64 characters/],
    ['DNS server line injection', { dns_config: { servers: ['10.0.0.1\nnameserver 6.6.6.6'] } }, /config\.dns_config\.servers\[0\] .*newline/],
    ['DNS server not an IP', { dns_config: { servers: ['evil.example'] } }, /config\.dns_config\.servers\[0\] "evil\.example" is not an IP address/],
    ['DNS search injection', { dns_config: { searches: ['svc.local\noptions debug'] } }, /config\.dns_config\.searches\[0\]/],
    ['DNS option injection', { dns_config: { options: ['ndots:5\nnameserver 6.6.6.6'] } }, /config\.dns_config\.options\[0\]/],
    ['log_directory relative', { log_directory: 'logs/x' }, /config\.log_directory "logs\/x" is not an absolute path/],
    ['labels + annotations over 256 KiB', { labels: { a: 'x'.repeat(200_000) }, annotations: { b: 'y'.repeat(100_000) } }, /config\.labels and config\.annotations hold 300002 bytes together; at most 262144 .*max_labels_annotations_bytes/],
    ['pod cpu_quota -2', { linux: { security_context: { namespace_options: {} }, resources: { cpu_quota: '-2' } } }, /config\.linux\.resources\.cpu_quota -2/],
    ['userns mapping host 0', { linux: { security_context: { namespace_options: { userns_options: podUserns(0) } } } }, /uids\[0\]\.host_id is 0: the mapping would include host ID 0, making the pod's root the host's root/],
  ];
  const metaCases: [string, Record<string, string>, RegExp][] = [
    ['name with "/"', { name: 'a/b' }, /config\.metadata\.name "a\/b" contains "\/"/],
    ['namespace with "/"', { namespace: '../etc' }, /config\.metadata\.namespace "\.\.\/etc" contains "\/"/],
    ['uid with NUL', { uid: 'u\0x' }, /config\.metadata\.uid .*NUL byte/],
    ['200 KB name (was spawn E2BIG)', { name: big }, /config\.metadata\.name is 200000 bytes long; at most 253/],
    ['200 KB namespace', { namespace: big }, /config\.metadata\.namespace is 200000 bytes long/],
  ];
  const podsBefore = (await node.call<{ items: unknown[] }>('ListPodSandbox', {})).items.length;
  const dirsBefore = readdirSync(join(node.daemon.state, 'pods')).length;
  for (const [what, extra, pattern] of cases) {
    await refused(node.call('RunPodSandbox', { config: podConfig(node, { hostname: 'ok', ...extra }) }, 30_000), INVALID_ARGUMENT, pattern).catch((e: Error) => { throw new Error(`${what}: ${e.message}`); });
  }
  for (const [what, meta, pattern] of metaCases) {
    const cfg = podConfig(node, { hostname: 'ok' });
    cfg['metadata'] = { ...cfg['metadata'], ...meta };
    cfg['log_directory'] = join(node.logDir, 'meta');
    await refused(node.call('RunPodSandbox', { config: cfg }, 30_000), INVALID_ARGUMENT, pattern).catch((e: Error) => { throw new Error(`${what}: ${e.message}`); });
  }
  assert.equal((await node.call<{ items: unknown[] }>('ListPodSandbox', {})).items.length, podsBefore);
  assert.equal(readdirSync(join(node.daemon.state, 'pods')).length, dirsBefore, 'a refused pod left a run dir');
  assert.ok(!node.daemon.logs().includes('spawn E2BIG'));
});

test('CreateContainer: escaping log paths, unsafe mounts and kernel-refused resources are INVALID_ARGUMENT before anything exists', async () => {
  const { pod, podId } = await runPod();
  try {
    const logDir = pod['log_directory'] as string;
    const outside = join(work, 'outside');
    mkdirSync(outside);
    mkdirSync(logDir, { recursive: true });
    symlinkSync(outside, join(logDir, 'linked'));
    const hostDir = join(work, 'hostdir');
    mkdirSync(hostDir);
    const cases: [string, Record<string, any>, RegExp][] = [
      ['log_path with ..', { log_path: '../../../x/x.log' }, /config\.log_path "\.\.\/\.\.\/\.\.\/x\/x\.log" contains "\.\."/],
      ['absolute log_path', { log_path: join(outside, 'abs.log') }, /config\.log_path ".*abs\.log" is absolute/],
      ['log_path through a symlinked parent', { log_path: 'linked/0.log' }, /config\.log_path: .*linked is a symbolic link; the log file must stay inside the pod's log_directory/],
      ['mount over /proc', { mounts: [{ container_path: '/proc', host_path: hostDir }] }, /config\.mounts\[0\]\.container_path "\/proc": \/proc is a filesystem the runtime mounts itself/],
      ['mount over /dev', { mounts: [{ container_path: '/dev', host_path: hostDir }] }, /config\.mounts\[0\]\.container_path "\/dev"/],
      ['mount over /sys', { mounts: [{ container_path: '/sys', host_path: hostDir }] }, /config\.mounts\[0\]\.container_path "\/sys": .*only the host's \/sys may replace it/],
      ['mount over /dev/pts', { mounts: [{ container_path: '/dev/pts', host_path: hostDir }] }, /config\.mounts\[0\]\.container_path "\/dev\/pts"/],
      ['mount over /proc/sys', { mounts: [{ container_path: '/proc/sys', host_path: hostDir }] }, /\/proc\/sys is inside procfs/],
      ['relative host_path', { mounts: [{ container_path: '/data', host_path: 'hostdir' }] }, /config\.mounts\[0\]\.host_path "hostdir" is not an absolute path/],
      ['missing host_path', { mounts: [{ container_path: '/data', host_path: '' }] }, /config\.mounts\[0\]\.host_path is empty/],
      ['cpu_period 1', { linux: { resources: { cpu_period: '1' } } }, /config\.linux\.resources\.cpu_period 1 is outside 1000\.\.1000000/],
      ['cpuset_cpus 0-99999', { linux: { resources: { cpuset_cpus: '0-99999' } } }, /config\.linux\.resources\.cpuset_cpus "0-99999" names 99999, but this node's highest is \d+/],
      ['cpu_quota -2', { linux: { resources: { cpu_quota: '-2' } } }, /config\.linux\.resources\.cpu_quota -2 must be -1 \(no limit\) or at least 1000/],
      ['name with "/"', { metadata: { name: 'a/b', attempt: 0 } }, /config\.metadata\.name "a\/b" contains "\/"/],
      ['labels + annotations over 256 KiB', { annotations: { a: 'x'.repeat(262_145) } }, /config\.labels and config\.annotations hold 262146 bytes/],
    ];
    const countBefore = await containerCount();
    for (const [what, extra, pattern] of cases) {
      await refused(createContainer(pod, podId, 'bad', ['true'], extra), INVALID_ARGUMENT, pattern).catch((e: Error) => { throw new Error(`${what}: ${e.message}`); });
    }
    // A host path that is not a device is NOT_FOUND, naming the field.
    await refused(createContainer(pod, podId, 'bad', ['true'], { devices: [{ host_path: '/etc/hostname', container_path: '/dev/x', permissions: 'rw' }] }), NOT_FOUND,
      /config\.devices\[0\]\.host_path: "\/etc\/hostname" is not a device node on this host/);
    assert.equal(await containerCount(), countBefore);
    assert.deepEqual(readdirSync(join(node.daemon.state, 'containers')), [], 'a refused container left a bundle');
    assert.deepEqual(readdirSync(outside), [], 'a file was created outside log_directory');
    assert.equal(existsSync(join(work, 'x')), false);
    assert.equal(existsSync(join(node.logDir, 'x')), false);
    assert.deepEqual(readdirSync(hostDir), [], 'the runtime made mount points (pts, shm, mqueue) in a host dir');

    // UpdateContainerResources checks the same fields before the runtime is called.
    const { container_id: id } = await createContainer(pod, podId, 'upd', ['sleep', '60']);
    await node.call('StartContainer', { container_id: id });
    await refused(node.call('UpdateContainerResources', { container_id: id, linux: { cpu_period: '1' } }), INVALID_ARGUMENT, /linux\.cpu_period 1 is outside/);
    await refused(node.call('UpdateContainerResources', { container_id: id, linux: { cpuset_cpus: '0-99999' } }), INVALID_ARGUMENT, /linux\.cpuset_cpus "0-99999"/);
    await node.call('UpdateContainerResources', { container_id: id, linux: { cpu_period: '100000', cpu_quota: '50000' } });
  } finally {
    await removePod(node, podId);
  }
});

test('a container asking for PID mode POD in a pod without a shared PID namespace is INVALID_ARGUMENT, not INTERNAL', async () => {
  const { pod, podId } = await runPod({ linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } } });
  try {
    await refused(createContainer(pod, podId, 'pidpod', ['true']), INVALID_ARGUMENT, /PID mode is POD \(the default\), but its pod shares no PID namespace/);
    assert.deepEqual(readdirSync(join(node.daemon.state, 'containers')), []);
  } finally {
    await removePod(node, podId);
  }
});

/** A runc of 1.2 or newer (idmapped mounts, the version crius supports), or why there is none. */
function modernRunc(): string | undefined {
  if (!existsSync(RUNC)) return undefined;
  const m = /runc version (\d+)\.(\d+)/.exec(execFileSync(RUNC, ['--version'], { encoding: 'utf8' }));
  return m && (Number(m[1]) > 1 || Number(m[2]) >= 2) ? RUNC : undefined;
}

for (const handler of ['crun', 'runc']) {
  test(`devices work inside a ${handler} container: host /dev/null as /dev/mynull, /dev/fuse; a privileged container sees the host's /dev`, async (t) => {
    if (handler === 'runc' && !modernRunc()) { t.skip(`no runc >= 1.2 at ${RUNC}`); return; }
    if (!existsSync('/dev/fuse')) { t.skip('this host has no /dev/fuse'); return; }
    const { pod, podId } = await runPod({}, handler);
    try {
      // (`<>` would create a plain file where no node exists: test -c first.)
      const script = 'echo written > /dev/mynull && stat -c "%F %t:%T" /dev/mynull && test -c /dev/fuse && exec 3<>/dev/fuse && echo fuse-opened';
      const { container_id: id } = await createContainer(pod, podId, 'dev', ['sh', '-c', script], {
        devices: [{ host_path: '/dev/null', container_path: '/dev/mynull', permissions: 'rw' }, { host_path: '/dev/fuse', container_path: '/dev/fuse', permissions: 'rwm' }],
      });
      await node.call('StartContainer', { container_id: id });
      const st = await waitExited(node, id);
      const log = logContent(join(pod['log_directory'], 'dev.log'));
      assert.equal(st['exit_code'], 0, log);
      assert.match(log, /character special file 1:3/);
      assert.match(log, /fuse-opened/);
      // Without the device there is no node, and one made by hand cannot be opened (the device cgroup).
      const { container_id: id2 } = await createContainer(pod, podId, 'nodev', ['sh', '-c', 'test -c /dev/fuse && echo has-fuse; mknod /tmp/f c 10 229 && exec 3<>/tmp/f && echo fuse-opened']);
      await node.call('StartContainer', { container_id: id2 });
      assert.notEqual((await waitExited(node, id2))['exit_code'], 0);
      assert.doesNotMatch(logContent(join(pod['log_directory'], 'nodev.log')), /has-fuse|fuse-opened/);
    } finally {
      await removePod(node, podId);
    }

    // Privileged: every host device (here a few that are in no runtime's default set).
    const present = ['/dev/fuse', '/dev/loop-control', '/dev/kmsg'].filter((p) => existsSync(p));
    const priv = await runPod({ linux: { security_context: { privileged: true, namespace_options: {} } } }, handler);
    try {
      const script = `${present.map((p) => `test -c ${p}`).join(' && ')} && echo all-present; ls /dev | wc -l`;
      const { container_id: id } = await createContainer(priv.pod, priv.podId, 'priv', ['sh', '-c', script], { linux: { security_context: { privileged: true, namespace_options: {} } } });
      await node.call('StartContainer', { container_id: id });
      const st = await waitExited(node, id);
      const log = logContent(join(priv.pod['log_directory'], 'priv.log'));
      assert.equal(st['exit_code'], 0, log);
      assert.match(log, /all-present/);
    } finally {
      await removePod(node, priv.podId);
    }
  });
}

test('CreateContainer cannot claim a privileged sandbox: the pod\'s recorded config decides, not the request\'s copy', async () => {
  const { pod, podId } = await runPod();
  try {
    const claimed = { ...pod, linux: { ...pod['linux'], security_context: { ...pod['linux']?.security_context, privileged: true } } };
    const cfg = { ...containerConfig(node, 'sneaky', ['true']), linux: { security_context: { privileged: true } } };
    await refused(node.call('CreateContainer', { pod_sandbox_id: podId, config: cfg, sandbox_config: claimed }), INVALID_ARGUMENT, /is privileged but its pod sandbox is not/);
    assert.equal(await containerCount(), 0);
  } finally {
    await removePod(node, podId);
  }
});

test('after all of it a normal pod still runs and logs', async () => {
  const { pod, podId } = await runPod({ hostname: 'normal', dns_config: { servers: ['10.96.0.10'], searches: ['default.svc.cluster.local'], options: ['ndots:5'] } });
  try {
    const { container_id: id } = await createContainer(pod, podId, 'hello', ['sh', '-c', 'hostname; cat /etc/resolv.conf; echo hello'], { log_path: 'hello/0.log' });
    await node.call('StartContainer', { container_id: id });
    assert.equal((await waitExited(node, id))['exit_code'], 0);
    const log = logContent(join(pod['log_directory'], 'hello', '0.log'));
    assert.match(log, /^normal$/m);
    assert.match(log, /^nameserver 10\.96\.0\.10$/m);
    assert.match(log, /^options ndots:5$/m);
    assert.match(log, /^hello$/m);
  } finally {
    await removePod(node, podId);
  }
});
