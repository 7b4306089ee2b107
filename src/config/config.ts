// The daemon's configuration: TOML file + defaults + command-line overrides, validated up front.
// Every error names the key and, where the file set it, the line, so an operator can fix it at once.
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { LOG_LEVELS, type LogLevel } from '../common/logger.js';
import { locateHostBinary } from '../common/host-binaries.js';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits } from '../image/limits.js';

interface RuntimeHandlerConfig {
  name: string;
  path: string;
}

interface RegistryConfig {
  mirrors: string[];
  insecure: boolean;
}

export interface Config {
  rootDir: string;
  stateDir: string;
  socket: string;
  logLevel: LogLevel;
  defaultRuntime: string;
  runtimes: RuntimeHandlerConfig[];
  registries: Record<string, RegistryConfig>;
  cni: { confDir: string; pluginDirs: string[] };
  /** execSyncDrainSeconds: ExecSync keeps reading a background child's output this long after the command exits. */
  streaming: { address: string; port: number; execSyncDrainSeconds: number };
  userns: { rootfs: 'idmap' | 'copy'; subidStart: number; subidLength: number; idsPerPod: number };
  metrics: { address: string; port: number };
  /**
   * `cgroup_manager`: who creates containers' cgroups. Unset: systemd when PID 1 is systemd and the host
   * is pure cgroup v2 (what the kubelet's systemd driver expects there), else cgroupfs (cgroup/driver.ts).
   */
  cgroupManager?: 'systemd' | 'cgroupfs';
  /** Caps on what one CRI request may make crius read or store (issue 13). */
  limits: { seccompProfileBytes: number; labelsAnnotationsBytes: number };
  /** The [images] table: bounds on what a registry or a layer may cost. */
  images: ImageLimits;
  /** The file the values came from, or undefined when only defaults were used. */
  source?: string;
}

export const DEFAULT_CONFIG_PATH = '/etc/crius/config.toml';

export function defaultConfig(): Config {
  return {
    rootDir: '/var/lib/crius',
    stateDir: '/run/crius',
    socket: '/run/crius/crius.sock',
    logLevel: 'info',
    defaultRuntime: 'crun',
    runtimes: [
      { name: 'crun', path: locateHostBinary('crun') },
      { name: 'runc', path: locateHostBinary('runc') },
    ],
    registries: {},
    cni: { confDir: '/etc/cni/net.d', pluginDirs: ['/usr/lib/cni', '/opt/cni/bin'] },
    streaming: { address: '127.0.0.1', port: 0, execSyncDrainSeconds: 3 },
    // Standalone (`crius run`) pods take host IDs from here; the kubelet brings its own mappings.
    // 2^31 upwards keeps clear of typical /etc/subuid ranges and far below the reserved 2^32-1.
    userns: { rootfs: 'idmap', subidStart: 2_147_483_648, subidLength: 65536 * 4096, idsPerPod: 65536 },
    metrics: { address: '127.0.0.1', port: 0 },
    // 1 MiB holds any real seccomp profile (Docker's default is ~20 KiB); 256 KiB is what the API server
    // allows for an object's annotations (TotalAnnotationSizeLimitB), applied here to labels + annotations.
    limits: { seccompProfileBytes: 1024 * 1024, labelsAnnotationsBytes: 256 * 1024 },
    images: { ...DEFAULT_IMAGE_LIMITS },
  };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

interface ConfigOverrides {
  rootDir?: string;
  stateDir?: string;
  socket?: string;
  logLevel?: string;
}

/** Finds the 1-based line where `key` is set inside table `table` (dotted path), for error messages. */
export function lineOfKey(source: string, table: readonly string[], key: string): number | undefined {
  const want = table.join('.');
  let current = '';
  const lines = source.split('\n');
  const unquote = (s: string): string => s.trim().replace(/^"(.*)"$/, '$1');
  // Dotted table names may quote a part that itself has dots: [registries."docker.io"].
  const splitDotted = (s: string): string[] => [...s.matchAll(/"([^"]*)"|([^.\s"]+)/g)].map((m) => m[1] ?? m[2] ?? '');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const header = /^\[+([^\]]+)\]+/.exec(line);
    if (header) {
      current = splitDotted(header[1]!).join('.');
      if (key === '' && current === want) return i + 1;
      continue;
    }
    const kv = /^("?[^"=]+"?)\s*=/.exec(line);
    if (kv && current === want && unquote(kv[1]!) === key) return i + 1;
  }
  return undefined;
}

type Table = Record<string, unknown>;

class Reader {
  constructor(private readonly file: string, private readonly source: string) {}

  where(table: readonly string[], key: string): string {
    const line = lineOfKey(this.source, table, key);
    const name = [...table, key].filter(Boolean).join('.');
    return `${this.file}${line ? `:${line}` : ''}: key "${name}"`;
  }

  fail(table: readonly string[], key: string, problem: string): never {
    throw new ConfigError(`${this.where(table, key)}: ${problem}`);
  }

  /** Rejects keys this version does not know: a typo must not silently fall back to a default. */
  known(t: Table, table: readonly string[], allowed: readonly string[]): void {
    for (const k of Object.keys(t)) {
      if (!allowed.includes(k)) {
        this.fail(table, k, `unknown key (allowed here: ${allowed.join(', ')})`);
      }
    }
  }

  string(t: Table, table: readonly string[], key: string, fallback: string): string {
    const v = t[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || v === '') this.fail(table, key, `must be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  }

  absPath(t: Table, table: readonly string[], key: string, fallback: string): string {
    const v = this.string(t, table, key, fallback);
    if (!v.startsWith('/')) this.fail(table, key, `must be an absolute path, got ${JSON.stringify(v)}`);
    return v;
  }

  int(t: Table, table: readonly string[], key: string, fallback: number, min: number, max: number): number {
    const v = t[key];
    if (v === undefined) return fallback;
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      this.fail(table, key, `must be an integer from ${min} to ${max}, got ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)}`);
    }
    return n;
  }

  bool(t: Table, table: readonly string[], key: string, fallback: boolean): boolean {
    const v = t[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') this.fail(table, key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  stringList(t: Table, table: readonly string[], key: string, fallback: string[]): string[] {
    const v = t[key];
    if (v === undefined) return fallback;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x !== '')) {
      this.fail(table, key, `must be a list of non-empty strings, got ${JSON.stringify(v)}`);
    }
    return v as string[];
  }

  table(t: Table, table: readonly string[], key: string): Table {
    const v = t[key];
    if (v === undefined) return {};
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Date) {
      this.fail(table, key, 'must be a table');
    }
    return v as Table;
  }
}

/** Parses and validates TOML text. `file` is only used in messages. */
export function parseConfig(source: string, file: string): Config {
  let doc: Table;
  try {
    doc = parseToml(source, { integersAsBigInt: 'asNeeded' }) as Table;
  } catch (err) {
    const e = err as { line?: number; message?: string };
    const first = String(e.message ?? err).split('\n')[0];
    throw new ConfigError(`${file}${e.line ? `:${e.line}` : ''}: not valid TOML: ${first}`);
  }
  const r = new Reader(file, source);
  const d = defaultConfig();
  r.known(doc, [], ['root_dir', 'state_dir', 'socket', 'log_level', 'default_runtime', 'runtimes', 'registries', 'cni', 'streaming', 'userns', 'metrics', 'limits', 'images', 'cgroup_manager']);

  const logLevel = r.string(doc, [], 'log_level', d.logLevel);
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) r.fail([], 'log_level', `must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);

  // A file that names runtimes replaces the default handler list: the operator says exactly which exist.
  const runtimesTable = r.table(doc, [], 'runtimes');
  let runtimes = d.runtimes;
  if (Object.keys(runtimesTable).length > 0) {
    runtimes = Object.keys(runtimesTable).map((name) => {
      if (!/^[a-z0-9]([a-z0-9._-]{0,62})$/.test(name)) r.fail(['runtimes'], name, 'handler names must be lower-case letters, digits, ".", "_" or "-" (as RuntimeClass handlers are)');
      const t = r.table(runtimesTable, ['runtimes'], name);
      r.known(t, ['runtimes', name], ['path']);
      if (t['path'] === undefined) r.fail(['runtimes', name], 'path', 'is required (the OCI runtime binary, e.g. "/usr/bin/crun")');
      return { name, path: r.absPath(t, ['runtimes', name], 'path', '') };
    });
  }
  const defaultRuntime = r.string(doc, [], 'default_runtime', d.defaultRuntime);
  if (!runtimes.some((h) => h.name === defaultRuntime)) {
    r.fail([], 'default_runtime', `names "${defaultRuntime}", which is not a configured handler (have: ${runtimes.map((h) => h.name).join(', ')})`);
  }

  const registries: Record<string, RegistryConfig> = {};
  const regTable = r.table(doc, [], 'registries');
  for (const host of Object.keys(regTable)) {
    const t = r.table(regTable, ['registries'], host);
    r.known(t, ['registries', host], ['mirrors', 'insecure']);
    const mirrors = r.stringList(t, ['registries', host], 'mirrors', []);
    for (const m of mirrors) {
      if (!/^https?:\/\/[^/]+/.test(m)) r.fail(['registries', host], 'mirrors', `"${m}" must be a URL such as "http://127.0.0.1:5000"`);
    }
    registries[host] = { mirrors, insecure: r.bool(t, ['registries', host], 'insecure', false) };
  }

  const cni = r.table(doc, [], 'cni');
  r.known(cni, ['cni'], ['conf_dir', 'plugin_dirs']);
  const streaming = r.table(doc, [], 'streaming');
  r.known(streaming, ['streaming'], ['address', 'port', 'exec_sync_drain_seconds']);
  const userns = r.table(doc, [], 'userns');
  r.known(userns, ['userns'], ['rootfs', 'subid_start', 'subid_length', 'ids_per_pod']);
  const rootfs = r.string(userns, ['userns'], 'rootfs', d.userns.rootfs);
  if (rootfs !== 'idmap' && rootfs !== 'copy') r.fail(['userns'], 'rootfs', `must be "idmap" or "copy", got "${rootfs}"`);
  const metrics = r.table(doc, [], 'metrics');
  r.known(metrics, ['metrics'], ['address', 'port']);
  const limits = r.table(doc, [], 'limits');
  r.known(limits, ['limits'], ['max_seccomp_profile_bytes', 'max_labels_annotations_bytes']);
  const images = r.table(doc, [], 'images');
  r.known(images, ['images'], ['max_manifest_bytes', 'max_config_bytes', 'stall_timeout_seconds', 'max_layer_unpacked_bytes', 'max_layer_entries']);

  const subidStart = r.int(userns, ['userns'], 'subid_start', d.userns.subidStart, 1, 2 ** 32 - 2);
  const subidLength = r.int(userns, ['userns'], 'subid_length', d.userns.subidLength, 1, 2 ** 32 - 1);
  if (subidStart + subidLength > 2 ** 32 - 1) r.fail(['userns'], 'subid_length', `subid_start + subid_length passes 4294967295 (the last ID is reserved)`);
  const idsPerPod = r.int(userns, ['userns'], 'ids_per_pod', d.userns.idsPerPod, 1, 2 ** 32 - 1);
  if (idsPerPod > subidLength) r.fail(['userns'], 'ids_per_pod', `is larger than subid_length (${subidLength})`);

  const cgroupManager = doc['cgroup_manager'] === undefined ? undefined : r.string(doc, [], 'cgroup_manager', '');
  if (cgroupManager !== undefined && cgroupManager !== 'systemd' && cgroupManager !== 'cgroupfs') {
    r.fail([], 'cgroup_manager', `must be "systemd" or "cgroupfs", got "${cgroupManager}"`);
  }

  return {
    ...(cgroupManager !== undefined ? { cgroupManager: cgroupManager as 'systemd' | 'cgroupfs' } : {}),
    rootDir: r.absPath(doc, [], 'root_dir', d.rootDir),
    stateDir: r.absPath(doc, [], 'state_dir', d.stateDir),
    socket: r.absPath(doc, [], 'socket', d.socket),
    logLevel: logLevel as LogLevel,
    defaultRuntime,
    runtimes,
    registries,
    cni: {
      confDir: r.absPath(cni, ['cni'], 'conf_dir', d.cni.confDir),
      pluginDirs: r.stringList(cni, ['cni'], 'plugin_dirs', d.cni.pluginDirs),
    },
    streaming: {
      address: r.string(streaming, ['streaming'], 'address', d.streaming.address),
      port: r.int(streaming, ['streaming'], 'port', d.streaming.port, 0, 65535),
      execSyncDrainSeconds: r.int(streaming, ['streaming'], 'exec_sync_drain_seconds', d.streaming.execSyncDrainSeconds, 0, 600),
    },
    userns: { rootfs: rootfs as 'idmap' | 'copy', subidStart, subidLength, idsPerPod },
    metrics: {
      address: r.string(metrics, ['metrics'], 'address', d.metrics.address),
      port: r.int(metrics, ['metrics'], 'port', d.metrics.port, 0, 65535),
    },
    limits: {
      seccompProfileBytes: r.int(limits, ['limits'], 'max_seccomp_profile_bytes', d.limits.seccompProfileBytes, 1024, 64 * 1024 * 1024),
      labelsAnnotationsBytes: r.int(limits, ['limits'], 'max_labels_annotations_bytes', d.limits.labelsAnnotationsBytes, 1024, 64 * 1024 * 1024),
    },
    images: {
      maxManifestBytes: r.int(images, ['images'], 'max_manifest_bytes', d.images.maxManifestBytes, 1024, 2 ** 30),
      maxConfigBytes: r.int(images, ['images'], 'max_config_bytes', d.images.maxConfigBytes, 1024, 2 ** 30),
      stallTimeoutSeconds: r.int(images, ['images'], 'stall_timeout_seconds', d.images.stallTimeoutSeconds, 1, 86_400),
      maxLayerUnpackedBytes: r.int(images, ['images'], 'max_layer_unpacked_bytes', d.images.maxLayerUnpackedBytes, 1024, Number.MAX_SAFE_INTEGER),
      maxLayerEntries: r.int(images, ['images'], 'max_layer_entries', d.images.maxLayerEntries, 1, 1_000_000_000),
    },
    source: file,
  };
}

/**
 * Loads the config file. The default path may be absent (defaults apply); a path the operator named
 * explicitly must exist.
 */
export function loadConfig(path: string, explicit: boolean, overrides: ConfigOverrides = {}): Config {
  let config: Config;
  let text: string | undefined;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) text = undefined;
    else throw new ConfigError(`${path}: cannot read the config file: ${code ?? String(err)}`);
  }
  if (text === undefined) {
    config = defaultConfig();
  } else {
    config = parseConfig(text, path);
  }
  return applyOverrides(config, overrides);
}

export function applyOverrides(config: Config, o: ConfigOverrides): Config {
  const out = { ...config };
  const abs = (flag: string, v: string): string => {
    if (!v.startsWith('/')) throw new ConfigError(`--${flag}: must be an absolute path, got "${v}"`);
    return v;
  };
  if (o.rootDir !== undefined) out.rootDir = abs('root', o.rootDir);
  if (o.stateDir !== undefined) out.stateDir = abs('state', o.stateDir);
  if (o.socket !== undefined) out.socket = abs('socket', o.socket);
  if (o.logLevel !== undefined) {
    if (!LOG_LEVELS.includes(o.logLevel as LogLevel)) throw new ConfigError(`--log-level: must be one of ${LOG_LEVELS.join(', ')}, got "${o.logLevel}"`);
    out.logLevel = o.logLevel as LogLevel;
  }
  return out;
}
