// CNI for pod networks, as CRI-O's ocicni and libcni do it (CNI SPEC.md 1.0): the default network is the
// lexicographically first .conf/.conflist/.json in the config dir; ADD runs the list's plugins in order,
// each with the previous result as prevResult and only the runtimeConfig its capabilities ask for; the
// final result is stored (like /var/lib/cni/results) and DEL runs the plugins in reverse with it, so DEL
// works after a daemon restart and is idempotent (a missing netns or result is fine). Operations on one
// pod never overlap. NetworkReady is true once a config loads and its plugins exist.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CriusError, failedPrecondition, internal, invalidArgument } from '../common/errors.js';
import { ExecError, run, type Runner } from '../common/exec.js';
import { KeyedLock } from '../common/keyed-lock.js';

interface CniOptions {
  confDir: string;
  pluginDirs: string[];
  /** Where final ADD results are kept, e.g. <root>/cni/results. */
  resultsDir: string;
  ifName?: string;
}

interface CniPluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [k: string]: unknown;
}

interface CniNetworkList {
  file: string;
  name: string;
  cniVersion: string;
  disableCheck: boolean;
  plugins: CniPluginConf[];
}

interface CniPortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIP?: string;
}

export interface CniPod {
  id: string;
  name: string;
  namespace: string;
  uid: string;
}

interface CniResult {
  cniVersion?: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: unknown[];
  dns?: unknown;
  [k: string]: unknown;
}

const CONF_EXT = ['.conf', '.conflist', '.json'];

/** The default network's file: the lexicographically first config file name (ocicni). Pure. */
export function pickConfigFile(names: readonly string[]): string | undefined {
  return [...names].filter((n) => CONF_EXT.includes(path.extname(n))).sort()[0];
}

/** A .conflist, or a single-plugin .conf wrapped as a list. Pure. */
export function parseNetworkConfig(text: string, file: string): CniNetworkList {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw failedPrecondition(`CNI config ${file} is not valid JSON (${err instanceof Error ? err.message : String(err)}); fix or remove it`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw failedPrecondition(`CNI config ${file} is not a JSON object`);
  const o = v as Record<string, unknown>;
  const name = o['name'];
  const cniVersion = o['cniVersion'];
  if (typeof name !== 'string' || name === '') throw failedPrecondition(`CNI config ${file} has no "name"`);
  if (typeof cniVersion !== 'string') throw failedPrecondition(`CNI config ${file} has no "cniVersion"`);
  let plugins: unknown;
  if (Array.isArray(o['plugins'])) plugins = o['plugins'];
  else if (typeof o['type'] === 'string') plugins = [o];
  else throw failedPrecondition(`CNI config ${file} has neither "plugins" nor "type"`);
  const list = (plugins as unknown[]).map((p, i) => {
    if (typeof p !== 'object' || p === null || typeof (p as Record<string, unknown>)['type'] !== 'string') {
      throw failedPrecondition(`CNI config ${file}: plugin ${i} has no "type"`);
    }
    const t = (p as Record<string, unknown>)['type'] as string;
    if (t.includes('/') || t.startsWith('.')) throw failedPrecondition(`CNI config ${file}: plugin type "${t}" is not a plain binary name`);
    return p as CniPluginConf;
  });
  if (list.length === 0) throw failedPrecondition(`CNI config ${file} has an empty plugin list`);
  return { file, name, cniVersion, disableCheck: o['disableCheck'] === true, plugins: list };
}

/**
 * The stdin config of one plugin of a list: the plugin object with the list's name and cniVersion,
 * "capabilities" replaced by the runtimeConfig entries it declares, and prevResult. Pure.
 */
export function pluginStdin(list: CniNetworkList, plugin: CniPluginConf, runtimeConfig: Record<string, unknown>, prevResult?: CniResult): Record<string, unknown> {
  const { capabilities, ...rest } = plugin;
  const conf: Record<string, unknown> = { ...rest, name: list.name, cniVersion: list.cniVersion };
  const rc: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(capabilities ?? {})) {
    if (on && runtimeConfig[cap] !== undefined) rc[cap] = runtimeConfig[cap];
  }
  if (Object.keys(rc).length > 0) conf['runtimeConfig'] = rc;
  if (prevResult !== undefined) conf['prevResult'] = prevResult;
  return conf;
}

/** The pod's IPs (without prefix length): those on the sandbox interface `ifName`, else all. Pure. */
export function podIpsFromResult(result: CniResult, ifName = 'eth0'): string[] {
  const ifaces = result.interfaces ?? [];
  const ips = result.ips ?? [];
  const onPod = ips.filter((ip) => {
    const i = ip.interface;
    if (i === undefined) return false;
    const iface = ifaces[i];
    return iface !== undefined && iface.name === ifName && (iface.sandbox ?? '') !== '';
  });
  return (onPod.length > 0 ? onPod : ips).map((ip) => ip.address.split('/')[0] ?? ip.address);
}

export function cniArgs(pod: CniPod): string {
  const clean = (s: string): string => s.replace(/[;=]/g, '_');
  return `IgnoreUnknown=1;K8S_POD_NAMESPACE=${clean(pod.namespace)};K8S_POD_NAME=${clean(pod.name)};` +
    `K8S_POD_INFRA_CONTAINER_ID=${clean(pod.id)};K8S_POD_UID=${clean(pod.uid)}`;
}

/**
 * portmap given no port mappings is a pass-through: ADD prints prevResult and DEL has nothing to remove,
 * neither runs iptables (checked with strace on plugins 1.1.1). Skipping it saves a Go process start per
 * pod without host ports; DEL still runs it whenever the cached ADD had mappings, or no cache exists.
 */
export function isIdlePortmap(plugin: CniPluginConf, runtimeConfig: Record<string, unknown>): boolean {
  const pm = runtimeConfig['portMappings'];
  return plugin.type === 'portmap' && plugin.capabilities?.['portMappings'] === true && !(Array.isArray(pm) && pm.length > 0);
}

interface CniCache {
  result: CniResult;
  runtimeConfig: Record<string, unknown>;
}

/** The per-pod NAT chain of the bridge plugin's ipMasq: "CNI-" + sha512(network name + id), 28 chars. Pure. */
export function bridgeMasqChain(network: string, podId: string): string {
  return `CNI-${createHash('sha512').update(network + podId).digest('hex')}`.slice(0, 28);
}

interface CniStatus {
  ready: boolean;
  reason?: string;
  message?: string;
  network?: CniNetworkList;
}

export interface Cni {
  /** NetworkReady: a config loads and every plugin it names exists. */
  status(): Promise<CniStatus>;
  /** ADD into the pinned netns; returns the pod IPs (primary first) and the stored result. */
  add(pod: CniPod, netns: string, ports: CniPortMapping[]): Promise<{ ips: string[]; result: CniResult }>;
  /** DEL (reverse order, stored result); idempotent, tolerates a missing netns and a missing result. */
  del(pod: CniPod, netns: string | undefined): Promise<void>;
  /** The stored ADD result of a pod, if any (for status after a restart). */
  storedResult(podId: string): Promise<CniResult | undefined>;
}

function pluginError(type: string, cmd: string, err: unknown): CriusError {
  if (err instanceof ExecError) {
    let msg = err.stderr.trim() || err.message;
    try {
      const e = JSON.parse(err.stdout) as { code?: number; msg?: string; details?: string };
      if (e.msg) msg = `${e.msg}${e.details ? ` (${e.details})` : ''} [CNI error ${e.code ?? '?'}]`;
    } catch { /* not JSON */ }
    return internal(`CNI plugin ${type} ${cmd}: ${msg}`, err);
  }
  return internal(`CNI plugin ${type} ${cmd}: ${err instanceof Error ? err.message : String(err)}`, err);
}

/** statfs(2) f_type of nsfs (linux/magic.h NSFS_MAGIC): a pinned namespace file or /proc/PID/ns/net. */
const NSFS_MAGIC = 0x6e736673;

/** Whether `path` is a live network namespace (a pin that still pins, or a /proc ns link). */
function isNetns(path: string): boolean {
  try {
    return statfsSync(path).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

export function createCni(o: CniOptions, runner: Runner = run): Cni {
  const ifName = o.ifName ?? 'eth0';
  // ADD and DEL of one pod never overlap (a DEL racing its ADD would leave the ADD's interface behind).
  const locks = new KeyedLock();
  const serialize = <T>(key: string, fn: () => Promise<T>): Promise<T> => locks.exclusive(key, fn);

  // Synchronous on purpose: a directory of a few entries and a file of a few hundred bytes (~0.05 ms),
  // read by every Status, ADD and DEL. Through the libuv pool, Status waited behind whatever filled it (an
  // image removal's 20,000 unlinks made Status take 200 ms).
  const load = async (): Promise<CniNetworkList | undefined> => {
    let names: string[];
    try {
      names = readdirSync(o.confDir);
    } catch {
      return undefined;
    }
    const file = pickConfigFile(names);
    if (!file) return undefined;
    const full = path.join(o.confDir, file);
    return parseNetworkConfig(readFileSync(full, 'utf8'), full);
  };

  const findPlugin = (type: string): string | undefined =>
    o.pluginDirs.map((d) => path.join(d, type)).find((p) => existsSync(p));

  const requireNetwork = async (): Promise<CniNetworkList> => {
    const list = await load();
    if (!list) throw failedPrecondition(`no CNI network config in ${o.confDir}; install one (scripts/setup.sh writes 10-crius.conflist)`);
    return list;
  };

  const resultFile = (list: CniNetworkList, podId: string): string => path.join(o.resultsDir, `${list.name}-${podId}-${ifName}.json`);

  const exec = async (list: CniNetworkList, plugin: CniPluginConf, command: 'ADD' | 'DEL', pod: CniPod, netns: string | undefined, stdin: object): Promise<CniResult | undefined> => {
    const bin = findPlugin(plugin.type);
    if (!bin) throw failedPrecondition(`CNI plugin "${plugin.type}" (network ${list.name}) is not in ${o.pluginDirs.join(', ')}`);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: pod.id,
      CNI_IFNAME: ifName,
      CNI_PATH: o.pluginDirs.join(':'),
      CNI_ARGS: cniArgs(pod),
      ...(netns !== undefined ? { CNI_NETNS: netns } : {}),
    };
    let out;
    try {
      out = await runner(bin, [], { input: JSON.stringify(stdin), env, timeoutMs: 60_000 });
    } catch (err) {
      throw pluginError(plugin.type, command, err);
    }
    if (command === 'DEL' || out.stdout.trim() === '') return undefined;
    try {
      return JSON.parse(out.stdout) as CniResult;
    } catch {
      throw internal(`CNI plugin ${plugin.type} ADD printed no JSON result: ${out.stdout.slice(0, 200)}`);
    }
  };

  const runtimeConfigFor = (ports: CniPortMapping[]): Record<string, unknown> => {
    const portMappings = ports.filter((p) => p.hostPort > 0).map((p) => ({
      hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol,
      ...(p.hostIP ? { hostIP: p.hostIP } : {}),
    }));
    return portMappings.length > 0 ? { portMappings } : {};
  };

  // Like libcni's cache: the result and the runtimeConfig of the ADD, because DEL needs both (portmap
  // 1.1.1 finds its CNI-HOSTPORT-DNAT entry rule only by the same port list).
  const readCache = async (list: CniNetworkList, podId: string): Promise<CniCache | undefined> => {
    try {
      const v = JSON.parse(await readFile(resultFile(list, podId), 'utf8')) as Partial<CniCache>;
      return { result: v.result ?? {}, runtimeConfig: v.runtimeConfig ?? {} };
    } catch {
      return undefined;
    }
  };

  const storedResult = async (podId: string): Promise<CniResult | undefined> => {
    const list = await load().catch(() => undefined);
    return list ? (await readCache(list, podId))?.result : undefined;
  };

  // bridge 1.1.1 tears down its ipMasq rules only from inside the netns (it reads the addresses there),
  // so a DEL without the netns would leave them. Remove them as the plugin would: the POSTROUTING jump
  // for each pod IP and the per-pod chain (utils.FormatChainName/FormatComment).
  const teardownMasq = async (list: CniNetworkList, podId: string, result: CniResult): Promise<void> => {
    if (!list.plugins.some((p) => p.type === 'bridge' && p['ipMasq'] === true)) return;
    const chain = bridgeMasqChain(list.name, podId);
    const comment = `name: "${list.name}" id: "${podId}"`;
    const ipt = (args: string[]): Promise<unknown> => runner('/usr/sbin/iptables', ['-w', '-t', 'nat', ...args], { timeoutMs: 30_000 }).catch(() => undefined);
    for (const ip of result.ips ?? []) {
      if (ip.address.includes(':')) continue;
      const host = `${ip.address.split('/')[0] ?? ''}/32`;
      await ipt(['-D', 'POSTROUTING', '-s', host, '-m', 'comment', '--comment', comment, '-j', chain]);
    }
    await ipt(['-F', chain]);
    await ipt(['-X', chain]);
  };

  const doDel = async (pod: CniPod, netns: string | undefined): Promise<void> => {
    const list = await load();
    if (!list) return; // nothing was ever added through a config we can see
    const cache = await readCache(list, pod.id);
    // A netns that is gone (pod removed, host rebooted) is omitted: DEL must still release the IP. So is a
    // pin file that no longer pins one (a crash between its umount and its unlink leaves an empty file):
    // plugins would fail to enter it, and RemovePodSandbox could never succeed.
    const ns = netns !== undefined && isNetns(netns) ? netns : undefined;
    const errors: string[] = [];
    for (const plugin of [...list.plugins].reverse()) {
      if (cache && isIdlePortmap(plugin, cache.runtimeConfig)) continue;
      try {
        await exec(list, plugin, 'DEL', pod, ns, pluginStdin(list, plugin, cache?.runtimeConfig ?? {}, cache?.result));
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
      }
    }
    if (ns === undefined && cache) await teardownMasq(list, pod.id, cache.result);
    if (errors.length > 0) throw internal(`CNI DEL of pod ${pod.namespace}/${pod.name} (${pod.id}) on network ${list.name}: ${errors.join('; ')}`);
    await rm(resultFile(list, pod.id), { force: true });
  };

  return {
    async status() {
      let list: CniNetworkList | undefined;
      try {
        list = await load();
      } catch (err) {
        return { ready: false, reason: 'NetworkPluginNotReady', message: err instanceof Error ? err.message : String(err) };
      }
      if (!list) return { ready: false, reason: 'NetworkPluginNotReady', message: `no CNI network config in ${o.confDir}` };
      const missing = list.plugins.map((p) => p.type).filter((t) => !findPlugin(t));
      if (missing.length > 0) {
        return { ready: false, reason: 'NetworkPluginNotReady', message: `CNI plugins ${missing.join(', ')} of ${list.file} are not in ${o.pluginDirs.join(', ')}`, network: list };
      }
      return { ready: true, network: list };
    },

    add(pod, netns, ports) {
      return serialize(pod.id, async () => {
        const list = await requireNetwork();
        if (!existsSync(netns)) throw invalidArgument(`CNI ADD for pod ${pod.namespace}/${pod.name}: network namespace ${netns} does not exist`);
        await mkdir(o.resultsDir, { recursive: true, mode: 0o700 });
        // lo is already up: crius-podns brought it up when it created the netns (pod/namespaces.ts).
        const rc = runtimeConfigFor(ports);
        let prev: CniResult | undefined;
        try {
          for (const plugin of list.plugins) {
            if (isIdlePortmap(plugin, rc)) continue;
            const res = await exec(list, plugin, 'ADD', pod, netns, pluginStdin(list, plugin, rc, prev));
            if (res !== undefined) prev = res;
          }
        } catch (err) {
          // Undo what the earlier plugins did (an allocated IP, a veth), as the spec asks of runtimes: DEL
          // with this ADD's runtimeConfig (nothing is stored yet).
          await mkdir(o.resultsDir, { recursive: true, mode: 0o700 });
          await writeFile(resultFile(list, pod.id), JSON.stringify({ result: prev ?? {}, runtimeConfig: rc } satisfies CniCache));
          await doDel(pod, netns).catch(() => undefined);
          throw err instanceof CriusError ? err : internal(String(err));
        }
        const result = prev ?? {};
        const file = resultFile(list, pod.id);
        const cache: CniCache = { result, runtimeConfig: rc };
        await writeFile(`${file}.tmp`, JSON.stringify(cache), { mode: 0o600 });
        await rename(`${file}.tmp`, file);
        return { ips: podIpsFromResult(result, ifName), result };
      });
    },

    del(pod, netns) {
      return serialize(pod.id, () => doDel(pod, netns));
    },

    storedResult,
  };
}
