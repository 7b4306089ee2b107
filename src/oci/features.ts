// Reads each OCI runtime handler's `<binary> features` once, and again only when the binary changes
// (cache key: path + mtime + size). A handler whose binary is missing, has no `features` command or
// prints something that is not JSON still exists, with no features and the reason why.
import { stat } from 'node:fs/promises';
import { run as defaultRun, ExecError, type Runner } from '../common/exec.js';
import type { RuntimeFeatures } from './features-types.js';
import type { KernelFacts } from '../common/kernel.js';


export interface HandlerInfo {
  name: string;
  path: string;
  /** First line of `<binary> --version`, e.g. "crun version 1.21"; undefined when unknown. */
  version?: string;
  features?: RuntimeFeatures;
  /** Why `features` is absent; undefined when it was read. */
  reason?: string;
}

interface CacheEntry {
  key: string;
  info: Omit<HandlerInfo, 'name'>;
}

export class FeaturesCache {
  private readonly entries = new Map<string, CacheEntry>();
  /** Probes under way, by cache key: concurrent reads (a prefetch and Status) share one. */
  private readonly probing = new Map<string, Promise<Omit<HandlerInfo, 'name'>>>();
  constructor(private readonly runner: Runner = defaultRun, private readonly timeoutMs = 10_000) {}

  async read(name: string, path: string): Promise<HandlerInfo> {
    let key: string;
    try {
      const st = await stat(path);
      if (!st.isFile()) return { name, path, reason: `${path} is not a regular file` };
      key = `${path}:${st.mtimeMs}:${st.size}`;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { name, path, reason: code === 'ENOENT' ? `runtime binary ${path} does not exist` : `cannot stat ${path}: ${code}` };
    }
    const cached = this.entries.get(path);
    if (cached && cached.key === key) return { name, ...cached.info };
    let probing = this.probing.get(key);
    if (!probing) {
      probing = this.probe(path).finally(() => this.probing.delete(key));
      this.probing.set(key, probing);
    }
    const info = await probing;
    this.entries.set(path, { key, info });
    return { name, ...info };
  }

  private async probe(path: string): Promise<Omit<HandlerInfo, 'name'>> {
    const version = await this.runner(path, ['--version'], { timeoutMs: this.timeoutMs })
      .then((r) => r.stdout.split('\n')[0]?.trim() || undefined)
      .catch(() => undefined);
    let stdout: string;
    try {
      stdout = (await this.runner(path, ['features'], { timeoutMs: this.timeoutMs })).stdout;
    } catch (err) {
      const detail = err instanceof ExecError ? (err.timedOut ? 'timed out' : (err.stderr.trim().split('\n')[0] || `exit status ${err.code}`)) : String(err);
      return { path, version, reason: `\`${path} features\` failed (${detail}); the runtime is too old to report its features` };
    }
    try {
      return { path, version, features: parseFeatures(stdout) };
    } catch (err) {
      return { path, version, reason: `\`${path} features\` printed invalid JSON: ${(err as Error).message}` };
    }
  }
}

/** Parses `features` output, keeping only well-typed fields so later checks can trust the shape. */
export function parseFeatures(text: string): RuntimeFeatures {
  const raw: unknown = JSON.parse(text);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('top level is not an object');
  const o = raw as Record<string, unknown>;
  const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined);
  const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
  const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
  const enabled = (v: unknown): { enabled?: boolean } | undefined => {
    const t = obj(v);
    return t ? { enabled: bool(t['enabled']) } : undefined;
  };
  const f: RuntimeFeatures = {};
  if (typeof o['ociVersionMin'] === 'string') f.ociVersionMin = o['ociVersionMin'];
  if (typeof o['ociVersionMax'] === 'string') f.ociVersionMax = o['ociVersionMax'];
  f.hooks = strings(o['hooks']);
  f.mountOptions = strings(o['mountOptions']);
  const linux = obj(o['linux']);
  if (linux) {
    const cg = obj(linux['cgroup']);
    const sc = obj(linux['seccomp']);
    const me = obj(linux['mountExtensions']);
    f.linux = {
      namespaces: strings(linux['namespaces']),
      capabilities: strings(linux['capabilities']),
      cgroup: cg && { v1: bool(cg['v1']), v2: bool(cg['v2']), systemd: bool(cg['systemd']), systemdUser: bool(cg['systemdUser']), rdma: bool(cg['rdma']) },
      seccomp: sc && { enabled: bool(sc['enabled']), actions: strings(sc['actions']), operators: strings(sc['operators']), archs: strings(sc['archs']) },
      apparmor: enabled(linux['apparmor']),
      selinux: enabled(linux['selinux']),
      mountExtensions: me && { idmap: enabled(me['idmap']) },
    };
  }
  const ann = obj(o['annotations']);
  if (ann) f.annotations = Object.fromEntries(Object.entries(ann).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
  return f;
}

/** Parses "6.18.44-fc-v782" into [6, 18, 44]. */
function kernelVersion(release: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (!m) return [0, 0, 0];
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

export function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const [a, b] = kernelVersion(release);
  return a > major || (a === major && b >= minor);
}

/**
 * The CRI RuntimeHandlerFeatures for one handler (cri-api v0.30, as containerd computes them):
 * user_namespaces needs the runtime to create user namespaces AND idmap mounts, on a kernel that
 * allows user namespaces; recursive read-only mounts need `rro` and Linux >= 5.12 (mount_setattr).
 */
export function handlerCriFeatures(info: HandlerInfo, kernel: KernelFacts): { user_namespaces: boolean; recursive_read_only_mounts: boolean } {
  const f = info.features;
  const userNs = f?.linux?.namespaces?.includes('user') === true
    && f.linux.mountExtensions?.idmap?.enabled === true
    && kernel.userNamespaces;
  const rro = f?.mountOptions?.includes('rro') === true && kernelAtLeast(kernel.release, 5, 12);
  return { user_namespaces: userNs, recursive_read_only_mounts: rro };
}

/** Why a handler does not support user namespaces, for Status messages and `crius doctor`. */
export function usernsUnsupportedReason(info: HandlerInfo, kernel: KernelFacts): string | undefined {
  if (!info.features) return info.reason ?? 'no features';
  if (!info.features.linux?.namespaces?.includes('user')) return `${info.path} does not list the "user" namespace in its features`;
  const idmap = info.features.linux.mountExtensions?.idmap;
  if (!idmap) return `${info.path}${info.version ? ` (${info.version})` : ''} has no \`linux.mountExtensions.idmap\` entry in its features: it cannot do idmapped mounts (needs crun >= 1.9 or runc >= 1.2)`;
  if (idmap.enabled !== true) return `${info.path} reports \`linux.mountExtensions.idmap.enabled\` = false`;
  if (!kernel.userNamespaces) return 'this kernel does not allow user namespaces';
  return undefined;
}
