// Image VOLUMEs as the kubelet's runtimes handle them (issue 12 items 1 and 2), on crun and runc:
// a user-namespaced pod runs an image that declares VOLUMEs; each VOLUME is filled once from the image with
// the image's owners and modes (reading the same inside a user-namespaced pod, and on disk only IDs of the
// pod's range); a CRI mount at the same path wins; the copy goes with the container. Also the identity
// the container runs as (item 9: supplemental groups policy, ContainerStatus.user).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { containerConfig, logContent, podConfig, podUserns, removePod, startCriNode, waitExited, type CriNode } from '../../helpers/cri-fixture.js';
import { busyboxEntries, makeImage, makeLayer, pushImage, type TarEntry } from '../../helpers/build-image.js';
import { waitFor } from '../../helpers/daemon.js';
import { HANDLERS } from '../../helpers/host-binaries.js';

let node: CriNode;
let volImage: string;
let groupImage: string;
let hostDir: string;
let ivImage: string;

// Three VOLUMEs holding files owned by 0, 1000 and 65534 with distinct modes; a fourth the image lacks;
// a fifth reached through a symlink; a sixth a CRI mount replaces.
const VOLUME_ENTRIES: TarEntry[] = [
  { path: 'vol/', type: 'directory' },
  { path: 'vol/root/', type: 'directory', mode: 0o750, uid: 0, gid: 0 },
  { path: 'vol/root/conf', content: 'root-file\n', mode: 0o640, uid: 0, gid: 0 },
  { path: 'vol/user/', type: 'directory', mode: 0o700, uid: 1000, gid: 1000 },
  { path: 'vol/user/data', content: 'user-file\n', mode: 0o600, uid: 1000, gid: 1000 },
  { path: 'vol/user/sub/', type: 'directory', mode: 0o755, uid: 1000, gid: 1000 },
  { path: 'vol/user/sub/link', type: 'symlink', linkname: '../data', uid: 1000, gid: 1000 },
  { path: 'vol/nobody/', type: 'directory', mode: 0o1777, uid: 65534, gid: 65534 },
  { path: 'vol/nobody/n', content: 'nobody-file\n', mode: 0o4755, uid: 65534, gid: 65534 },
  { path: 'real/', type: 'directory' },
  { path: 'real/cache/', type: 'directory', mode: 0o755, uid: 33, gid: 33 },
  { path: 'real/cache/c', content: 'via-symlink\n', uid: 33, gid: 33 },
  { path: 'var/', type: 'directory' },
  { path: 'var/cache', type: 'symlink', linkname: '/real/cache' },
  { path: 'vol/cri/', type: 'directory' },
  { path: 'vol/cri/from-image', content: 'hidden\n' },
];

const VOLUMES = { '/vol/root': {}, '/vol/user': {}, '/vol/nobody': {}, '/vol/missing': {}, '/var/cache': {}, '/vol/cri': {} };

const SCRIPT = [
  'for p in /vol/root /vol/root/conf /vol/user /vol/user/data /vol/user/sub /vol/nobody /vol/nobody/n /vol/missing /var/cache/c; do stat -c "%n %u:%g %a" $p; done',
  'echo link=$(readlink /vol/user/sub/link) $(cat /vol/user/sub/link)',
  'cat /vol/root/conf /vol/nobody/n /var/cache/c',
  'ls /vol/cri',
  'echo written > /vol/missing/w && echo wrote',
].join('; ');

function expectImageView(log: string): void {
  for (const line of [
    '/vol/root 0:0 750', '/vol/root/conf 0:0 640', '/vol/user 1000:1000 700', '/vol/user/data 1000:1000 600',
    '/vol/user/sub 1000:1000 755', '/vol/nobody 65534:65534 1777', '/vol/nobody/n 65534:65534 4755', '/vol/missing 0:0 755',
    '/var/cache/c 33:33 644',
  ]) assert.match(log, new RegExp(`^${line}$`, 'm'), `${line}\n--- log ---\n${log}`);
  assert.match(log, /^link=\.\.\/data user-file$/m);
  assert.match(log, /^root-file$/m);
  assert.match(log, /^nobody-file$/m);
  assert.match(log, /^via-symlink$/m);
  assert.match(log, /^from-cri-mount$/m, 'the CRI mount at /vol/cri wins over the image VOLUME');
  assert.doesNotMatch(log, /^from-image$/m);
  assert.match(log, /^wrote$/m);
}

/** uid:gid of every file under dir (lstat: symlinks themselves), by path relative to dir. */
function owners(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = lstatSync(p);
      out.set(p.slice(dir.length + 1), `${st.uid}:${st.gid}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

before(async () => {
  node = await startCriNode({ tag: 'iv', subnet: 121 });
  const img = makeImage([await makeLayer(busyboxEntries()), await makeLayer(VOLUME_ENTRIES)], { Cmd: ['sh'], Volumes: VOLUMES });
  await pushImage({ url: node.registry.url }, 'test/volumes', 'latest', img);
  volImage = `${node.registry.host}/test/volumes:latest`;
  // critest's test-image-predefined-group: user 1000 is listed in group 50000 in the image's /etc/group.
  const entries = busyboxEntries().map((e) => e.path === 'etc/group'
    ? { ...e, content: 'root:x:0:\nnogroup:x:65534:\nuser:x:1000:\ngroup-defined-in-image:x:50000:user\n' } : e);
  await pushImage({ url: node.registry.url }, 'test/groups', 'latest', makeImage([await makeLayer(entries)], { Cmd: ['sh'], User: '1000' }));
  groupImage = `${node.registry.host}/test/groups:latest`;
  // The image mounted as an image volume (its own ID, so RemoveImage of it is about it alone).
  await pushImage({ url: node.registry.url }, 'test/ivsrc', 'latest', makeImage([await makeLayer(busyboxEntries()), await makeLayer(VOLUME_ENTRIES)], { Cmd: ['true'] }));
  ivImage = `${node.registry.host}/test/ivsrc:latest`;
  for (const image of [node.image, volImage, groupImage, ivImage]) await node.image_call('PullImage', { image: { image } });
  hostDir = mkdtempSync('/var/tmp/crius-iv-');
  chmodSync(hostDir, 0o755);
  writeFileSync(join(hostDir, 'from-cri-mount'), 'x');
});

after(async () => {
  await node?.cleanup();
  if (hostDir) rmSync(hostDir, { recursive: true, force: true });
});

async function runToEnd(pod: Record<string, any>, podId: string, ctr: Record<string, any>): Promise<{ id: string; status: Record<string, any>; log: string }> {
  const { container_id: id } = await node.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: ctr, sandbox_config: pod });
  await node.call('StartContainer', { container_id: id });
  const status = await waitExited(node, id);
  return { id, status, log: logContent(join(pod['log_directory'], ctr['log_path'])) };
}

function volumeContainer(pod: Record<string, any>, name: string): Record<string, any> {
  const ns = pod['linux'].security_context.namespace_options;
  return containerConfig(node, name, ['sh', '-c', SCRIPT], {
    image: { image: volImage },
    mounts: [{ container_path: '/vol/cri', host_path: hostDir, readonly: true }],
    linux: { security_context: { namespace_options: ns } },
  });
}

for (const h of HANDLERS) {
  test(`${h.name}: a user-namespaced pod runs an image with VOLUMEs; owners read as in the image, on disk only the pod's range`, async (t) => {
    if (h.skip) { t.skip(h.skip); return; }
    const H = h.name === 'crun' ? 1_100_000 : 1_200_000;
    const pod = podConfig(node, { linux: { security_context: { namespace_options: { pid: 'CONTAINER', userns_options: podUserns(H) } } } });
    const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: h.name });
    try {
      const r = await runToEnd(pod, podId, volumeContainer(pod, 'vols'));
      assert.equal(r.status['exit_code'], 0, r.log);
      expectImageView(r.log);
      const volumes = join(node.daemon.root, 'containers', r.id, 'volumes');
      const seen = owners(volumes);
      assert.ok(seen.size >= 10, [...seen.keys()].join(' '));
      for (const [p, o] of seen) {
        const [uid, gid] = o.split(':').map(Number) as [number, number];
        assert.ok(uid >= H && uid < H + 65536 && gid >= H && gid < H + 65536, `${p} is owned by ${o} on disk, outside the pod's range ${H}-${H + 65535}`);
      }
      assert.ok([...seen.values()].includes(`${H + 65534}:${H + 65534}`) && [...seen.values()].includes(`${H + 1000}:${H + 1000}`));
      // The copy belongs to the container: RemoveContainer takes it away.
      await node.call('RemoveContainer', { container_id: r.id });
      assert.equal(existsSync(join(node.daemon.root, 'containers', r.id)), false);
    } finally {
      await removePod(node, podId);
    }
  });

  test(`${h.name}: without a user namespace, VOLUMEs hold the image's content with its owners, once per container`, async (t) => {
    if (h.skip) { t.skip(h.skip); return; }
    const pod = podConfig(node);
    const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: h.name });
    try {
      const r = await runToEnd(pod, podId, volumeContainer(pod, 'plain'));
      assert.equal(r.status['exit_code'], 0, r.log);
      expectImageView(r.log);
      const volumes = join(node.daemon.root, 'containers', r.id, 'volumes');
      assert.ok([...owners(volumes).values()].includes('65534:65534'));
      // The copy is the container's data: a daemon restart keeps it (and what the container wrote).
      await node.restartDaemon('term');
      assert.ok([...owners(volumes).keys()].some((p) => p.endsWith('/w')), 'the file the container wrote into /vol/missing is still there');
      // What the container wrote stays in its volume (not copied again): a second container of the same
      // image gets its own fresh copy without it.
      const second = await runToEnd(pod, podId, containerConfig(node, 'second', ['sh', '-c', 'ls /vol/missing | wc -l; cat /vol/root/conf'], { image: { image: volImage } }));
      assert.match(second.log, /^0$/m);
      assert.match(second.log, /^root-file$/m);
      assert.ok(readdirSync(volumes).length > 0 && existsSync(join(node.daemon.root, 'containers', second.id, 'volumes')));
    } finally {
      await removePod(node, podId);
    }
  });

  test(`${h.name}: supplemental groups policy Merge and Strict; ContainerStatus.user shows the identity in effect`, async (t) => {
    if (h.skip) { t.skip(h.skip); return; }
    for (const userns of [false, true]) {
      const ns = userns ? { pid: 'CONTAINER', userns_options: podUserns(h.name === 'crun' ? 1_300_000 : 1_400_000) } : {};
      const pod = podConfig(node, { linux: { security_context: { namespace_options: ns } } });
      const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: h.name });
      try {
        for (const [policy, groups] of [['Merge', ['1000', '1234', '50000']], ['Strict', ['1000', '1234']]] as const) {
          const ctr = containerConfig(node, `g-${policy}`, ['sh', '-c', 'id -G; sleep 60'], {
            image: { image: groupImage },
            linux: { security_context: { namespace_options: ns, run_as_user: { value: '1000' }, supplemental_groups: ['1234'], supplemental_groups_policy: policy } },
          });
          const { container_id: id } = await node.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: ctr, sandbox_config: pod });
          const created = await node.call<{ status: Record<string, any> }>('ContainerStatus', { container_id: id });
          assert.deepEqual(created.status['user'], { linux: { uid: '1000', gid: '1000', supplemental_groups: groups } }, 'from the spec before it runs');
          await node.call('StartContainer', { container_id: id });
          const logPath = join(pod['log_directory'], ctr['log_path']);
          await waitFor(() => logContent(logPath).includes('\n'), 20_000, 'id -G output');
          assert.equal(logContent(logPath).trim(), groups.join(' '), `${policy} userns=${userns}`);
          const running = await node.call<{ status: Record<string, any> }>('ContainerStatus', { container_id: id });
          assert.equal(running.status['state'], 'CONTAINER_RUNNING');
          assert.deepEqual(running.status['user'], { linux: { uid: '1000', gid: '1000', supplemental_groups: groups } }, `from /proc, ${policy} userns=${userns}`);
          await node.call('RemoveContainer', { container_id: id });
        }
      } finally {
        await removePod(node, podId);
      }
    }
  });
}

for (const h of HANDLERS) {
  test(`${h.name}: image volumes (KEP-4639): read-only, noexec, sub path, the pod's mapping; RemoveImage refused while mounted`, async (t) => {
    if (h.skip) { t.skip(h.skip); return; }
    for (const userns of [true, false]) {
      const ns = userns ? { pid: 'CONTAINER', userns_options: podUserns(h.name === 'crun' ? 1_700_000 : 1_800_000) } : {};
      const pod = podConfig(node, { linux: { security_context: { namespace_options: ns } } });
      const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: h.name });
      try {
        const script = [
          'stat -c "%n %u:%g %a" /iv/vol/root/conf /iv/vol/user/data /iv/vol/nobody/n /sub/n',
          'cat /iv/vol/user/data /sub/n',
          'touch /iv/x 2>/dev/null && echo writable || echo read-only',
          '/iv/bin/busybox true 2>/dev/null && echo exec-ok || echo noexec',
          'grep -E " /(iv|sub) " /proc/self/mounts',
        ].join('; ');
        const ctr = containerConfig(node, 'iv', ['sh', '-c', script], {
          mounts: [
            { container_path: '/iv', host_path: '', image: { image: ivImage } },
            { container_path: '/sub', host_path: '', image: { image: ivImage }, image_sub_path: 'vol/nobody' },
          ],
          linux: { security_context: { namespace_options: ns } },
        });
        const r = await runToEnd(pod, podId, ctr);
        assert.equal(r.status['exit_code'], 0, r.log);
        for (const line of ['/iv/vol/root/conf 0:0 640', '/iv/vol/user/data 1000:1000 600', '/iv/vol/nobody/n 65534:65534 4755', '/sub/n 65534:65534 4755']) {
          assert.match(r.log, new RegExp(`^${line}$`, 'm'), `userns=${userns}: ${line}\n${r.log}`);
        }
        assert.match(r.log, /^user-file\nnobody-file$/m);
        assert.match(r.log, /^read-only$/m);
        assert.match(r.log, /^noexec$/m);
        for (const dest of ['/iv', '/sub']) assert.match(r.log, new RegExp(` ${dest} \\S+ ro,[^ ]*nosuid,nodev,noexec`), r.log);
        // While a container (even an exited one) mounts it, the image cannot be removed.
        await assert.rejects(node.image_call('RemoveImage', { image: { image: ivImage } }), (e: { code: number; details: string }) => e.code === 9);
        await node.call('RemoveContainer', { container_id: r.id });
        assert.equal(existsSync(join(node.daemon.root, 'containers', r.id)), false, 'the image volume mount and dirs go with the container');
        // Refusals, each naming what is wrong.
        const refuse = async (mount: Record<string, any>, code: number, re: RegExp): Promise<void> => {
          await assert.rejects(node.call('CreateContainer', { pod_sandbox_id: podId, sandbox_config: pod, config: containerConfig(node, `bad${Math.random().toString(36).slice(2, 7)}`, ['true'], { mounts: [mount], linux: { security_context: { namespace_options: ns } } }) }),
            (e: { code: number; details: string }) => { assert.equal(e.code, code, e.details); assert.match(e.details, re); return true; });
        };
        await refuse({ container_path: '/x', host_path: '', image: { image: ivImage }, image_sub_path: 'no/such/dir' }, 3, /image_sub_path "no\/such\/dir" does not exist/);
        await refuse({ container_path: '/x', host_path: '', image: { image: ivImage }, image_sub_path: '../etc' }, 3, /must be a relative path inside the image/);
        await refuse({ container_path: '/x', host_path: '', image: { image: `${node.registry.host}/test/not-pulled:1` } }, 5, /test\/not-pulled:1/);
        assert.deepEqual(readdirSync(join(node.daemon.root, 'containers')).filter((d) => d !== 'x'), [], 'refused creates leave nothing');
      } finally {
        await removePod(node, podId);
      }
    }
    // No container uses it any more: it can go, and be pulled again for the next handler.
    await node.image_call('RemoveImage', { image: { image: ivImage } });
    await node.image_call('PullImage', { image: { image: ivImage } });
  });
}

test('Status reports the supplemental groups policy feature', async () => {
  const s = await node.call<{ features: Record<string, any>; info: Record<string, string> }>('Status', { verbose: true });
  assert.equal(s.features['supplemental_groups_policy'], true);
  assert.equal(JSON.parse(s.info['config']!).features.imageVolumes, true);
});
