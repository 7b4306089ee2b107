// The specs spec/ builds, run by the real crun and runc: a user-namespaced container joining pinned
// namespaces, with idmapped volumes and the runtime-made files mapped. Checks what KEP-127 promises:
// uid_map is the pod's mapping, a 1000-owned file reads as 1000 inside, what the pod's root creates
// lands on disk as 0, another pod with another host range sees the same volume the same way, and the
// RuntimeDefault seccomp profile refuses namespace creation.
import { CRUN, RUNC } from '../../helpers/host-binaries.js';
import { pinUsernsPodNamespaces } from '../../../src/pod/namespaces.js';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, statSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../src/common/exec.js';
import { parseFeatures } from '../../../src/oci/features.js';
import { buildContainerSpec, buildSandboxSpec } from '../../../src/spec/build.js';
import { capabilitiesFromMask } from '../../../src/spec/defaults.js';
import { checkIdmapSupport, handlerCapabilities } from '../../../src/spec/idmap-check.js';
import type { Spec } from '../../../src/spec/oci-types.js';
import type { IDMapping, NamespacePaths } from '../../../src/spec/types.js';

const HANDLERS = [
  { name: 'crun', path: CRUN },
  { name: 'runc', path: RUNC },
];
const BUSYBOX = '/bin/busybox';

const missing = [BUSYBOX, '/usr/bin/unshare', ...HANDLERS.map((h) => h.path)].filter((p) => !existsSync(p));
const skipReason = process.getuid?.() !== 0 ? 'needs root' : missing.length > 0 ? `missing ${missing.join(', ')}` : undefined;

const work = mkdtempSync(join(tmpdir(), 'crius-spec-it-'));
// The pod's root (an unprivileged host uid) must traverse to the rootfs and volumes: 0711, not 0700.
chmodSync(work, 0o711);
const mounted: string[] = [];
const cgroups: string[] = [];

after(async () => {
  for (const m of mounted.reverse()) await run('umount', ['-l', m]).catch(() => undefined);
  // The runtimes remove their cgroups on delete; this only catches leftovers (cgroup dirs go with rmdir).
  for (const c of cgroups) {
    for (const ctrl of ['memory', 'cpu', 'cpuacct', 'pids', 'devices', 'freezer', 'blkio', 'cpuset', 'systemd', 'unified']) {
      try {
        rmdirSync(join('/sys/fs/cgroup', ctrl, c));
      } catch {
        // absent: nothing to clean
      }
    }
  }
  rmSync(work, { recursive: true, force: true });
});

function ownMemoryCgroup(): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes('memory'));
  return line?.split(':')[2] ?? '/';
}

function makeRootfs(dir: string): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  for (const d of ['etc', 'proc', 'sys', 'dev', 'tmp', 'data', 'imgvol']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  for (const a of ['sh', 'cat', 'stat', 'touch', 'id', 'unshare', 'echo']) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\napp:x:1000:\n');
  for (const f of ['hostname', 'hosts', 'resolv.conf']) writeFileSync(join(dir, 'etc', f), '');
}

/** Pins a user namespace with the mapping and net/ipc/uts namespaces owned by it (cri-runtime-notes 2.3). */
async function pinNamespaces(dir: string, hostId: number): Promise<Record<'user' | 'net' | 'ipc' | 'uts', string>> {
  mkdirSync(dir, { recursive: true });
  await run('mount', ['--bind', dir, dir]);
  mounted.push(dir);
  await run('mount', ['--make-private', dir]);
  const p = { user: join(dir, 'user'), net: join(dir, 'net'), ipc: join(dir, 'ipc'), uts: join(dir, 'uts') };
  for (const f of Object.values(p)) writeFileSync(f, '');
  const range = { containerId: 0, hostId, length: 65536 };
  await pinUsernsPodNamespaces(p, { uid: range, gid: range });
  for (const f of Object.values(p)) mounted.push(f);
  return p;
}

const pods = new Map<number, Awaited<ReturnType<typeof pinNamespaces>>>();
const volume = join(work, 'volume');
const rootfs = join(work, 'rootfs');

async function setup(): Promise<void> {
  if (existsSync(rootfs)) return;
  makeRootfs(rootfs);
  mkdirSync(volume);
  writeFileSync(join(volume, 'owned-by-1000'), 'x');
  chownSync(join(volume, 'owned-by-1000'), 1000, 1000);
  const files = join(work, 'files');
  mkdirSync(files);
  writeFileSync(join(files, 'hostname'), 'pod\n');
  writeFileSync(join(files, 'hosts'), '127.0.0.1 localhost\n');
  writeFileSync(join(files, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  mkdirSync(join(work, 'imgvol'));
}

async function shmFor(hostId: number): Promise<string> {
  const shm = join(work, `shm-${hostId}`);
  if (existsSync(shm)) return shm;
  mkdirSync(shm);
  await run('mount', ['-t', 'tmpfs', '-o', `nosuid,nodev,noexec,mode=1777,size=1m,uid=${hostId},gid=${hostId}`, 'shm', shm]);
  mounted.push(shm);
  return shm;
}

async function imageVolumeDirFor(hostId: number): Promise<string> {
  const dir = join(work, `imgvol-${hostId}`);
  if (!existsSync(dir)) {
    mkdirSync(dir);
    chownSync(dir, hostId, hostId);
  }
  return dir;
}

async function runInPod(handler: { name: string; path: string }, hostId: number, script: string): Promise<string> {
  await setup();
  let ns = pods.get(hostId);
  if (!ns) {
    ns = await pinNamespaces(join(work, `ns-${hostId}`), hostId);
    pods.set(hostId, ns);
  }
  const features = parseFeatures((await run(handler.path, ['features'])).stdout);
  const version = (await run(handler.path, ['--version'])).stdout.split('\n')[0];
  const mapping: IDMapping[] = [{ container_id: 0, host_id: hostId, length: 65536 }];
  const id = `crius-spec-it-${handler.name}-${hostId}-${Math.random().toString(36).slice(2, 8)}`;
  const cgroupsPath = `${ownMemoryCgroup().replace(/\/$/, '')}/${id}`;
  cgroups.push(cgroupsPath);
  const userns = { mode: 'POD' as const, uids: mapping, gids: mapping };
  const { spec } = buildContainerSpec({
    container: {
      metadata: { name: 'probe' },
      command: ['/bin/sh', '-c', script],
      mounts: [{ container_path: '/data', host_path: volume, uidMappings: mapping, gidMappings: mapping }],
      linux: { security_context: { namespace_options: { userns_options: userns, pid: 'CONTAINER' }, seccomp: { profile_type: 'RuntimeDefault' } } },
    },
    sandbox: { metadata: { name: 'p', uid: 'u', namespace: 'default' }, hostname: 'pod', linux: { security_context: { namespace_options: { userns_options: userns } } } },
    image: { Volumes: { '/imgvol': {} } },
    passwd: readFileSync(join(rootfs, 'etc/passwd'), 'utf8'),
    group: readFileSync(join(rootfs, 'etc/group'), 'utf8'),
    runtime: {
      rootfs,
      namespaces: ns,
      sandboxFiles: { hostname: join(work, 'files/hostname'), hosts: join(work, 'files/hosts'), resolvConf: join(work, 'files/resolv.conf'), shm: await shmFor(hostId) },
      // crius copies an image VOLUME with owners already in the pod's range (no idmap): a dir per range here.
      imageVolumeDirs: { '/imgvol': await imageVolumeDirFor(hostId) },
      userns: { uid: { containerId: 0, hostId, length: 65536 }, gid: { containerId: 0, hostId, length: 65536 } },
      handler: handlerCapabilities(handler.name, features),
      oomScoreAdjMin: Number(readFileSync('/proc/self/oom_score_adj', 'utf8')),
      cgroupsPath,
      arch: process.arch,
    },
  });
  checkIdmapSupport(spec, { name: handler.name, path: handler.path, version, features });
  return runSpec(handler, id, spec);
}

async function runSpec(handler: { name: string; path: string }, id: string, spec: Spec): Promise<string> {
  const bundle = join(work, id);
  mkdirSync(bundle);
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  // Hybrid cgroup hosts: crun refuses them, so the runtime runs in a private mount namespace without
  // the cgroup2 mount (the host's mounts are untouched).
  const sh = `if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi; exec "$0" run --bundle "$1" "$2"`;
  try {
    return (await run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', sh, handler.path, bundle, id], { timeoutMs: 60_000 })).stdout;
  } finally {
    await run(handler.path, ['delete', '--force', id]).catch(() => undefined);
  }
}

const PROBE = [
  'cat /proc/self/uid_map',
  'stat -c "file %u:%g" /data/owned-by-1000',
  'stat -c "hosts %u:%g" /etc/hosts',
  'stat -c "imgvol %u:%g" /imgvol',
  'stat -c "shm %u:%g" /dev/shm',
  'touch /data/made-by-$HOSTID_TAG',
  'unshare -U true 2>/dev/null && echo "userns allowed" || echo "userns denied"',
  'stat -c "keys %F" /proc/keys',
].join('; ');

for (const h of HANDLERS) {
  test(`${h.name}: userns container with idmapped volume and runtime-made mounts`, { skip: skipReason }, async () => {
    const out = await runInPod(h, 400000, PROBE.replace('$HOSTID_TAG', `${h.name}-a`));
    const lines = out.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
    assert.equal(lines[0], '0 400000 65536', 'uid_map is exactly the pod mapping');
    assert.ok(lines.includes('file 1000:1000'), out);
    assert.ok(lines.includes('hosts 0:0'), out);
    assert.ok(lines.includes('imgvol 0:0'), out);
    assert.ok(lines.includes('shm 0:0'), out);
    assert.ok(lines.includes('userns denied'), 'RuntimeDefault seccomp refuses unshare(CLONE_NEWUSER)');
    assert.ok(lines.includes('keys character special file'), 'default masked paths are /dev/null binds');
    const made = statSync(join(volume, `made-by-${h.name}-a`));
    assert.equal(`${made.uid}:${made.gid}`, '0:0', 'the pod root\'s file lands on disk as 0:0');
  });

  test(`${h.name}: a second pod with another host range sees the volume identically`, { skip: skipReason }, async () => {
    const out = await runInPod(h, 500000, PROBE.replace('$HOSTID_TAG', `${h.name}-b`));
    const lines = out.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
    assert.equal(lines[0], '0 500000 65536');
    assert.ok(lines.includes('file 1000:1000'), out);
    const made = statSync(join(volume, `made-by-${h.name}-b`));
    assert.equal(`${made.uid}:${made.gid}`, '0:0');
  });
}

async function runSandbox(handler: { name: string; path: string }, hostId: number, namespaces: NamespacePaths): Promise<string> {
  await setup();
  const features = parseFeatures((await run(handler.path, ['features'])).stdout);
  const id = `crius-spec-it-sb-${handler.name}-${Math.random().toString(36).slice(2, 8)}`;
  const cgroupsPath = `${ownMemoryCgroup().replace(/\/$/, '')}/${id}`;
  cgroups.push(cgroupsPath);
  const mapping: IDMapping[] = [{ container_id: 0, host_id: hostId, length: 65536 }];
  const { spec } = buildSandboxSpec({
    sandbox: { metadata: { name: 'p', uid: 'u', namespace: 'default' }, hostname: 'sbx', linux: { security_context: { namespace_options: { userns_options: { mode: 'POD', uids: mapping, gids: mapping } } } } },
    image: {},
    runtime: {
      rootfs,
      namespaces,
      sandboxFiles: { hosts: join(work, 'files/hosts'), resolvConf: join(work, 'files/resolv.conf'), shm: await shmFor(hostId) },
      userns: { uid: { containerId: 0, hostId, length: 65536 }, gid: { containerId: 0, hostId, length: 65536 } },
      handler: handlerCapabilities(handler.name, features),
      oomScoreAdjMin: Number(readFileSync('/proc/self/oom_score_adj', 'utf8')),
      cgroupsPath,
      arch: process.arch,
      // Stands in for the pause binary: prints what the test checks, then exits.
      pauseArgs: ['/bin/sh', '-c', 'cat /proc/self/uid_map; echo "pid $$"; stat -c "hosts %u:%g" /etc/hosts; cat /proc/self/status | grep -E "^(CapEff|NoNewPrivs)"; touch /x 2>/dev/null || echo "root ro"'],
    },
  });
  return runSpec(handler, id, spec);
}

for (const h of HANDLERS) {
  test(`${h.name}: sandbox spec, runtime-created user namespace (no pinned path)`, { skip: skipReason }, async () => {
    const out = await runSandbox(h, 600000, {});
    const lines = out.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
    assert.equal(lines[0], '0 600000 65536');
    assert.ok(lines.includes('pid 1'), 'the pause process is PID 1 of a new PID namespace');
    assert.ok(lines.includes('hosts 0:0'), out);
    assert.ok(lines.includes('CapEff: 0000000000000000'), out);
    assert.ok(lines.includes('NoNewPrivs: 1'), out);
    assert.ok(lines.includes('root ro'), out);
  });

  test(`${h.name}: sandbox spec joining pinned user/net/ipc/uts namespaces`, { skip: skipReason }, async () => {
    let ns = pods.get(400000);
    if (!ns) {
      ns = await pinNamespaces(join(work, 'ns-400000'), 400000);
      pods.set(400000, ns);
    }
    const out = await runSandbox(h, 400000, ns);
    const lines = out.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
    assert.equal(lines[0], '0 400000 65536');
    assert.ok(lines.includes('pid 1'), out);
  });
}

for (const h of HANDLERS) {
  test(`${h.name}: privileged container gets every capability crius holds (this host lacks CAP_SYS_RESOURCE)`, { skip: skipReason }, async () => {
    await setup();
    let ns = pods.get(400000);
    if (!ns) {
      ns = await pinNamespaces(join(work, 'ns-400000'), 400000);
      pods.set(400000, ns);
    }
    const features = parseFeatures((await run(h.path, ['features'])).stdout);
    const status = readFileSync('/proc/self/status', 'utf8');
    const bnd = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0';
    const id = `crius-spec-it-priv-${h.name}-${Math.random().toString(36).slice(2, 8)}`;
    const cgroupsPath = `${ownMemoryCgroup().replace(/\/$/, '')}/${id}`;
    cgroups.push(cgroupsPath);
    const { spec } = buildContainerSpec({
      container: {
        metadata: { name: 'priv' },
        command: ['/bin/sh', '-c', 'grep -E "^CapEff" /proc/self/status; stat -c "keys %F" /proc/keys'],
        linux: { security_context: { privileged: true, namespace_options: { pid: 'CONTAINER' }, seccomp: { profile_type: 'RuntimeDefault' } } },
      },
      sandbox: { metadata: { name: 'p', uid: 'u', namespace: 'default' }, linux: { security_context: { privileged: true } } },
      image: {},
      runtime: {
        rootfs,
        namespaces: { net: ns.net, ipc: ns.ipc, uts: ns.uts },
        userns: null,
        handler: handlerCapabilities(h.name, features),
        oomScoreAdjMin: Number(readFileSync('/proc/self/oom_score_adj', 'utf8')),
        ownCapabilities: capabilitiesFromMask(bnd),
        cgroupsPath,
        arch: process.arch,
      },
    });
    const out = await runSpec(h, id, spec);
    assert.match(out, new RegExp(`CapEff:\\s*0*${bnd.replace(/^0+/, '')}`), out);
    assert.match(out, /keys regular (empty )?file/, 'masked paths are not applied to privileged containers');
  });
}

for (const h of HANDLERS) {
  test(`${h.name}: run_as_user/group, supplemental groups, read-only rootfs, dropped capabilities, no_new_privs, clamped OOM score`, { skip: skipReason }, async () => {
    await setup();
    let ns = pods.get(400000);
    if (!ns) {
      ns = await pinNamespaces(join(work, 'ns-400000'), 400000);
      pods.set(400000, ns);
    }
    const features = parseFeatures((await run(h.path, ['features'])).stdout);
    const ownOom = Number(readFileSync('/proc/self/oom_score_adj', 'utf8'));
    const id = `crius-spec-it-sec-${h.name}-${Math.random().toString(36).slice(2, 8)}`;
    const cgroupsPath = `${ownMemoryCgroup().replace(/\/$/, '')}/${id}`;
    cgroups.push(cgroupsPath);
    const { spec, warnings } = buildContainerSpec({
      container: {
        metadata: { name: 'sec' },
        command: ['/bin/sh', '-c', 'id; touch /x 2>/dev/null && echo "rootfs rw" || echo "rootfs ro"; grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; echo "oom $(cat /proc/self/oom_score_adj)"'],
        linux: {
          resources: { oom_score_adj: '-999', memory_limit_in_bytes: '67108864' },
          security_context: {
            namespace_options: { pid: 'CONTAINER' },
            run_as_user: { value: '1000' },
            run_as_group: { value: '1000' },
            supplemental_groups: ['2000'],
            readonly_rootfs: true,
            no_new_privs: true,
            capabilities: { drop_capabilities: ['ALL'] },
            seccomp: { profile_type: 'RuntimeDefault' },
          },
        },
      },
      sandbox: { metadata: { name: 'p', uid: 'u', namespace: 'default' } },
      image: {},
      passwd: readFileSync(join(rootfs, 'etc/passwd'), 'utf8'),
      group: readFileSync(join(rootfs, 'etc/group'), 'utf8'),
      runtime: {
        rootfs,
        namespaces: { net: ns.net, ipc: ns.ipc, uts: ns.uts },
        userns: null,
        handler: handlerCapabilities(h.name, features),
        oomScoreAdjMin: ownOom,
        cgroupsPath,
        arch: process.arch,
      },
    });
    assert.equal(warnings.length, ownOom > -999 ? 1 : 0);
    const out = await runSpec(h, id, spec);
    assert.match(out, /uid=1000\(app\) gid=1000\(app\) groups=1000\(app\),2000/, out);
    assert.match(out, /rootfs ro/);
    assert.match(out, /CapEff:\s*0000000000000000/);
    assert.match(out, /NoNewPrivs:\s*1/);
    assert.match(out, new RegExp(`oom ${Math.max(-999, ownOom)}\\b`));
  });
}
