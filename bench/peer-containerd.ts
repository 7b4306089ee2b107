// A private containerd (Debian's package, never installed) for side-by-side benches: the same client,
// image, OCI runtime (crun) and CNI plugins as crius's own bench node, so a figure can be given as a
// ratio of containerd's in the same run (issue 14).
//
// The package file is fetched with apt (trixie's containerd 1.7 through a private apt state under
// /var/lib/crius-bench/apt-trixie, which touches neither the system's sources nor its package lists; the
// bookworm 1.6 package with a plain `apt-get download` when asked for or when trixie's fails) and unpacked
// with `dpkg -x` into /var/lib/crius-bench/containerd-<version>/; both are kept as a cache. Nothing is
// installed: Debian's runc, the package's config and systemd unit never reach the host, and the host's
// crun 1.21 is the OCI runtime, as for crius.
//
// containerd runs in a mount namespace of its own (`unshare -m --propagation private`), where:
// - the cgroup2 mount of this hybrid host is detached (containerd then sees pure cgroup v1, and crun,
//   which refuses hybrid mode, runs as it does under crius-oci-wrap for crius);
// - a tmpfs covers /run/containerd (the shims' sockets go to /run/containerd/s/, a path containerd 1.7
//   hard-codes), so nothing of it shows on the host;
// - its overlay snapshots, netns pins (netns_mounts_under_state_dir) and shm mounts stay invisible to the
//   host and die with the namespace.
// Its root, config, CNI network (bridge cp-<tag>, its own subnet and IPAM dir) and registry hosts.toml
// are its own, below /var/lib/crius-bench/run-<pid>; its state and socket below
// /run/crius-bench-containerd/<pid>. stop() removes both, and containerd's /k8s.io cgroup parents.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../src/common/exec.js';
import { connectCri, type CriClient } from '../src/cli/client.js';
import { parseMountInfo } from '../src/common/mountinfo.js';
import { cgroupDirs, cgroupExists, detectCgroupLayout, runtimeHiddenMounts } from '../src/cgroup/mode.js';
import { CRUN } from '../test/helpers/host-binaries.js';
import { makeImage, makeLayer, pushImage } from '../test/helpers/build-image.js';
import { nativeBuildPath } from '../src/common/install-root.js';
import { bridgeNetwork, shippedNetwork } from '../test/helpers/cri-fixture.js';

const CACHE = '/var/lib/crius-bench';
const TRIXIE_APT = join(CACHE, 'apt-trixie');
/** containerd's shim socket root in 1.7 (runtime/v2/shim socketRoot = defaults.DefaultStateDir). */
const SHIM_RUN = '/run/containerd';
/** The cgroup parent of containerd's CRI containers when the pod names none (its namespace). */
const K8S_CGROUP = '/k8s.io';

interface ContainerdPackage {
  /** The Debian package version, e.g. 1.7.24~ds1-6+deb13u1. */
  version: string;
  /** `containerd --version`. */
  versionLine: string;
  /** The unpacked usr/bin holding containerd and containerd-shim-runc-v2. */
  binDir: string;
}

async function versionOf(binDir: string): Promise<string | undefined> {
  try {
    return (await run(join(binDir, 'containerd'), ['--version'], { timeoutMs: 10_000 })).stdout.trim();
  } catch {
    return undefined;
  }
}

/** The unpacked packages in the cache that run here, newest upstream version first. */
async function cachedPackages(): Promise<ContainerdPackage[]> {
  const out: ContainerdPackage[] = [];
  for (const name of existsSync(CACHE) ? readdirSync(CACHE) : []) {
    const m = /^containerd-(.+)$/.exec(name);
    if (!m) continue;
    const binDir = join(CACHE, name, 'usr', 'bin');
    const versionLine = await versionOf(binDir);
    if (versionLine) out.push({ version: m[1]!, versionLine, binDir });
  }
  return out.sort((a, b) => b.version.localeCompare(a.version, 'en', { numeric: true }));
}

/** Unpacks a downloaded .deb into the cache; returns the package when its containerd runs here. */
async function unpack(deb: string): Promise<ContainerdPackage | undefined> {
  const version = (await run('dpkg-deb', ['-f', deb, 'Version'])).stdout.trim();
  const dir = join(CACHE, `containerd-${version}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await run('dpkg', ['-x', deb, dir], { timeoutMs: 120_000 });
  const binDir = join(dir, 'usr', 'bin');
  const versionLine = await versionOf(binDir);
  if (!versionLine) {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return { version, versionLine, binDir };
}

/**
 * trixie's containerd (1.7) through apt with a private sources list, list and cache dirs: `apt-get update`
 * and `apt-get download` as usual, but nothing of the system's apt state changes.
 */
async function downloadTrixie(log: (s: string) => void): Promise<string | undefined> {
  const etc = join(TRIXIE_APT, 'etc');
  const dl = join(TRIXIE_APT, 'dl');
  for (const d of [join(etc, 'preferences.d'), join(TRIXIE_APT, 'lists', 'partial'), join(TRIXIE_APT, 'cache', 'archives', 'partial'), dl]) mkdirSync(d, { recursive: true });
  writeFileSync(join(etc, 'sources.list'), 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n');
  const opts = [
    '-o', `Dir::Etc::sourcelist=${join(etc, 'sources.list')}`, '-o', 'Dir::Etc::sourceparts=-',
    '-o', `Dir::Etc::preferencesparts=${join(etc, 'preferences.d')}`, '-o', `Dir::State::Lists=${join(TRIXIE_APT, 'lists')}`,
    '-o', `Dir::Cache=${join(TRIXIE_APT, 'cache')}`, '-o', 'APT::Get::List-Cleanup=0', '-o', 'Acquire::Languages=none',
    '-o', 'Debug::NoLocking=1', '-o', 'APT::Sandbox::User=root', '-q',
  ];
  try {
    log('peer: apt-get update (private trixie lists)');
    await run('apt-get', [...opts, 'update'], { timeoutMs: 300_000 });
    await run('apt-get', [...opts, 'download', 'containerd/trixie'], { cwd: dl, timeoutMs: 300_000 });
  } catch (err) {
    log(`peer: trixie download failed: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
  const deb = readdirSync(dl).filter((f) => f.startsWith('containerd_') && f.endsWith('.deb')).sort().pop();
  return deb ? join(dl, deb) : undefined;
}

/** bookworm's containerd (1.6) with a plain `apt-get download`. */
async function downloadBookworm(log: (s: string) => void): Promise<string | undefined> {
  const dl = join(CACHE, 'dl-bookworm');
  mkdirSync(dl, { recursive: true });
  try {
    log('peer: apt-get download containerd (bookworm)');
    await run('apt-get', ['-q', '-o', 'APT::Sandbox::User=root', 'download', 'containerd'], { cwd: dl, timeoutMs: 300_000 });
  } catch (err) {
    log(`peer: bookworm download failed: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
  const deb = readdirSync(dl).filter((f) => f.startsWith('containerd_') && f.endsWith('.deb')).sort().pop();
  return deb ? join(dl, deb) : undefined;
}

/** Which Debian release's containerd: trixie (1.7, the default) or bookworm (1.6). */
type ContainerdSuite = 'trixie' | 'bookworm';
const SERIES: Record<ContainerdSuite, string> = { trixie: '1.7.', bookworm: '1.6.' };

/**
 * The containerd to run: the cached package of that suite, else downloaded and unpacked once. trixie's
 * falls back to bookworm's when it cannot be fetched or does not run here (remembered in apt-trixie/failed,
 * so later runs do not ask the archive again).
 */
async function prepareContainerd(suite: ContainerdSuite, log: (s: string) => void): Promise<ContainerdPackage> {
  const cached = async (s: ContainerdSuite): Promise<ContainerdPackage | undefined> => (await cachedPackages()).find((p) => p.version.startsWith(SERIES[s]));
  if (suite === 'trixie') {
    const have = await cached('trixie');
    if (have) return have;
    if (!existsSync(join(TRIXIE_APT, 'failed'))) {
      const deb = await downloadTrixie(log);
      const pkg = deb ? await unpack(deb) : undefined;
      if (pkg) return pkg;
      mkdirSync(TRIXIE_APT, { recursive: true });
      writeFileSync(join(TRIXIE_APT, 'failed'), `${new Date().toISOString()}\n`);
    }
    log('peer: trixie\'s containerd is not available here; using bookworm\'s');
  }
  const have = await cached('bookworm');
  if (have) return have;
  const deb = await downloadBookworm(log);
  const pkg = deb ? await unpack(deb) : undefined;
  if (!pkg) throw new Error('no containerd package could be downloaded and run here (see the messages above)');
  return pkg;
}

/**
 * A pause image for containerd's sandboxes: one layer holding crius's own static infra binary as /pause
 * (sleeps, reaps, exits 0 on SIGTERM: what registry.k8s.io/pause does), pushed to the bench registry.
 */
export async function pushPauseImage(registryUrl: string, registryHost: string): Promise<string> {
  const layer = await makeLayer([{ path: 'pause', content: readFileSync(nativeBuildPath('crius-pause')), mode: 0o755 }]);
  await pushImage({ url: registryUrl }, 'test/pause', 'latest', makeImage([layer], { Entrypoint: ['/pause'], Cmd: [], Env: [] }));
  return `${registryHost}/test/pause:latest`;
}

export interface PeerContainerd {
  pkg: ContainerdPackage;
  /** unix:///run/crius-bench-containerd/<pid>/containerd.sock */
  endpoint: string;
  client: CriClient;
  pid: number;
  /** The socket dir: every shim's command line names it (-address), so supervisorPids(scope) finds ours. */
  scope: string;
  /** Root (persistent) dir. */
  root: string;
  /** From spawning containerd to its first Status with every condition true (the package already prepared). */
  readyMs: number;
  logs(): string;
  /**
   * What the removed pods left behind, one line each (empty when clean): mounts and netns pins in
   * containerd's namespace, shims, veths on its bridge, IP reservations, pod and container cgroups.
   */
  leaks(ids: string[]): Promise<string[]>;
  /** Stops containerd and its shims and removes all it made: dirs, bridge, cgroups, /run/containerd. */
  stop(): Promise<string[]>;
}

interface PeerOptions {
  /** The local registry (127.0.0.1:PORT) the images come from, over plain HTTP. */
  registryHost: string;
  /** The sandbox image (see pushPauseImage). */
  sandboxImage: string;
  /** Bridge cp-<tag> (max 6 chars). */
  tag: string;
  /** The pod subnet 10.<subnet>.0.0/16 (one crius tests do not use). */
  subnet: number;
  /** The pod network: 'bridge' (default, like the bench node's) or 'shipped' (crius's ptp network). */
  network?: 'bridge' | 'shipped';
  /** trixie (1.7, default) or bookworm (1.6). */
  suite?: ContainerdSuite;
  log?: (s: string) => void;
}

function configToml(o: { root: string; state: string; socket: string; cniDir: string; certsDir: string; sandboxImage: string }): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = "${o.root}"
state = "${o.state}"
# Plugins that would touch host paths (/opt/containerd) or are not used here.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${o.socket}"
[ttrpc]
  address = "${o.socket}.ttrpc"
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""

[${cri}]
  sandbox_image = "${o.sandboxImage}"
  enable_selinux = false
  disable_apparmor = true
  # This host (itself a sandbox) lacks CAP_SYS_RESOURCE: the pause container's -998 cannot be written.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "crun"
    [${cri}.containerd.runtimes.crun]
      runtime_type = "io.containerd.runc.v2"
      [${cri}.containerd.runtimes.crun.options]
        BinaryName = "${CRUN}"
        SystemdCgroup = false
  [${cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${o.cniDir}"
    max_conf_num = 1
  [${cri}.registry]
    config_path = "${o.certsDir}"
`;
}

function mountNsOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/** PIDs of processes in the given mount namespace (containerd, its shims). */
function pidsInMountNs(ns: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (/^\d+$/.test(name) && mountNsOf(Number(name)) === ns) out.push(Number(name));
  }
  return out;
}

/** containerd-shim processes whose command line names `scope`. */
function shimsOf(scope: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (!readFileSync(`/proc/${name}/comm`, 'utf8').startsWith('containerd-shim')) continue;
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(scope)) out.push(Number(name));
    } catch { /* gone */ }
  }
  return out;
}

/** Names of the host's veth interfaces. */
async function hostVeths(): Promise<Set<string>> {
  const out = (await run('/usr/sbin/ip', ['-o', 'link', 'show', 'type', 'veth'])).stdout;
  return new Set(out.split('\n').filter(Boolean).map((l) => (l.split(':')[1] ?? '').trim().split('@')[0]!));
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export async function startPeerContainerd(o: PeerOptions): Promise<PeerContainerd> {
  const log = o.log ?? (() => undefined);
  const pkg = await prepareContainerd(o.suite ?? 'trixie', log);
  const runDir = join(CACHE, `run-${process.pid}`);
  const sockDir = `/run/crius-bench-containerd/${process.pid}`;
  const root = join(runDir, 'root');
  const state = join(sockDir, 'state');
  const socket = join(sockDir, 'containerd.sock');
  const cniDir = join(runDir, 'cni');
  const ipamDir = join(runDir, 'ipam');
  const certsDir = join(runDir, 'certs.d');
  const bridge = `cp-${o.tag}`;
  for (const d of [root, state, cniDir, join(certsDir, o.registryHost)]) mkdirSync(d, { recursive: true });
  // The same network as crius's bench node: the tests' bridge, or crius's shipped ptp network (the
  // plugins as in contrib/cni/10-crius.conflist, with our name, subnet and IPAM dir).
  const subnet = `10.${o.subnet}.0.0/16`;
  writeFileSync(join(cniDir, '10-peer.conflist'), JSON.stringify(o.network === 'shipped'
    ? shippedNetwork(`crius-peer-${o.tag}`, subnet, ipamDir)
    : bridgeNetwork(`crius-peer-${o.tag}`, bridge, subnet, ipamDir)));
  // ptp leaves no bridge to look at: a pod's host-side veth that outlives it is found by name instead.
  const vethsBefore = await hostVeths();
  writeFileSync(join(certsDir, o.registryHost, 'hosts.toml'),
    `server = "http://${o.registryHost}"\n\n[host."http://${o.registryHost}"]\n  capabilities = ["pull", "resolve"]\n`);
  const configPath = join(runDir, 'config.toml');
  writeFileSync(configPath, configToml({ root, state, socket, cniDir, certsDir, sandboxImage: o.sandboxImage }));

  // /run/containerd must exist on the host to be covered by the namespace's tmpfs; made only if absent,
  // and removed again by stop().
  const madeShimRun = !existsSync(SHIM_RUN);
  if (madeShimRun) mkdirSync(SHIM_RUN);
  const layout = await detectCgroupLayout();
  const hide = runtimeHiddenMounts(layout);
  // With no cgroup_parent (the bench sends none), containerd's pods go to /k8s.io/<id> in every v1
  // hierarchy; the /k8s.io parents crun makes are removed by stop() unless they were there before.
  const k8sBefore = new Set(await cgroupExists(layout, K8S_CGROUP));
  const script = [
    'set -e',
    ...hide.map((m) => `umount ${m}`),
    `mount -t tmpfs -o mode=0711,size=16m crius-bench-shims ${SHIM_RUN}`,
    `exec ${join(pkg.binDir, 'containerd')} --config ${configPath}`,
  ].join('\n');
  const spawnedAt = Date.now();
  const proc: ChildProcess = spawn('unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: `${pkg.binDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: '/root' },
  });
  let logs = '';
  const keep = (b: Buffer): void => { logs += b.toString(); if (logs.length > 4_000_000) logs = logs.slice(-2_000_000); };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const pid = proc.pid!;
  let client: CriClient | undefined;
  let ns: string | undefined;
  let readyMs = 0;

  const stop = async (): Promise<string[]> => {
    const left: string[] = [];
    if (client) {
      // Whatever a failed run left: stopped and removed through CRI, as the kubelet would.
      try {
        const pods = await client.call<{ items: { id: string }[] }>('runtime', 'ListPodSandbox', {}, 10_000);
        for (const p of pods.items) {
          await client.call('runtime', 'StopPodSandbox', { pod_sandbox_id: p.id }).catch(() => undefined);
          await client.call('runtime', 'RemovePodSandbox', { pod_sandbox_id: p.id }).catch(() => undefined);
        }
      } catch { /* containerd already gone */ }
      client.close();
    }
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    // Shims outlive containerd by design (they are re-parented); ours all sit in its mount namespace.
    if (ns) {
      for (const p of pidsInMountNs(ns)) {
        let comm = '?';
        try { comm = readFileSync(`/proc/${p}/comm`, 'utf8').trim(); } catch { /* gone */ }
        left.push(`process ${p} (${comm}) still in containerd's mount namespace; killed`);
        try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    await run('/usr/sbin/ip', ['link', 'del', bridge], { okCodes: [0, 1] }).catch(() => undefined);
    rmSync(runDir, { recursive: true, force: true });
    rmSync(sockDir, { recursive: true, force: true });
    try { rmdirSync('/run/crius-bench-containerd'); } catch { /* another run's dir, or gone */ }
    for (const dir of cgroupDirs(layout, K8S_CGROUP)) {
      if (k8sBefore.has(dir) || !existsSync(dir)) continue;
      try { rmdirSync(dir); } catch (err) { left.push(`cgroup ${dir} not removed: ${(err as Error).message}`); }
    }
    if (madeShimRun) {
      try { rmdirSync(SHIM_RUN); } catch (err) { left.push(`${SHIM_RUN} not removed: ${(err as Error).message}`); }
    }
    return left;
  };

  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`containerd exited at start (${proc.exitCode ?? proc.signalCode}):\n${logs.slice(-3000)}`);
      if (existsSync(socket)) {
        client ??= connectCri(`unix://${socket}`, { 'grpc.use_local_subchannel_pool': 1 });
        try {
          const st = await client.call<{ status: { conditions: { type: string; status: boolean }[] } }>('runtime', 'Status', {}, 2000);
          if (st.status.conditions.every((c) => c.status)) break;
        } catch { /* CRI plugin not serving yet */ }
      }
      if (Date.now() > deadline) throw new Error(`containerd did not answer Status with every condition true within 30 s:\n${logs.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    readyMs = Date.now() - spawnedAt;
    ns = mountNsOf(pid);
  } catch (err) {
    await stop();
    throw err;
  }

  const leaks = async (ids: string[]): Promise<string[]> => {
    const found: string[] = [];
    const end = Date.now() + 3000;
    for (;;) {
      found.length = 0;
      // Its mounts exist only in its namespace: read them there.
      let mi = '';
      try { mi = readFileSync(`/proc/${pid}/mountinfo`, 'utf8'); } catch { /* gone */ }
      for (const m of parseMountInfo(mi)) {
        if (m.mountPoint.startsWith(`${root}/`) || m.mountPoint.startsWith(`${state}/`)) found.push(`mount ${m.mountPoint}`);
      }
      for (const f of entries(join(state, 'netns'))) found.push(`netns pin ${join(state, 'netns', f)}`);
      for (const p of shimsOf(sockDir)) found.push(`shim pid ${p}`);
      try {
        const ports = (await run('/usr/sbin/ip', ['-o', 'link', 'show', 'master', bridge], { okCodes: [0, 1] })).stdout;
        for (const l of ports.split('\n').filter(Boolean)) found.push(`interface ${l.split(':')[1]?.trim()} on ${bridge}`);
      } catch { /* no bridge */ }
      for (const v of await hostVeths()) if (!vethsBefore.has(v)) found.push(`host veth ${v}`);
      for (const net of entries(ipamDir)) {
        for (const f of entries(join(ipamDir, net))) if (/^\d+\.\d+\.\d+\.\d+$/.test(f)) found.push(`IP reservation ${join(ipamDir, net, f)}`);
      }
      for (const id of ids) for (const dir of await cgroupExists(layout, `${K8S_CGROUP}/${id}`)) found.push(`cgroup ${dir}`);
      if (found.length === 0 || Date.now() >= end) return [...found];
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  return { pkg, endpoint: `unix://${socket}`, client: client!, pid, scope: sockDir, root, readyMs, logs: () => logs, leaks, stop };
}
