import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import { buildContainerSpec, buildSandboxSpec } from '../../../src/spec/build.js';
import { DEFAULT_CAPABILITIES } from '../../../src/spec/defaults.js';
import { checkIdmapSupport, handlerCapabilities, specUsesIdmap } from '../../../src/spec/idmap-check.js';
import type { Spec } from '../../../src/spec/oci-types.js';
import type { ContainerSpecInput, RuntimeContext, SandboxConfigInput, UserNamespace } from '../../../src/spec/types.js';
import { crun121Features, runc115Features, runc136Features } from '../../helpers/runtime-features.js';
import { GROUP, HOST_ID, PASSWD, POD_MAPPING, runtimeContext, USERNS_RUNTIME } from '../../helpers/spec-context.js';

const OCI_MAP = [{ containerID: 0, hostID: HOST_ID, size: 65536 }];
const USERNS: UserNamespace = { mode: 'POD', uids: POD_MAPPING, gids: POD_MAPPING };
const SANDBOX: SandboxConfigInput = {
  metadata: { name: 'web-0', uid: 'pod-uid', namespace: 'default' },
  hostname: 'web-0',
  linux: { security_context: { namespace_options: { userns_options: USERNS } }, sysctls: { 'net.ipv4.ping_group_range': '0 1' } },
};

/** A hostUsers:false pod with three volumes as the kubelet sends them: mappings on every mount. */
function usernsInput(handler: RuntimeContext['handler']): ContainerSpecInput {
  const mapped = { uidMappings: POD_MAPPING, gidMappings: POD_MAPPING };
  return {
    container: {
      metadata: { name: 'app', attempt: 0 },
      args: ['-c', 'sleep 1'],
      envs: [{ key: 'MODE', value: 'prod' }],
      mounts: [
        { container_path: '/srv/data', host_path: '/var/lib/hostpath/data', ...mapped }, // hostPath (ext4)
        { container_path: '/etc/config', host_path: '/var/lib/kubelet/pods/pod-uid/volumes/kubernetes.io~configmap/cfg', readonly: true, ...mapped }, // tmpfs-backed volume dir
        { container_path: '/scratch', host_path: '/var/lib/kubelet/pods/pod-uid/volumes/kubernetes.io~empty-dir/scratch', ...mapped }, // emptyDir on disk
        { container_path: '/dev/termination-log', host_path: '/var/lib/kubelet/pods/pod-uid/containers/app/abc', ...mapped },
      ],
      linux: {
        resources: { cpu_shares: '102', memory_limit_in_bytes: '67108864', oom_score_adj: '1000' },
        security_context: {
          namespace_options: { userns_options: USERNS },
          run_as_user: { value: '1000' },
          seccomp: { profile_type: 'RuntimeDefault' },
          capabilities: { drop_capabilities: ['NET_RAW'] },
          masked_paths: ['/proc/kcore'],
          readonly_paths: ['/proc/sys'],
        },
      },
    },
    sandbox: SANDBOX,
    image: { Entrypoint: ['/bin/sh'], Cmd: ['-c', 'echo default'], Env: ['PATH=/usr/bin:/bin'], WorkingDir: '/srv', Volumes: { '/var/cache/app': {} }, User: 'nobody' },
    passwd: PASSWD,
    group: GROUP,
    runtime: runtimeContext({
      ...USERNS_RUNTIME,
      namespaces: { net: '/run/crius/ns/p/net', ipc: '/run/crius/ns/p/ipc', uts: '/run/crius/ns/p/uts', user: '/run/crius/ns/p/user', pid: '/proc/77/ns/pid' },
      imageVolumeDirs: { '/var/cache/app': '/run/crius/c/volumes/cache' },
      handler,
      oomScoreAdjMin: 0,
      cgroupsPath: '/process_api/x/crius/c',
      ids: { sandboxId: 'sb', containerId: 'c', imageName: 'busybox' },
    }),
  };
}

const mount = (s: Spec, d: string) => s.mounts!.find((m) => m.destination === d)!;

test('userns pod with three volumes: the composed spec', () => {
  const { spec, warnings } = buildContainerSpec(usernsInput(handlerCapabilities('crun', crun121Features)));
  assert.deepEqual(warnings, []);
  assert.equal(spec.ociVersion, '1.2.0');
  assert.deepEqual(spec.root, { path: '/run/crius/c1/rootfs', readonly: false });
  assert.deepEqual(spec.process!.args, ['/bin/sh', '-c', 'sleep 1']);
  assert.equal(spec.process!.cwd, '/srv');
  assert.deepEqual(spec.process!.user, { uid: 1000, gid: 1000, additionalGids: [1000, 10, 44] });
  assert.deepEqual(spec.process!.env, ['PATH=/usr/bin:/bin', 'HOSTNAME=web-0', 'MODE=prod', 'HOME=/home/app']);
  assert.equal(spec.process!.oomScoreAdj, 1000);
  assert.deepEqual(spec.process!.capabilities!.bounding, DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_NET_RAW'));
  assert.equal(spec.linux!.seccomp!.defaultAction, 'SCMP_ACT_ALLOW');
  assert.deepEqual(spec.linux!.namespaces, [
    { type: 'mount' },
    { type: 'network', path: '/run/crius/ns/p/net' },
    { type: 'ipc', path: '/run/crius/ns/p/ipc' },
    { type: 'uts', path: '/run/crius/ns/p/uts' },
    { type: 'pid', path: '/proc/77/ns/pid' },
    { type: 'user', path: '/run/crius/ns/p/user' },
  ]);
  assert.equal(spec.linux!.uidMappings, undefined, 'joined by path');
  assert.equal(spec.hostname, undefined);
  // every volume idmapped with the kubelet's mapping, runtime-made files with the pod's; /dev/shm and the
  // image VOLUME (copied with owners already in the pod's range) none
  assert.equal(mount(spec, '/var/cache/app').uidMappings, undefined);
  for (const d of ['/srv/data', '/etc/config', '/scratch', '/dev/termination-log', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf']) {
    assert.deepEqual(mount(spec, d).uidMappings, OCI_MAP, d);
    assert.deepEqual(mount(spec, d).gidMappings, OCI_MAP, d);
  }
  assert.deepEqual(mount(spec, '/etc/config').options, ['rbind', 'rprivate', 'ro']);
  assert.deepEqual(mount(spec, '/dev/shm'), { destination: '/dev/shm', type: 'bind', source: '/run/crius/p1/shm', options: ['rbind', 'rprivate', 'nosuid', 'nodev', 'noexec', 'rw'] });
  assert.equal(mount(spec, '/sys').type, 'sysfs', 'the netns is owned by the pod userns: real sysfs');
  for (const m of spec.mounts!) if (!['/srv/data', '/etc/config', '/scratch', '/dev/termination-log', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf'].includes(m.destination)) assert.equal(m.uidMappings, undefined, m.destination);
  assert.deepEqual(spec.linux!.maskedPaths, ['/proc/kcore']);
  assert.deepEqual(spec.linux!.readonlyPaths, ['/proc/sys']);
  assert.deepEqual(spec.linux!.resources!.cpu, { shares: 102 });
  assert.deepEqual(spec.linux!.resources!.memory, { limit: 67108864 });
  assert.equal(spec.linux!.sysctl, undefined, 'the pod applies its sysctls once, not per container');
  assert.equal(spec.linux!.cgroupsPath, '/process_api/x/crius/c');
  assert.equal(spec.annotations!['io.kubernetes.cri.container-type'], 'container');
  // mounts ordered parents first
  const depths = spec.mounts!.map((m) => m.destination.split('/').length);
  assert.deepEqual(depths, [...depths].sort((a, b) => a - b));
  // the spec is plain JSON (no undefined fields, nothing lost in config.json)
  assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec);
  assert.equal(specUsesIdmap(spec), true);
  checkIdmapSupport(spec, { name: 'crun', path: '/usr/bin/crun', version: 'crun version 1.21', features: crun121Features });
});

test('the same pod for runc 1.3: only bind mounts carry mappings, and the check passes', () => {
  const { spec } = buildContainerSpec(usernsInput(handlerCapabilities('runc', runc136Features)));
  const mapped = spec.mounts!.filter((m) => m.uidMappings);
  assert.equal(mapped.length, 7);
  for (const m of mapped) assert.equal(m.type, 'bind', m.destination);
  assert.ok(spec.mounts!.filter((m) => m.type === 'tmpfs').every((m) => !m.uidMappings), 'no idmapped tmpfs for runc');
  checkIdmapSupport(spec, { name: 'runc', path: '/usr/sbin/runc', version: 'runc version 1.3.6+ds1', features: runc136Features });
});

test('the same pod on runc 1.1: building fails first (the handler cannot idmap), and the features check gives the full message', () => {
  assert.throws(() => buildContainerSpec(usernsInput(handlerCapabilities('runc11', runc115Features))), (e: unknown) => e instanceof CriusError && e.code === 'FAILED_PRECONDITION' && /"runc11" cannot do idmapped mounts/.test(e.message));
  const { spec } = buildContainerSpec(usernsInput(handlerCapabilities('crun', crun121Features)));
  assert.throws(
    () => checkIdmapSupport(spec, { name: 'runc11', path: '/opt/runc-1.1/runc', version: 'runc version 1.1.15', features: runc115Features }),
    (e: unknown) =>
      e instanceof CriusError &&
      e.code === 'FAILED_PRECONDITION' &&
      e.message.includes('runtime handler "runc11" (/opt/runc-1.1/runc, runc version 1.1.15)') &&
      e.message.includes('missing `linux.mountExtensions.idmap` entry') &&
      ['/srv/data', '/etc/config', '/scratch'].every((d) => e.message.includes(d)) &&
      e.message.includes('crun >= 1.9 or runc >= 1.2'),
  );
});

test('a pod without a user namespace: no user ns, no mappings anywhere', () => {
  const input = usernsInput(handlerCapabilities('crun', crun121Features));
  input.runtime = { ...input.runtime, userns: null, namespaces: { ...input.runtime.namespaces, user: undefined } };
  for (const m of input.container.mounts ?? []) {
    delete m.uidMappings;
    delete m.gidMappings;
  }
  input.container.linux!.security_context!.namespace_options = {};
  const { spec } = buildContainerSpec(input);
  assert.equal(spec.linux!.namespaces!.some((n) => n.type === 'user'), false);
  assert.equal(specUsesIdmap(spec), false);
});

test('a userns uid outside the mapping fails before the runtime sees it', () => {
  const input = usernsInput(handlerCapabilities('crun', crun121Features));
  input.container.linux!.security_context!.run_as_user = { value: '70000' };
  assert.throws(() => buildContainerSpec(input), /uid 70000 is not mapped in the pod's user namespace \(container uids 0-65535\)/);
});

test('sandbox (pause) spec: new PID namespace, runtime-created userns with the mapping, no caps, read-only root, clamped OOM score', () => {
  const { spec, warnings } = buildSandboxSpec({
    sandbox: SANDBOX,
    image: { Entrypoint: ['/pause'] },
    runtime: runtimeContext({
      ...USERNS_RUNTIME,
      rootfs: '/run/crius/p/pause-rootfs',
      namespaces: { net: '/run/crius/ns/p/net', ipc: '/run/crius/ns/p/ipc', uts: '/run/crius/ns/p/uts' },
      oomScoreAdjMin: 0,
      pauseArgs: ['/crius-pause'],
    }),
  });
  assert.deepEqual(spec.process!.args, ['/crius-pause']);
  assert.deepEqual(spec.process!.capabilities, { bounding: [], effective: [], permitted: [] });
  assert.equal(spec.process!.noNewPrivileges, true);
  assert.equal(spec.process!.oomScoreAdj, 0);
  assert.match(warnings.join('\n'), /-998 raised to 0/);
  assert.deepEqual(spec.root, { path: '/run/crius/p/pause-rootfs', readonly: true });
  assert.deepEqual(spec.linux!.namespaces!.find((n) => n.type === 'pid'), { type: 'pid' });
  assert.deepEqual(spec.linux!.namespaces!.find((n) => n.type === 'user'), { type: 'user' });
  assert.deepEqual(spec.linux!.uidMappings, OCI_MAP);
  assert.equal(spec.annotations!['io.kubernetes.cri.container-type'], 'sandbox');
  assert.deepEqual(spec.linux!.sysctl, { 'net.ipv4.ping_group_range': '0 1' });
  assert.equal(specUsesIdmap(spec), true, 'sandbox files are idmapped too');
  assert.equal(mount(spec, '/dev/shm').uidMappings, undefined);
});
