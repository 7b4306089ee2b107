// The VM lane's smoke scenario (scripts/vm/smoke.sh runs it inside the Debian 13 node): crius as a
// systemd service with the systemd cgroup driver on pure cgroup v2 with AppArmor, driven over CRI as the
// kubelet would. Every step checks real state (cgroup files, scopes, /proc, the disk) and the first wrong
// result ends the run with exit 1. Each step prints its duration; nothing is asserted on time.
//   node dist/test/vm/smoke.js          (as root, on a node where scripts/install-service.sh can run)
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectCri, type CriClient } from '../../src/cli/client.js';
import { readMountInfo } from '../../src/common/mountinfo.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { busyboxImage, pushImage } from '../helpers/build-image.js';
import { PROJECT_ROOT } from '../helpers/daemon.js';

const SOCKET = '/run/crius/crius.sock';
const WORK = '/var/lib/crius-smoke';
const SLICE = 'kubepods-burstable-podsmoke1.slice';
const SLICE_DIR = '/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podsmoke1.slice';
const DENY_TMP = 'crius-smoke-deny-tmp';
const HOST_ID = 1_000_000;

let client: CriClient;
let registry: TestRegistry | undefined;
let image = '';
const t0 = Date.now();

function sh(cmd: string, args: string[], okFail = false): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !okFail) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr || r.stdout}`);
  return (r.stdout ?? '').trim();
}

async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const s = Date.now();
  process.stdout.write(`[smoke] ${name} ...\n`);
  try {
    const v = await fn();
    process.stdout.write(`[smoke] ok   ${name} (${((Date.now() - s) / 1000).toFixed(1)} s)\n`);
    return v;
  } catch (err) {
    process.stdout.write(`[smoke] FAIL ${name} (${((Date.now() - s) / 1000).toFixed(1)} s): ${(err as Error).stack ?? String(err)}\n`);
    throw err;
  }
}

const call = <T = Record<string, any>>(m: string, req: object): Promise<T> => client.call<T>('runtime', m, req, 300_000);

function pod(name: string, linux: Record<string, any> = {}): Record<string, any> {
  return {
    metadata: { name, namespace: 'smoke', uid: `uid-${name}`, attempt: 0 },
    hostname: name,
    log_directory: join(WORK, 'logs', name),
    linux: { security_context: { namespace_options: {} }, ...linux },
  };
}

function ctr(name: string, script: string, extra: Record<string, any> = {}): Record<string, any> {
  return { metadata: { name, attempt: 0 }, image: { image }, command: ['sh', '-c', script], log_path: `${name}.log`, ...extra };
}

async function runPod(p: Record<string, any>): Promise<string> {
  return (await call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: p })).pod_sandbox_id;
}

async function startCtr(podId: string, p: Record<string, any>, c: Record<string, any>): Promise<string> {
  const { container_id: id } = await call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: c, sandbox_config: p });
  await call('StartContainer', { container_id: id });
  return id;
}

async function exec(id: string, cmd: string[]): Promise<{ code: number; out: string }> {
  const r = await call<{ stdout: Buffer; stderr: Buffer; exit_code: number }>('ExecSync', { container_id: id, cmd, timeout: 60 });
  return { code: r.exit_code, out: `${Buffer.from(r.stdout).toString()}${Buffer.from(r.stderr).toString()}`.trim() };
}

function pidOf(status: Record<string, any>): number {
  const info = JSON.parse(status['info']?.['info'] ?? '{}') as { pid?: number };
  return info.pid ?? 0;
}

async function containerPid(id: string): Promise<number> {
  const r = await call<{ status: Record<string, any>; info: Record<string, string> }>('ContainerStatus', { container_id: id, verbose: true });
  const pid = pidOf(r);
  assert.ok(pid > 0, `ContainerStatus verbose of ${id} names its pid (${JSON.stringify(r.info)})`);
  return pid;
}

function scopes(): string[] {
  return sh('systemctl', ['list-units', '--type=scope', '--all', '--no-legend', '--plain', 'crius-*']).split('\n').map((l) => l.split(' ')[0] ?? '').filter((s) => s !== '');
}

function criusMounts(): string[] {
  return readMountInfo().map((m) => m.mountPoint)
    .filter((m) => m.startsWith('/run/crius/') || m.startsWith('/var/lib/crius/'));
}

async function main(): Promise<void> {
  await step('node facts: cgroup2fs, systemd as PID 1, AppArmor enabled', async () => {
    const fs = sh('stat', ['-fc', '%T', '/sys/fs/cgroup']);
    const pid1 = readFileSync('/proc/1/comm', 'utf8').trim();
    const aa = readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim();
    console.log(`  /sys/fs/cgroup: ${fs}; PID 1: ${pid1}; AppArmor enabled: ${aa}; kernel ${sh('uname', ['-r'])}; ` +
      `crun ${sh('crun', ['--version']).split('\n')[0]}; conmon ${sh('conmon', ['--version']).split('\n')[0]}; node ${process.version}`);
    assert.equal(fs, 'cgroup2fs');
    assert.equal(pid1, 'systemd');
    assert.equal(aa, 'Y');
  });

  await step('image registry with a busybox image (docker-registry on 127.0.0.1)', async () => {
    registry = await startRegistry();
    const img = await busyboxImage('gzip', { Cmd: ['sh'], Env: ['PATH=/bin'] });
    await pushImage({ url: registry.url }, 'smoke/busybox', 'latest', img);
    await pushImage({ url: registry.url }, 'e2e-test-images/busybox', '1.29-2', img);
    image = `${registry.host}/smoke/busybox:latest`;
  });

  await step('crius started by its systemd unit (Type=notify: start returns when it serves)', async () => {
    mkdirSync('/etc/cni/net.d', { recursive: true });
    writeFileSync('/etc/cni/net.d/10-smoke.conflist', JSON.stringify({
      cniVersion: '1.0.0', name: 'crius-smoke', disableCheck: true,
      plugins: [{ type: 'bridge', bridge: 'cni-smoke', isGateway: true, ipMasq: false,
        ipam: { type: 'host-local', ranges: [[{ subnet: '10.77.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }] } }],
    }));
    mkdirSync('/etc/crius', { recursive: true });
    // No cgroup_manager: the default on this node must be systemd. critest's images come from the
    // local registry (the stand-in of registry.k8s.io/e2e-test-images/busybox is pushed there).
    writeFileSync('/etc/crius/config.toml', 'default_runtime = "crun"\n[runtimes.crun]\npath = "/usr/bin/crun"\n[cni]\nplugin_dirs = ["/usr/lib/cni"]\n' +
      `[registries."registry.k8s.io"]\nmirrors = ["${registry!.url}"]\n`);
    sh('bash', [join(PROJECT_ROOT, 'scripts/install-service.sh')]);
    assert.equal(sh('systemctl', ['is-enabled', 'crius.service'], true), 'disabled', 'installed, not enabled by default');
    sh('systemctl', ['start', 'crius.service']);
    assert.equal(sh('systemctl', ['is-active', 'crius.service'], true), 'active');
    client = connectCri(SOCKET);
    const v = await call<{ runtime_name: string }>('Version', {});
    assert.equal(v.runtime_name, 'crius');
  });

  await step('RuntimeConfig reports the SYSTEMD driver; Status says cgroup v2, systemd, AppArmor in use', async () => {
    const rc = await call<{ linux: { cgroup_driver: string } }>('RuntimeConfig', {});
    console.log(`  RuntimeConfig cgroup_driver: ${rc.linux.cgroup_driver}`);
    assert.equal(rc.linux.cgroup_driver, 'SYSTEMD');
    const st = await call<{ info: Record<string, string> }>('Status', { verbose: true });
    const cfg = JSON.parse(st.info['config'] ?? '{}') as Record<string, any>;
    console.log(`  Status: cgroupVersion ${cfg['cgroupVersion']}, cgroupDriver ${cfg['cgroupDriver']}, apparmor ${JSON.stringify(cfg['apparmor'])}`);
    assert.equal(cfg['cgroupVersion'], 2);
    assert.equal(cfg['cgroupDriver'], 'systemd');
    assert.equal(cfg['apparmor']?.inUse, true);
    assert.equal(cfg['apparmor']?.defaultProfile, 'crius-default');
    assert.match(readFileSync('/sys/kernel/security/apparmor/profiles', 'utf8'), /^crius-default \(enforce\)$/m);
    const doctor = sh('node', [join(PROJECT_ROOT, 'bin/crius.js'), 'doctor'], true);
    const lines = doctor.split('\n').filter((l) => /cgroup driver|AppArmor/.test(l));
    console.log(lines.map((l) => `  doctor: ${l.trim()}`).join('\n'));
    assert.ok(lines.some((l) => /cgroup driver/.test(l) && /systemd on cgroup v2/.test(l)), doctor);
    assert.ok(lines.some((l) => /AppArmor/.test(l) && /in use/.test(l)), doctor);
  });

  await step('PullImage', async () => {
    await client.call('image', 'PullImage', { image: { image } }, 300_000);
  });

  const pods: string[] = [];
  const running: string[] = [];

  // --- a user-namespaced pod with an idmapped hostPath and a tmpfs volume
  const userns = { mode: 'POD', uids: [{ container_id: 0, host_id: HOST_ID, length: 65536 }], gids: [{ container_id: 0, host_id: HOST_ID, length: 65536 }] };
  const usernsPod = pod('userns', { security_context: { namespace_options: { userns_options: userns } } });
  const vol = join(WORK, 'vol');
  await step('user-namespaced pod: idmapped hostPath and tmpfs volumes, ownership inside and on disk', async () => {
    mkdirSync(join(vol, 'host'), { recursive: true });
    chmodSync(WORK, 0o711); chmodSync(vol, 0o711);
    writeFileSync(join(vol, 'host', 'owned-by-1000'), 'x');
    chownSync(join(vol, 'host', 'owned-by-1000'), 1000, 1000);
    mkdirSync(join(vol, 'tmpfs'), { recursive: true });
    sh('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', join(vol, 'tmpfs')]);
    writeFileSync(join(vol, 'tmpfs', 'token'), 'secret');
    chownSync(join(vol, 'tmpfs', 'token'), 1000, 1000);
    const podId = await runPod(usernsPod);
    pods.push(podId);
    const m = { uidMappings: userns.uids, gidMappings: userns.gids };
    const id = await startCtr(podId, usernsPod, ctr('app', 'sleep 100000', {
      mounts: [{ container_path: '/data', host_path: join(vol, 'host'), ...m }, { container_path: '/tmpvol', host_path: join(vol, 'tmpfs'), ...m }],
      linux: { security_context: { namespace_options: { userns_options: userns } } },
    }));
    running.push(id);
    const r = await exec(id, ['sh', '-c', 'cat /proc/self/uid_map; stat -c %u:%g /data/owned-by-1000 /tmpvol/token /; touch /data/from-root /tmpvol/from-root; id -u']);
    console.log(`  inside: ${r.out.replace(/\s+/g, ' ')}`);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`^\\s*0\\s+${HOST_ID}\\s+65536$`, 'm'));
    assert.match(r.out, /^1000:1000\n1000:1000\n0:0$/m, 'hostPath and tmpfs files keep their on-disk owner 1000 inside; the rootfs is the pod root\'s');
    for (const f of [join(vol, 'host', 'from-root'), join(vol, 'tmpfs', 'from-root')]) {
      const st = statSync(f);
      assert.equal(`${st.uid}:${st.gid}`, '0:0', `${f}: what the pod's root writes lands on disk as 0:0`);
    }
    const hostUid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${await containerPid(id)}/status`, 'utf8'))?.[1];
    assert.equal(hostUid, String(HOST_ID), 'the container\'s root is the first ID of the kubelet\'s range on the host');
    const scope = `crius-${id}.scope`;
    assert.ok(scopes().includes(scope), `${scope} is a systemd scope (${scopes().join(', ')})`);
  });

  // --- CPU and memory limits in a pod whose cgroup_parent is a slice
  const limitedPod = pod('limited', { cgroup_parent: SLICE });
  let limitedId = '';
  await step('pod with cgroup_parent in slice form: container scope with cpu.max and memory.max', async () => {
    const podId = await runPod(limitedPod);
    pods.push(podId);
    limitedId = await startCtr(podId, limitedPod, ctr('limited', 'while :; do :; done', {
      linux: { resources: { cpu_period: '100000', cpu_quota: '50000', cpu_shares: '512', memory_limit_in_bytes: String(64 * 1024 * 1024) } },
    }));
    running.push(limitedId);
    const dir = join(SLICE_DIR, `crius-${limitedId}.scope`);
    assert.ok(existsSync(dir), `${dir} exists`);
    assert.equal(sh('systemctl', ['is-active', `crius-${limitedId}.scope`], true), 'active');
    const pid = await containerPid(limitedId);
    // crun puts the process in the scope itself, or in a `container` leaf below it when the scope is delegated.
    const own = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim();
    assert.ok(own === `0::${dir.slice('/sys/fs/cgroup'.length)}` || own === `0::${dir.slice('/sys/fs/cgroup'.length)}/container`, `the container runs in its scope: ${own}`);
    assert.equal(readFileSync(join(dir, 'cpu.max'), 'utf8').trim(), '50000 100000');
    assert.equal(readFileSync(join(dir, 'memory.max'), 'utf8').trim(), String(64 * 1024 * 1024));
    console.log(`  ${dir}: cpu.max ${readFileSync(join(dir, 'cpu.max'), 'utf8').trim()}, memory.max ${readFileSync(join(dir, 'memory.max'), 'utf8').trim()}, cpu.weight ${readFileSync(join(dir, 'cpu.weight'), 'utf8').trim()}`);
    const inside = (await exec(limitedId, ['cat', '/proc/self/cgroup'])).out;
    assert.match(inside, /^0::\/(container)?$/, `a private cgroup namespace: the container sees its own cgroup as / (${inside})`);
    const conmonScopes = scopes().filter((s) => s === `crius-conmon-${limitedId}.scope`);
    assert.equal(conmonScopes.length, 1, `conmon runs in its own scope (${scopes().join(', ')})`);
  });

  await step('UpdateContainerResources changes cpu.max and memory.max through systemd', async () => {
    await call('UpdateContainerResources', { container_id: limitedId, linux: { cpu_period: '100000', cpu_quota: '20000', memory_limit_in_bytes: String(128 * 1024 * 1024) } });
    const dir = join(SLICE_DIR, `crius-${limitedId}.scope`);
    assert.equal(readFileSync(join(dir, 'cpu.max'), 'utf8').trim(), '20000 100000');
    assert.equal(readFileSync(join(dir, 'memory.max'), 'utf8').trim(), String(128 * 1024 * 1024));
  });

  await step('ContainerStats and PodSandboxStats come from the scope and the slice, with PSI', async () => {
    const { stats } = await call<{ stats: Record<string, any> }>('ContainerStats', { container_id: limitedId });
    console.log(`  container cpu ${stats['cpu']?.usage_core_nano_seconds?.value} ns, memory working set ${stats['memory']?.working_set_bytes?.value}, cpu psi some total ${stats['cpu']?.psi?.Some?.Total}, memory psi ${JSON.stringify(stats['memory']?.psi?.Some)}, io psi ${JSON.stringify(stats['io']?.psi?.Some)}`);
    assert.ok(BigInt(stats['cpu']?.usage_core_nano_seconds?.value ?? '0') > 0n, 'the busy loop used CPU');
    assert.ok(stats['cpu']?.psi?.Some, 'cpu PSI reported');
    assert.ok(BigInt(stats['cpu'].psi.Some.Total) > 0n, 'a container throttled to 0.2 CPU stalls: cpu.pressure some total > 0');
    assert.ok(stats['memory']?.psi?.Some, 'memory PSI reported');
    assert.ok(stats['io']?.psi?.Some, 'io PSI reported');
    assert.equal(stats['memory']?.available_bytes?.value !== undefined, true, 'memory limit known (available_bytes)');
    const podId = pods[1]!;
    const ps = (await call<{ stats: Record<string, any> }>('PodSandboxStats', { pod_sandbox_id: podId })).stats;
    assert.ok(BigInt(ps['linux']?.cpu?.usage_core_nano_seconds?.value ?? '0') > 0n, 'pod CPU read from the slice');
    assert.ok(ps['linux']?.cpu?.psi?.Some, 'pod cpu PSI');
  });

  // --- AppArmor
  const aaPod = pod('apparmor');
  await step('AppArmor RuntimeDefault: runs under crius-default, which forbids mount even with CAP_SYS_ADMIN', async () => {
    const podId = await runPod(aaPod);
    pods.push(podId);
    const caps = { capabilities: { add_capabilities: ['SYS_ADMIN'] } };
    const confined = await startCtr(podId, aaPod, ctr('confined', 'sleep 100000', { linux: { security_context: { ...caps, apparmor: { profile_type: 'RuntimeDefault' } } } }));
    const unset = await startCtr(podId, aaPod, ctr('unset', 'sleep 100000', { linux: { security_context: {} } }));
    const unconfined = await startCtr(podId, aaPod, ctr('unconfined', 'sleep 100000', { linux: { security_context: { ...caps, apparmor: { profile_type: 'Unconfined' } } } }));
    running.push(confined, unset, unconfined);
    assert.equal((await exec(confined, ['cat', '/proc/self/attr/current'])).out, 'crius-default (enforce)');
    assert.equal((await exec(unset, ['cat', '/proc/self/attr/current'])).out, 'crius-default (enforce)', 'no AppArmor setting means RuntimeDefault');
    // Unconfined: no profile is set, so the process keeps the runtime's label, which is "unconfined" or,
    // with AppArmor 4's per-binary profiles, "crun (unconfined)" (a profile in unconfined mode).
    const label = (await exec(unconfined, ['cat', '/proc/self/attr/current'])).out;
    assert.match(label, /^unconfined$|^\S+ \(unconfined\)$/, label);
    const mountCmd = ['sh', '-c', 'mkdir -p /m && mount -t tmpfs none /m && echo mounted'];
    const denied = await exec(confined, mountCmd);
    console.log(`  confined mount: exit ${denied.code} ${denied.out}`);
    assert.notEqual(denied.code, 0, 'crius-default denies mount');
    assert.match(denied.out, /denied/i);
    const allowed = await exec(unconfined, mountCmd);
    assert.equal(allowed.code, 0, `the same mount works Unconfined (so AppArmor made the difference): ${allowed.out}`);
  });

  await step('AppArmor Localhost (and the deprecated apparmor_profile field); an unloaded profile is a clear error', async () => {
    const file = join(WORK, DENY_TMP);
    writeFileSync(file, `profile ${DENY_TMP} flags=(attach_disconnected,mediate_deleted) {\n  file,\n  capability,\n  network,\n  signal,\n  deny /tmp/** w,\n}\n`);
    sh('apparmor_parser', ['-r', '-K', file]);
    const podId = pods[2]!;
    const local = await startCtr(podId, aaPod, ctr('localhost', 'sleep 100000', { linux: { security_context: { apparmor: { profile_type: 'Localhost', localhost_ref: DENY_TMP } } } }));
    const legacy = await startCtr(podId, aaPod, ctr('legacy', 'sleep 100000', { linux: { security_context: { apparmor_profile: `localhost/${DENY_TMP}` } } }));
    running.push(local, legacy);
    for (const id of [local, legacy]) {
      assert.equal((await exec(id, ['cat', '/proc/self/attr/current'])).out, `${DENY_TMP} (enforce)`);
      const w = await exec(id, ['touch', '/tmp/x']);
      assert.notEqual(w.code, 0, 'the Localhost profile forbids writing /tmp');
      assert.equal((await exec(id, ['touch', '/x'])).code, 0, 'and allows writing elsewhere');
    }
    await assert.rejects(
      call('CreateContainer', { pod_sandbox_id: podId, config: ctr('missing', 'true', { linux: { security_context: { apparmor: { profile_type: 'Localhost', localhost_ref: 'crius-smoke-not-loaded' } } } }), sandbox_config: aaPod }),
      (err: { code?: number; details?: string }) => {
        console.log(`  unloaded profile: code ${err.code}: ${err.details}`);
        return err.code === 9 && /crius-smoke-not-loaded/.test(err.details ?? '') && /not loaded/.test(err.details ?? '');
      });
  });

  await step('systemctl restart crius while pods run: containers keep running, the new daemon lists them all', async () => {
    const before = new Map<string, number>();
    for (const id of running) before.set(id, await containerPid(id));
    const mainBefore = sh('systemctl', ['show', '-p', 'MainPID', '--value', 'crius.service']);
    client.close();
    sh('systemctl', ['restart', 'crius.service']);
    const mainAfter = sh('systemctl', ['show', '-p', 'MainPID', '--value', 'crius.service']);
    assert.notEqual(mainAfter, mainBefore, 'a new daemon process');
    assert.equal(sh('systemctl', ['is-active', 'crius.service'], true), 'active');
    for (const [id, pid] of before) assert.ok(existsSync(`/proc/${pid}`), `container ${id} (pid ${pid}) survived the restart`);
    client = connectCri(SOCKET);
    const { containers } = await call<{ containers: { id: string; state: string }[] }>('ListContainers', {});
    for (const id of running) {
      assert.equal(containers.find((c) => c.id === id)?.state, 'CONTAINER_RUNNING', `${id} is listed running after the restart`);
      assert.equal(await containerPid(id), before.get(id));
    }
    const { items } = await call<{ items: { id: string; state: string }[] }>('ListPodSandbox', {});
    for (const p of pods) assert.equal(items.find((i) => i.id === p)?.state, 'SANDBOX_READY');
    assert.equal((await exec(running[0]!, ['true'])).code, 0, 'exec still works in a container from before the restart');
  });

  const critest = join(PROJECT_ROOT, '.vm-extra', 'critest');
  await step('critest (cri-tools v1.34) AppArmor specs against crius', async () => {
    if (!existsSync(critest)) {
      console.log('  skipped: critest is not installed on the host (bash ../shared/cri-tools/install.sh), so none was copied in');
      return;
    }
    const r = spawnSync(critest, ['--runtime-endpoint', `unix://${SOCKET}`, '--ginkgo.focus', 'AppArmor', '--ginkgo.no-color'], { encoding: 'utf8', timeout: 900_000 });
    const out = `${r.stdout}${r.stderr}`;
    const summary = out.split('\n').filter((l) => /Ran \d+ of \d+ Specs|Passed|FAIL|SUCCESS/.test(l));
    console.log(summary.map((l) => `  critest: ${l.trim()}`).join('\n'));
    assert.equal(r.status, 0, `critest failed:\n${out.slice(-4000)}`);
    assert.match(out, /Ran [1-9]\d* of \d+ Specs/, 'critest ran AppArmor specs (not all skipped)');
  });

  await step('teardown: no scope, mount or process left', async () => {
    const pids = await Promise.all(running.map((id) => containerPid(id)));
    for (const p of pods) {
      await call('StopPodSandbox', { pod_sandbox_id: p });
      await call('RemovePodSandbox', { pod_sandbox_id: p });
    }
    // The kubelet removes the slices it made; here nobody did, so the scenario does it.
    sh('systemctl', ['stop', SLICE], true);
    sh('umount', [join(vol, 'tmpfs')]);
    const left = scopes();
    assert.deepEqual(left, [], `no crius scope left: ${left.join(', ')}`);
    assert.deepEqual(criusMounts().filter((m) => !/\/run\/crius\/(ns|idmap-probe)/.test(m)), [], 'no mount left under /run/crius or /var/lib/crius');
    for (const pid of pids) assert.ok(!existsSync(`/proc/${pid}`), `process ${pid} is gone`);
    assert.equal(sh('pgrep', ['-x', 'conmon'], true), '', 'no conmon left');
    assert.equal(existsSync(SLICE_DIR), false, `${SLICE_DIR} removed`);
    const { items } = await call<{ items: unknown[] }>('ListPodSandbox', {});
    assert.equal(items.length, 0);
  });

  await step('cgroup_manager = "cgroupfs" on v2: limits are written beneath the daemon\'s delegated cgroup', async () => {
    client.close();
    writeFileSync('/etc/crius/config.toml', `cgroup_manager = "cgroupfs"\n${readFileSync('/etc/crius/config.toml', 'utf8')}`);
    sh('systemctl', ['restart', 'crius.service']);
    client = connectCri(SOCKET);
    const rc = await call<{ linux: { cgroup_driver: string } }>('RuntimeConfig', {});
    assert.equal(rc.linux.cgroup_driver, 'CGROUPFS');
    const p = pod('cgroupfs', { cgroup_parent: '/kubepods/burstable/podsmoke2' });
    const podId = await runPod(p);
    const id = await startCtr(podId, p, ctr('limited', 'sleep 100000', { linux: { resources: { cpu_period: '100000', cpu_quota: '30000', memory_limit_in_bytes: String(48 * 1024 * 1024) } } }));
    const pid = await containerPid(id);
    const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().slice(3);
    console.log(`  container cgroup ${cg}; daemon in ${readFileSync(`/proc/${sh('systemctl', ['show', '-p', 'MainPID', '--value', 'crius.service'])}/cgroup`, 'utf8').trim()}`);
    assert.match(cg, /^\/system\.slice\/crius\.service\/crius\/kubepods\/burstable\/podsmoke2\//);
    assert.equal(readFileSync(join('/sys/fs/cgroup', cg, 'memory.max'), 'utf8').trim(), String(48 * 1024 * 1024));
    assert.equal(readFileSync(join('/sys/fs/cgroup', cg, 'cpu.max'), 'utf8').trim(), '30000 100000');
    await call('StopPodSandbox', { pod_sandbox_id: podId });
    await call('RemovePodSandbox', { pod_sandbox_id: podId });
    assert.ok(!existsSync(`/proc/${pid}`));
    assert.equal(existsSync('/sys/fs/cgroup/system.slice/crius.service/crius/kubepods'), false, 'pod cgroups removed');
    client.close();
    sh('systemctl', ['stop', 'crius.service']);
    assert.notEqual(sh('systemctl', ['is-active', 'crius.service'], true), 'active');
  });
}

main().then(async () => {
  await registry?.stop();
  console.log(`[smoke] PASSED in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.exit(0);
}, async (err: unknown) => {
  console.log(`[smoke] FAILED: ${(err as Error).message}`);
  try {
    console.log(execFileSync('journalctl', ['-u', 'crius.service', '--no-pager', '-n', '60', '-o', 'cat'], { encoding: 'utf8' }));
    console.log(execFileSync('sh', ['-c', 'dmesg | grep -iE "apparmor=.DENIED|audit" | tail -20'], { encoding: 'utf8' }));
  } catch { /* no journal */ }
  await registry?.stop().catch(() => undefined);
  process.exit(1);
});
