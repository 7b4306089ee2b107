// A whole node for integration tests: a local registry holding a busybox image, a CNI config of the
// test's own (its own bridge and subnet), and the real daemon configured with crun, runc and that network.
// Tests talk to it over CRI exactly as the kubelet would.
import { CRUN, RUNC } from './host-binaries.js';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { PROJECT_ROOT, startTestDaemon, waitFor, type TestDaemon } from './daemon.js';
import { run } from '../../src/common/exec.js';
import { startRegistry, type TestRegistry } from './registry.js';
import { busyboxImage, pushImage } from './build-image.js';

export interface CriNode {
  daemon: TestDaemon;
  registry: TestRegistry;
  /** The busybox image reference in the local registry. */
  image: string;
  dir: string;
  logDir: string;
  call<T = Record<string, any>>(method: string, req: object, timeoutMs?: number): Promise<T>;
  image_call<T = Record<string, any>>(method: string, req: object, timeoutMs?: number): Promise<T>;
  cleanup(): Promise<void>;
  /**
   * Ends the daemon (SIGKILL: a crash; SIGTERM: a clean shutdown) and starts a new one on the same dirs;
   * `daemon`, `call` and `image_call` then talk to the new one.
   */
  restartDaemon(how: 'kill' | 'term'): Promise<void>;
}

interface CriNodeOptions {
  /** Extra TOML appended to the config. */
  extraConfig?: string;
  /** A short unique tag for the bridge and network names (max 6 chars). */
  tag: string;
  /** Third octet-pair of the test subnet, e.g. 90 -> 10.90.0.0/16. */
  subnet: number;
  /** Extra criusd flags (later flags win, e.g. ['--log-level', 'info'] for benches). */
  daemonArgs?: string[];
  /** Flags for node itself when it runs the daemon (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /**
   * The pod network: 'bridge' (the tests' default, bridge ct-<tag>, no masquerade) or 'shipped' (crius's
   * own default, contrib/cni/10-crius.conflist: ptp, a veth per pod routed by the host, no bridge, which
   * takes at most 1023 ports, so dense nodes need it), with the node's name, subnet and IPAM dir.
   */
  network?: 'bridge' | 'shipped';
}

interface TestNetworkList { cniVersion: string; name: string; plugins: Record<string, any>[] }

/** contrib/cni/10-crius.conflist with its name, subnet and IPAM data dir replaced (the plugins as shipped). */
export function shippedNetwork(name: string, subnet: string, ipamDir: string): TestNetworkList {
  const list = JSON.parse(readFileSync(join(PROJECT_ROOT, 'contrib', 'cni', '10-crius.conflist'), 'utf8')) as TestNetworkList;
  const main = list.plugins[0]!;
  return { ...list, name, plugins: [{ ...main, ipam: { ...main['ipam'], ranges: [[{ subnet }]], dataDir: ipamDir } }, ...list.plugins.slice(1)] };
}

/** The tests' and benches' own network: a bridge of its own, host-local, no masquerade, portmap. */
export function bridgeNetwork(name: string, bridge: string, subnet: string, ipamDir: string): TestNetworkList {
  return {
    cniVersion: '1.0.0', name, disableCheck: true,
    plugins: [
      {
        type: 'bridge', bridge, isGateway: true, ipMasq: false, hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDir },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  } as TestNetworkList;
}

export async function startCriNode(o: CriNodeOptions): Promise<CriNode> {
  const dir = mkdtempSync(join(tmpdir(), 'crius-n-'));
  const cniDir = join(dir, 'cni');
  mkdirSync(cniDir);
  const subnet = `10.${o.subnet}.0.0/16`;
  writeFileSync(join(cniDir, '10-test.conflist'), JSON.stringify(o.network === 'shipped'
    ? shippedNetwork(`crius-${o.tag}`, subnet, join(dir, 'ipam'))
    : bridgeNetwork(`crius-${o.tag}`, `ct-${o.tag}`, subnet, join(dir, 'ipam'))));
  const registry = await startRegistry();
  const img = await busyboxImage('gzip', { Cmd: ['sh'], Env: ['PATH=/bin'] });
  await pushImage({ url: registry.url }, 'test/busybox', 'latest', img);
  const config = `
default_runtime = "crun"
[runtimes.crun]
path = "${CRUN}"
[runtimes.runc]
path = "${RUNC}"
[cni]
conf_dir = "${cniDir}"
plugin_dirs = ["/usr/lib/cni"]
${o.extraConfig ?? ''}
`;
  let daemon: TestDaemon;
  try {
    daemon = await startTestDaemon({ config, extraArgs: o.daemonArgs, nodeArgs: o.nodeArgs });
  } catch (err) {
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const logDir = join(dir, 'logs');
  mkdirSync(logDir);
  const node: CriNode = {
    daemon, registry, image: `${registry.host}/test/busybox:latest`, dir, logDir,
    call: (method, req, t) => node.daemon.client.call('runtime', method, req, t),
    image_call: (method, req, t) => node.daemon.client.call('image', method, req, t),
    restartDaemon: async (how) => {
      if (how === 'kill') await node.daemon.kill();
      else await node.daemon.stop();
      node.daemon = await node.daemon.restart();
    },
    cleanup: async () => {
      // Remove whatever pods a failed test left, so nothing leaks (mounts, netns, conmon).
      try {
        const pods = await node.call<{ items: { id: string }[] }>('ListPodSandbox', {});
        for (const p of pods.items) {
          await node.call('StopPodSandbox', { pod_sandbox_id: p.id }).catch(() => undefined);
          await node.call('RemovePodSandbox', { pod_sandbox_id: p.id }).catch(() => undefined);
        }
      } catch { /* daemon already gone */ }
      await node.daemon.stop();
      // The daemon's dir (database, images, state) goes too, unless a pod left a mount in it: then the leak
      // stays for scripts/test.sh's leak check to report, rather than failing this cleanup with EBUSY.
      if (!readFileSync('/proc/self/mountinfo', 'utf8').includes(`${node.daemon.dir}/`)) rmSync(node.daemon.dir, { recursive: true, force: true });
      await registry.stop();
      // The bridge plugin leaves its bridge behind on DEL (by design: other pods may use it). A stale
      // bridge on a subnet another test reuses would misroute that test's pod traffic, so remove it.
      await run('/usr/sbin/ip', ['link', 'del', `ct-${o.tag}`], { okCodes: [0, 1] }).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return node;
}

let podCounter = 0;

export function podConfig(node: CriNode, extra: Record<string, any> = {}): Record<string, any> {
  podCounter++;
  const name = extra['name'] ?? `pod${podCounter}`;
  const { name: _n, linux, ...rest } = extra;
  return {
    metadata: { name, namespace: 'test', uid: `uid-${name}-${Date.now()}`, attempt: 0 },
    hostname: name,
    log_directory: join(node.logDir, name),
    linux: { security_context: { namespace_options: {} }, ...(linux ?? {}) },
    ...rest,
  };
}

/** The userns_options a kubelet sends for hostUsers: false with host range H (length 65536). */
export function podUserns(hostId: number, length = 65536): Record<string, any> {
  return { mode: 'POD', uids: [{ container_id: 0, host_id: hostId, length }], gids: [{ container_id: 0, host_id: hostId, length }] };
}

export function containerConfig(node: CriNode, name: string, command: string[], extra: Record<string, any> = {}): Record<string, any> {
  return {
    metadata: { name, attempt: 0 },
    image: { image: node.image },
    command,
    log_path: `${name}.log`,
    linux: { security_context: { namespace_options: {} } },
    ...extra,
  };
}

/** Pulls, runs the pod, creates and starts a container; returns both IDs. */
export async function runContainer(node: CriNode, pod: Record<string, any>, ctr: Record<string, any>, handler = ''): Promise<{ podId: string; containerId: string }> {
  await node.image_call('PullImage', { image: { image: node.image } });
  const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: handler });
  const { container_id: containerId } = await node.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: ctr, sandbox_config: pod });
  await node.call('StartContainer', { container_id: containerId });
  return { podId, containerId };
}

export async function waitExited(node: CriNode, containerId: string, timeoutMs = 20_000): Promise<Record<string, any>> {
  let status: Record<string, any> = {};
  await waitFor(async () => {
    status = (await node.call<{ status: Record<string, any> }>('ContainerStatus', { container_id: containerId })).status;
    return status['state'] === 'CONTAINER_EXITED';
  }, timeoutMs, `container ${containerId} to exit`);
  return status;
}

/** The CRI log's content lines (the 4th field of each `time stream tag content` record), joined. */
export function logContent(path: string): string {
  if (!existsSync(path)) return '';
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => {
    const parts = l.split(' ');
    return { tag: parts[2], text: parts.slice(3).join(' ') };
  }).reduce((acc, r) => acc + r.text + (r.tag === 'F' ? '\n' : ''), '');
}

export async function removePod(node: CriNode, podId: string): Promise<void> {
  await node.call('StopPodSandbox', { pod_sandbox_id: podId });
  await node.call('RemovePodSandbox', { pod_sandbox_id: podId });
}
