// KEP-127 end to end over CRI: a hostUsers:false pod with the kubelet's mappings, idmapped volumes
// (hostPath on the root fs, a tmpfs like secrets/configMaps, an emptyDir-like dir), with crun and runc.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, chownSync, chmodSync, statSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { containerConfig, logContent, podConfig, podUserns, removePod, startCriNode, waitExited, type CriNode } from '../../helpers/cri-fixture.js';
import { oldRuncPath } from '../../helpers/old-runc.js';

let node: CriNode;
let vol: string;
let runc11: string | undefined;
let runc11Reason = '';

before(async () => {
  try {
    runc11 = await oldRuncPath();
  } catch (err) {
    runc11Reason = (err as Error).message;
  }
  node = await startCriNode({
    tag: 'un', subnet: 92,
    extraConfig: runc11 ? `[runtimes.runc11]\npath = "${runc11}"\n` : '',
  });
  // Volume sources as the kubelet would have them: world-traversable parents (the pod's root is an
  // unprivileged host uid), a hostPath on the root fs, a tmpfs (secret/configMap), an emptyDir dir.
  vol = mkdtempSync('/var/tmp/crius-vol-');
  chmodSync(vol, 0o711);
  mkdirSync(join(vol, 'host'));
  writeFileSync(join(vol, 'host', 'owned-by-1000'), 'x');
  chownSync(join(vol, 'host', 'owned-by-1000'), 1000, 1000);
  mkdirSync(join(vol, 'secret'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', join(vol, 'secret')]);
  writeFileSync(join(vol, 'secret', 'token'), 'secret');
  mkdirSync(join(vol, 'empty'));
});

after(async () => {
  await node?.cleanup();
  if (vol) {
    execFileSync('umount', ['-l', join(vol, 'secret')], { stdio: 'ignore' });
    rmSync(vol, { recursive: true, force: true });
  }
});

function mounts(userns: Record<string, any>): Record<string, any>[] {
  const m = { uidMappings: userns['uids'], gidMappings: userns['gids'] };
  return [
    { container_path: '/data', host_path: join(vol, 'host'), ...m },
    { container_path: '/secret', host_path: join(vol, 'secret'), readonly: true, ...m },
    { container_path: '/empty', host_path: join(vol, 'empty'), ...m },
  ];
}

function usernsPod(hostId: number, sysctls: Record<string, string> = {}): Record<string, any> {
  const userns = podUserns(hostId);
  return podConfig(node, { linux: { sysctls, security_context: { namespace_options: { pid: 'CONTAINER', userns_options: userns } } } });
}

function usernsContainer(name: string, pod: Record<string, any>, script: string, extra: Record<string, any> = {}): Record<string, any> {
  const userns = pod['linux'].security_context.namespace_options.userns_options;
  return containerConfig(node, name, ['sh', '-c', script], {
    mounts: mounts(userns),
    linux: { security_context: { namespace_options: { pid: 'CONTAINER', userns_options: userns }, ...(extra['security_context'] ?? {}) } },
  });
}

async function runToEnd(pod: Record<string, any>, podId: string, ctr: Record<string, any>): Promise<{ status: Record<string, any>; log: string }> {
  const { container_id: id } = await node.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: ctr, sandbox_config: pod });
  await node.call('StartContainer', { container_id: id });
  const status = await waitExited(node, id);
  return { status, log: logContent(join(pod['log_directory'], ctr['log_path'])) };
}

for (const handler of ['crun', 'runc']) {
  test(`${handler}: a POD-mode pod gets the kubelet's mapping, idmapped volumes and a root-owned rootfs`, async () => {
    await node.image_call('PullImage', { image: { image: node.image } });
    const H = handler === 'crun' ? 1_000_000 : 2_000_000;
    // Sysctls of the pod's own ipc and net namespaces; ping_group_range is in the pod's gids.
    const pod = usernsPod(H, { 'fs.mqueue.msg_max': '42', 'kernel.shm_rmid_forced': '1', 'net.ipv4.ping_group_range': '0 1000' });
    const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: handler });
    try {
      const marker = `root-${handler}`;
      const script = [
        'cat /proc/self/uid_map', 'cat /proc/self/gid_map',
        'echo owned=$(stat -c %u:%g /data/owned-by-1000)',
        `touch /data/${marker} && echo touched`,
        'echo rootfs=$(stat -c %u:%g /)',
        'echo secret=$(stat -c %u:%g /secret/token) $(cat /secret/token)',
        'echo empty=$(stat -c %u:%g /empty)',
        'echo hosts=$(stat -c %u:%g /etc/hosts)',
        'echo userns=$(readlink /proc/self/ns/user)',
        'echo shm=$(stat -c %u:%g:%a /dev/shm)',
        'echo sysctls=$(cat /proc/sys/fs/mqueue/msg_max /proc/sys/kernel/shm_rmid_forced /proc/sys/net/ipv4/ping_group_range)',
      ].join('; ');
      const a = await runToEnd(pod, podId, usernsContainer('a', pod, script));
      assert.equal(a.status['exit_code'], 0, a.log);
      assert.match(a.log, new RegExp(`^\\s+0\\s+${H}\\s+65536$`, 'm'));
      assert.match(a.log, /owned=1000:1000/);
      assert.match(a.log, /touched/);
      const st = statSync(join(vol, 'host', marker));
      assert.equal(`${st.uid}:${st.gid}`, '0:0', 'what the pod root writes lands on disk as 0:0');
      assert.match(a.log, /rootfs=0:0/);
      assert.match(a.log, /secret=0:0 secret/);
      assert.match(a.log, /empty=0:0/);
      assert.match(a.log, /hosts=0:0/);
      assert.match(a.log, /shm=0:0:1777/, 'the pod\'s own /dev/shm tmpfs, owned by its root');
      assert.match(a.log, /sysctls=42 1 0\s+1000$/m);
      // A second container of the same pod shares the user namespace.
      const b = await runToEnd(pod, podId, usernsContainer('b', pod, 'echo userns=$(readlink /proc/self/ns/user)'));
      const nsA = /userns=(\S+)/.exec(a.log)?.[1];
      assert.ok(nsA);
      assert.match(b.log, new RegExp(`userns=${nsA.replace(/[[\]]/g, '\\$&')}`));
      // A non-root user in the pod can reopen /dev/stderr (stdio pipes belong to its host uid).
      const c = await runToEnd(pod, podId, usernsContainer('c', pod, 'id -u; echo via-dev-stderr > /dev/stderr', { security_context: { run_as_user: { value: '1000' } } }));
      assert.equal(c.status['exit_code'], 0, c.log);
      assert.match(c.log, /^1000$/m);
      assert.match(c.log, /via-dev-stderr/);
    } finally {
      await removePod(node, podId);
    }
  });
}

test('a second pod with another host range sees the same volume identically', async () => {
  await node.image_call('PullImage', { image: { image: node.image } });
  for (const H of [3_000_000, 4_000_000]) {
    const pod = usernsPod(H);
    const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: 'crun' });
    try {
      const r = await runToEnd(pod, podId, usernsContainer('v', pod, 'stat -c %u:%g /data/owned-by-1000'));
      assert.match(r.log, /^1000:1000$/m);
    } finally {
      await removePod(node, podId);
    }
  }
});

test('the user namespace rules reject bad mappings with InvalidArgument', async () => {
  const bad: [string, Record<string, any>][] = [
    ['two mappings', { mode: 'POD', uids: [{ container_id: 0, host_id: 1000, length: 100000 }, { container_id: 0, host_id: 2000, length: 100000 }], gids: [{ container_id: 0, host_id: 1000, length: 100000 }] }],
    ['container ID 0 unmapped', { mode: 'POD', uids: [{ container_id: 1, host_id: 1000, length: 100000 }], gids: [{ container_id: 1, host_id: 1000, length: 100000 }] }],
    ['mode CONTAINER', { mode: 'CONTAINER' }],
    ['mode TARGET', { mode: 'TARGET' }],
    ['NODE with mappings', { mode: 'NODE', uids: [{ container_id: 0, host_id: 1000, length: 10 }], gids: [] }],
    ['length 0', { mode: 'POD', uids: [{ container_id: 0, host_id: 1000, length: 0 }], gids: [{ container_id: 0, host_id: 1000, length: 0 }] }],
    ['past the last ID', { mode: 'POD', uids: [{ container_id: 0, host_id: 4294901760, length: 65536 }], gids: [{ container_id: 0, host_id: 4294901760, length: 65536 }] }],
  ];
  for (const [what, userns] of bad) {
    const pod = podConfig(node, { linux: { security_context: { namespace_options: { pid: 'CONTAINER', userns_options: userns } } } });
    await assert.rejects(node.call('RunPodSandbox', { config: pod }), (e: { code: number; details: string }) => {
      assert.equal(e.code, 3, `${what}: ${e.details}`);
      assert.match(e.details, /userns_options/, what);
      return true;
    }, what);
  }
  // critest's mapping (not 65536-aligned) is accepted, and NODE mode without mappings means the host's.
  const ok = podConfig(node, { linux: { security_context: { namespace_options: { pid: 'CONTAINER', userns_options: { mode: 'POD', uids: [{ container_id: 0, host_id: 1000, length: 100000 }], gids: [{ container_id: 0, host_id: 1000, length: 100000 }] } } } } });
  const { pod_sandbox_id: okId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: ok });
  try {
    const r = await runToEnd(ok, okId, containerConfig(node, 'm', ['cat', '/proc/self/uid_map'], { linux: { security_context: { namespace_options: ok['linux'].security_context.namespace_options } } }));
    assert.match(r.log, /\s+0\s+1000\s+100000\n/);
    // A container whose userns options differ from its pod's is refused, naming both.
    await assert.rejects(node.call('CreateContainer', { pod_sandbox_id: okId, sandbox_config: ok, config: containerConfig(node, 'x', ['true'], { linux: { security_context: { namespace_options: { pid: 'CONTAINER', userns_options: podUserns(5000) } } } }) }),
      (e: { code: number; details: string }) => e.code === 3 && /different|differ/.test(e.details));
  } finally {
    await removePod(node, okId);
  }
  const nodeMode = podConfig(node, { linux: { security_context: { namespace_options: { pid: 'CONTAINER', userns_options: { mode: 'NODE' } } } } });
  const { pod_sandbox_id: nodeId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: nodeMode });
  try {
    const r = await runToEnd(nodeMode, nodeId, containerConfig(node, 'n', ['cat', '/proc/self/uid_map'], { linux: { security_context: { namespace_options: nodeMode['linux'].security_context.namespace_options } } }));
    assert.equal(r.log.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' ')).join('\n'), readFileSync('/proc/self/uid_map', 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/).join(' ')).join('\n'));
  } finally {
    await removePod(node, nodeId);
  }
});

test('runc 1.1 (no idmap) fails CreateContainer naming the handler, binary, version and fix; nothing is left', async (t) => {
  if (!runc11) { t.skip(`runc 1.1 not available: ${runc11Reason}`); return; }
  await node.image_call('PullImage', { image: { image: node.image } });
  const pod = usernsPod(5_000_000);
  const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: 'runc11' });
  try {
    const before = readdirSync(join(node.daemon.state, 'containers')).length;
    await assert.rejects(node.call('CreateContainer', { pod_sandbox_id: podId, config: usernsContainer('old', pod, 'true'), sandbox_config: pod }), (e: { code: number; details: string }) => {
      assert.equal(e.code, 9, e.details);
      assert.match(e.details, /runc11/);
      assert.match(e.details, new RegExp(runc11!.replace(/[/.]/g, '\\$&')));
      assert.match(e.details, /1\.1\.\d+/);
      assert.match(e.details, /mountExtensions\.idmap/);
      assert.match(e.details, /crun >= 1\.9 or runc >= 1\.2/);
      return true;
    });
    const list = await node.call<{ containers: unknown[] }>('ListContainers', { filter: { pod_sandbox_id: podId } });
    assert.equal(list.containers.length, 0);
    assert.equal(readdirSync(join(node.daemon.state, 'containers')).length, before);
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(join(node.daemon.state, 'containers')), 'no rootfs mount was left');
  } finally {
    await removePod(node, podId);
  }
});
