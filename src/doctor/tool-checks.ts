// The helper programs a pod needs beside the OCI runtime: conmon (supervises every container), the CNI
// plugins and a network config (a user-namespaced pod cannot use the host network: KEP-127 rule, so it
// always needs CNI), and crius's own native helpers (native/build; crius-podns pins every pod's
// namespaces). Pure decisions over facts gathered by the caller.
import { fail, ok, warn, type CheckResult } from './check.js';

/** "conmon version 2.1.12\ncommit: ..." -> [2, 1, 12]. */
export function parseConmonVersion(text: string): [number, number, number] | undefined {
  const m = /conmon version (\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

const CONMON_MIN: [number, number, number] = [2, 1, 12];

function versionAtLeast(v: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < min.length; i++) {
    const a = v[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

export type CommandOutcome = { ok: true; stdout: string; stderr?: string } | { ok: false; missing: boolean; error: string };

export function checkConmon(path: string, out: CommandOutcome): CheckResult {
  const name = 'conmon';
  if (!out.ok) {
    return fail(name, out.missing ? `${path} is missing` : `${path} --version failed: ${out.error}`,
      'install conmon >= 2.1.12 (Debian: apt-get install conmon)', true);
  }
  const v = parseConmonVersion(out.stdout);
  if (!v) return warn(name, `${path}: cannot read a version from ${JSON.stringify(out.stdout.split('\n')[0] ?? '')}`, 'install conmon >= 2.1.12', true);
  const shown = v.join('.');
  if (!versionAtLeast(v, CONMON_MIN)) {
    return fail(name, `${path} is version ${shown}; crius needs >= ${CONMON_MIN.join('.')} (its sync pipe and exec protocol)`,
      'install conmon >= 2.1.12', true);
  }
  return ok(name, `${path} version ${shown}`, true);
}

/** The plugins crius's shipped networks (ptp by default, the bridge form) and CNI teardown use. */
export const REQUIRED_CNI_PLUGINS = ['ptp', 'bridge', 'host-local', 'portmap', 'loopback'] as const;

export interface CniPluginFact {
  type: string;
  /** Where it was found, undefined when in none of the plugin dirs. */
  path?: string;
  /** CNI_COMMAND=VERSION answer. */
  version?: CommandOutcome;
}

/** `{"cniVersion":"1.0.0","supportedVersions":[...]}` -> the highest supported spec version. */
export function cniSpecVersion(stdout: string): string | undefined {
  try {
    const v = JSON.parse(stdout) as { cniVersion?: unknown; supportedVersions?: unknown };
    const list = Array.isArray(v.supportedVersions) ? v.supportedVersions.filter((s): s is string => typeof s === 'string') : [];
    const num = (s: string): number[] => s.split('.').map((x) => Number(x) || 0);
    const best = [...list].sort((a, b) => (versionAtLeast(num(a), num(b)) ? (a === b ? 0 : 1) : -1)).pop();
    return best ?? (typeof v.cniVersion === 'string' ? v.cniVersion : undefined);
  } catch {
    return undefined;
  }
}

export function checkCniPlugins(pluginDirs: readonly string[], facts: readonly CniPluginFact[]): CheckResult {
  const name = 'CNI plugins';
  const missing = facts.filter((f) => !f.path).map((f) => f.type);
  if (missing.length > 0) {
    return fail(name, `missing from ${pluginDirs.join(', ')}: ${missing.join(', ')}`,
      'install the CNI plugins (Debian: apt-get install containernetworking-plugins) or add their dir to [cni] plugin_dirs', true);
  }
  const broken: string[] = [];
  const shown = facts.map((f) => {
    const v = f.version?.ok ? cniSpecVersion(f.version.stdout) : undefined;
    if (!v) broken.push(`${f.type} (${f.version && !f.version.ok ? f.version.error : 'no VERSION answer'})`);
    return `${f.type} (CNI spec ${v ?? '?'})`;
  });
  const dirs = [...new Set(facts.map((f) => f.path?.replace(/\/[^/]+$/, '') ?? ''))].join(', ');
  if (broken.length > 0) {
    return fail(name, `in ${dirs}, but CNI_COMMAND=VERSION failed for ${broken.join(', ')}`, 'reinstall the CNI plugins', true);
  }
  return ok(name, `${shown.join(', ')} (in ${dirs})`, true);
}

export interface CniConfigFact {
  confDir: string;
  /** The file crius would use (first by name), undefined when none. */
  file?: string;
  /** Network name, or the parse error. */
  network?: { name: string; plugins: string[] } | { error: string };
  /** Plugin types the config names that are in none of the plugin dirs. */
  missingPlugins?: string[];
}

export function checkCniConfig(f: CniConfigFact): CheckResult {
  const name = 'CNI config';
  if (!f.file) {
    return fail(name, `no .conf/.conflist/.json file in ${f.confDir}`,
      `install a network config in ${f.confDir} (scripts/setup.sh writes 10-crius.conflist: ptp + host-local + portmap)`, true);
  }
  if (!f.network || 'error' in f.network) {
    return fail(name, `${f.file}: ${f.network && 'error' in f.network ? f.network.error : 'unreadable'}`, `fix or remove ${f.file}`, true);
  }
  if (f.missingPlugins && f.missingPlugins.length > 0) {
    return fail(name, `${f.file} (network ${f.network.name}) uses plugins not installed: ${f.missingPlugins.join(', ')}`,
      'install them into a [cni] plugin_dirs dir', true);
  }
  return ok(name, `${f.file}: network ${f.network.name} (${f.network.plugins.join(' -> ')})`, true);
}

interface NativeHelperSpec {
  name: string;
  why: string;
  neededForUserns: boolean;
}

/** crius's native helpers (native/*.c, built by `make -C native`). */
export function nativeHelperSpecs(hybridCgroups: boolean): NativeHelperSpec[] {
  return [
    { name: 'crius-idmap', why: 'idmap probes, idmapped volumes and rootfs lower layers', neededForUserns: true },
    { name: 'crius-podns', why: 'creates and pins every pod\'s namespaces (user namespaces with the kubelet\'s mappings) and its /dev/shm', neededForUserns: true },
    { name: 'crius-oci-wrap', why: 'runs the OCI runtime with the cgroup2 mount hidden on hybrid hosts', neededForUserns: hybridCgroups },
    { name: 'crius-pause', why: 'infra process of shared-PID pods', neededForUserns: false },
    { name: 'crius-spawner', why: 'runs the daemon\'s commands without forking the daemon (faster pod start)', neededForUserns: false },
    { name: 'crius-fsops', why: 'device nodes and xattrs during image unpack', neededForUserns: false },
    { name: 'crius-pty', why: 'tty exec', neededForUserns: false },
    { name: 'crius-relay', why: 'attach and port-forward', neededForUserns: false },
  ];
}

export function checkNativeHelpers(dir: string, specs: readonly NativeHelperSpec[], present: ReadonlySet<string>): CheckResult {
  const name = 'native helpers';
  const missing = specs.filter((s) => !present.has(s.name));
  const needed = specs.some((s) => s.neededForUserns);
  const fix = 'build them: make -C native (npm run build:native)';
  if (missing.some((s) => s.neededForUserns)) {
    return fail(name, `missing in ${dir}: ${missing.map((s) => `${s.name} (${s.why})`).join('; ')}`, fix, true);
  }
  if (missing.length > 0) return warn(name, `missing in ${dir}: ${missing.map((s) => `${s.name} (${s.why})`).join('; ')}`, fix, needed);
  return ok(name, `${specs.map((s) => s.name).join(', ')} in ${dir}`, needed);
}
