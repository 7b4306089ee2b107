// `crius doctor`: gathers the host facts (the I/O edge) and hands each to its pure check. Works without
// the daemon; reads the same config as the daemon.
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import { errorMessage } from '../common/errors.js';
import { ExecError, run, type Runner } from '../common/exec.js';
import { detectCgroupLayout } from '../cgroup/mode.js';
import { FeaturesCache } from '../oci/features.js';
import type { KernelFacts } from '../common/kernel.js';
import { oomScoreAdjFloor } from '../oci/oom-score.js';
import { parseNetworkConfig, pickConfigFile } from '../network/cni.js';
import { defaultIdmapHelperPath, type IdmapHelper } from '../userns/idmap-helper.js';
import { type CheckResult, fail, ok } from './check.js';
import { checkHandler, checkUsernsHandlers } from './handler-checks.js';
import { checkCapacity, type CapacityFacts } from './capacity-checks.js';
import { checkAppArmor, checkCapSysResource, checkCgroupDriver, checkCgroups, checkStateDirTraversal, checkSubidRange, parseSubidFile, type SubidEntry } from './host-checks.js';
import { stateDirTraversalProblem } from '../daemon/private-state.js';
import { cgroupDriverProblem, defaultCgroupDriver } from '../cgroup/driver.js';
import { pid1IsSystemd } from '../cgroup/host.js';
import { apparmorEnabled, DEFAULT_APPARMOR_PROFILE, loadedProfiles } from '../oci/apparmor.js';

/** cgroupDriver from the kubelet's config file (kubeadm writes /var/lib/kubelet/config.yaml), if any. */
function kubeletCgroupDriver(file = '/var/lib/kubelet/config.yaml'): string | undefined {
  try {
    return /^cgroupDriver:\s*"?(\w+)"?\s*$/m.exec(readFileSync(file, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}
import { checkIdmapProbe, checkOverlayIdmap } from './idmap-checks.js';
import { runIdmapProbes } from './idmap-probes.js';
import { checkKernel, checkRoot, checkUserNamespaces } from './kernel-checks.js';
import { locateHostBinary } from '../common/host-binaries.js';
import { nativeBuildDir } from '../common/install-root.js';
import { readUsernsSysctls } from './host-summary.js';
import {
  checkCniConfig, checkCniPlugins, checkConmon, checkNativeHelpers, nativeHelperSpecs,
  REQUIRED_CNI_PLUGINS, type CniConfigFact, type CniPluginFact, type CommandOutcome,
} from './tool-checks.js';

const CONMON_PATH = locateHostBinary('conmon');


async function outcome(runner: Runner, file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<CommandOutcome> {
  try {
    const r = await runner(file, args, { timeoutMs: 10_000, env });
    return { ok: true, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    return { ok: false, missing: err instanceof ExecError && err.notFound, error: errorMessage(err) };
  }
}

const findPlugin = (dirs: readonly string[], type: string): string | undefined =>
  dirs.map((d) => join(d, type)).find((p) => existsSync(p));

async function cniPluginFacts(dirs: readonly string[], runner: Runner): Promise<CniPluginFact[]> {
  return Promise.all(REQUIRED_CNI_PLUGINS.map(async (type) => {
    const path = findPlugin(dirs, type);
    if (!path) return { type };
    const version = await outcome(runner, path, [], { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: 'VERSION' });
    return { type, path, version };
  }));
}

async function cniConfigFact(confDir: string, pluginDirs: readonly string[]): Promise<CniConfigFact> {
  let names: string[];
  try {
    names = await readdir(confDir);
  } catch {
    return { confDir };
  }
  const name = pickConfigFile(names);
  if (!name) return { confDir };
  const file = join(confDir, name);
  try {
    const list = parseNetworkConfig(await readFile(file, 'utf8'), file);
    const types = list.plugins.map((p) => p.type);
    return { confDir, file, network: { name: list.name, plugins: types }, missingPlugins: types.filter((t) => !findPlugin(pluginDirs, t)) };
  } catch (err) {
    return { confDir, file, network: { error: errorMessage(err) } };
  }
}

function sysctlNumber(name: string): number | undefined {
  try {
    const v = Number(readFileSync(join('/proc/sys', ...name.split('.')), 'utf8').trim().split(/\s+/)[0]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function capacitySysctls(): Omit<CapacityFacts, 'cgroupV2'> {
  const f: Omit<CapacityFacts, 'cgroupV2'> = {};
  const put = (k: keyof typeof f, name: string): void => {
    const v = sysctlNumber(name);
    if (v !== undefined) (f as Record<string, number>)[k] = v;
  };
  put('pidMax', 'kernel.pid_max');
  put('inotifyMaxUserInstances', 'fs.inotify.max_user_instances');
  put('inotifyMaxUserWatches', 'fs.inotify.max_user_watches');
  put('keysMaxKeys', 'kernel.keys.maxkeys');
  put('keysMaxBytes', 'kernel.keys.maxbytes');
  put('maxUserNamespaces', 'user.max_user_namespaces');
  put('neighGcThresh3', 'net.ipv4.neigh.default.gc_thresh3');
  return f;
}

function openFilesHard(): number | undefined {
  const m = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  if (!m) return undefined;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

function readSubids(): SubidEntry[] {
  const out: SubidEntry[] = [];
  for (const f of ['/etc/subuid', '/etc/subgid']) {
    try {
      out.push(...parseSubidFile(readFileSync(f, 'utf8'), f));
    } catch { /* absent: nothing to overlap */ }
  }
  return out;
}

interface DoctorOptions {
  runner?: Runner;
  helper?: IdmapHelper;
  /** Skip the mount probes (for callers that only want the cheap facts). */
  skipProbes?: boolean;
}

export async function runDoctor(config: Config, o: DoctorOptions = {}): Promise<CheckResult[]> {
  const runner = o.runner ?? run;
  const checks: CheckResult[] = [];
  const rel = release();
  const sysctls = readUsernsSysctls();
  const kernel: KernelFacts = { release: rel, userNamespaces: sysctls.nsUserExists && sysctls.maxUserNamespaces !== 0 };
  const uid = process.getuid?.() ?? -1;
  checks.push(checkRoot(uid), checkKernel(rel), checkUserNamespaces(sysctls));

  if (!o.skipProbes) {
    if (uid !== 0) {
      for (const n of ['idmap tmpfs', 'idmap root dir fs', 'idmap overlay rootfs']) {
        checks.push(fail(n, 'not probed: mounts need root', 'run crius doctor as root', true));
      }
    } else {
      const p = await runIdmapProbes({ rootDir: config.rootDir, runner, helper: o.helper });
      checks.push(
        checkIdmapProbe('idmap tmpfs', 'kubelet secret, configMap, projected and memory emptyDir volumes', p.tmpfs, rel),
        checkIdmapProbe('idmap root dir fs', `crius root dir ${config.rootDir}: image layers and rootfs`, p.rootDir, rel),
        checkOverlayIdmap(p.overlay, config.userns.rootfs),
      );
      if (p.leftMounts.length > 0) {
        checks.push(fail('probe cleanup', `still mounted after the probes: ${p.leftMounts.join(', ')}`, 'unmount them (umount -l) and report a crius bug'));
      }
    }
  }

  const features = new FeaturesCache(runner);
  const infos = await Promise.all(config.runtimes.map((h) => features.read(h.name, h.path)));
  for (const info of infos) checks.push(checkHandler(info, kernel, info.name === config.defaultRuntime));
  checks.push(checkUsernsHandlers(infos, config.defaultRuntime, kernel));

  checks.push(checkConmon(CONMON_PATH, await outcome(runner, CONMON_PATH, ['--version'])));
  checks.push(checkCniPlugins(config.cni.pluginDirs, await cniPluginFacts(config.cni.pluginDirs, runner)));
  const cniConf = await cniConfigFact(config.cni.confDir, config.cni.pluginDirs);
  checks.push(checkCniConfig(cniConf));

  const layout = await detectCgroupLayout();
  const buildDir = nativeBuildDir();
  const wrapper = join(buildDir, 'crius-oci-wrap');
  checks.push(checkCgroups(layout, { path: wrapper, exists: existsSync(wrapper) }));
  const systemd = pid1IsSystemd();
  const driver = config.cgroupManager ?? defaultCgroupDriver(layout, systemd);
  const problem = cgroupDriverProblem(driver, layout, systemd);
  const kubelet = kubeletCgroupDriver();
  checks.push(checkCgroupDriver({
    layout, driver, configured: config.cgroupManager !== undefined, pid1IsSystemd: systemd,
    ...(problem ? { problem } : {}), ...(kubelet ? { kubelet } : {}),
  }));
  const aaEnabled = apparmorEnabled();
  const parser = ['/usr/sbin/apparmor_parser', '/sbin/apparmor_parser'].find((p) => existsSync(p));
  checks.push(checkAppArmor({ enabled: aaEnabled, ...(parser ? { parser } : {}), defaultLoaded: aaEnabled && loadedProfiles().has(DEFAULT_APPARMOR_PROFILE) }));
  const specs = nativeHelperSpecs(layout.mode === 'hybrid');
  // CRIUS_IDMAP_HELPER may point the idmap helper elsewhere; judge the one crius would really use.
  const helperPath = (n: string): string => (n === 'crius-idmap' ? defaultIdmapHelperPath() : join(buildDir, n));
  checks.push(checkNativeHelpers(buildDir, specs, new Set(specs.map((s) => s.name).filter((n) => existsSync(helperPath(n))))));

  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  checks.push(checkCapSysResource(capEff, oomScoreAdjFloor()));
  checks.push(checkStateDirTraversal(config.stateDir, stateDirTraversalProblem(config.stateDir)));
  checks.push(checkSubidRange({ start: config.userns.subidStart, length: config.userns.subidLength }, readSubids()));
  const net = cniConf.network && 'plugins' in cniConf.network ? cniConf.network : undefined;
  checks.push(...checkCapacity({
    ...capacitySysctls(), cgroupV2: layout.mode === 'v2',
    ...(net && net.plugins[0] === 'bridge' ? { bridgeNetwork: net.name } : {}),
    ...(openFilesHard() !== undefined ? { openFilesHard: openFilesHard() } : {}),
  }));
  if (config.source) checks.unshift(ok('config', config.source));
  else checks.unshift(ok('config', 'no config file: built-in defaults'));
  return checks;
}
