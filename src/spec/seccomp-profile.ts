// Localhost seccomp profiles (CRI SecurityProfile Localhost): the JSON file the kubelet points at, read
// by the caller, turned into the OCI linux.seccomp here. Two formats exist in the wild and both are
// accepted, as containerd's seccomp.LoadProfile does: the OCI one (architectures, syscalls[].names) and
// Docker/moby's (archMap, syscalls[].includes/excludes on capabilities, architectures and kernel
// version, the deprecated single `name`). Errors name the profile and the bad field.
import { invalidArgument } from '../common/errors.js';
import type { LinuxSeccomp, LinuxSeccompArg, LinuxSyscall, SeccompAction, SeccompOperator } from './oci-types.js';

const ACTIONS: ReadonlySet<string> = new Set<SeccompAction>([
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
]);
const OPERATORS: ReadonlySet<string> = new Set<SeccompOperator>([
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ',
]);

/** libseccomp's name for the native architecture, and moby's short name used in includes/excludes. */
function archNames(arch: string): { scmp: string; short: string } {
  switch (arch) {
    case 'arm64':
      return { scmp: 'SCMP_ARCH_AARCH64', short: 'arm64' };
    case 'x64':
      return { scmp: 'SCMP_ARCH_X86_64', short: 'amd64' };
    default:
      return { scmp: `SCMP_ARCH_${arch.toUpperCase()}`, short: arch };
  }
}

interface ProfileContext {
  /** localhost_ref, for messages. */
  ref: string;
  /** The container's final capability set (moby includes/excludes.caps). */
  capabilities: readonly string[];
  /** process.arch. */
  arch: string;
  /** uname -r, for includes/excludes.minKernel; unknown = conditions hold. */
  kernelRelease?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined);

interface Filter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

function filterOf(v: unknown, where: string, bad: (m: string) => never): Filter {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) bad(`${where} is not an object`);
  const f: Filter = {};
  if (v['caps'] !== undefined) f.caps = strings(v['caps']) ?? bad(`${where}.caps is not a list of strings`);
  if (v['arches'] !== undefined) f.arches = strings(v['arches']) ?? bad(`${where}.arches is not a list of strings`);
  if (v['minKernel'] !== undefined) {
    if (typeof v['minKernel'] !== 'string' || !/^\d+\.\d+/.test(v['minKernel'])) bad(`${where}.minKernel is not a kernel version like "5.8"`);
    f.minKernel = v['minKernel'];
  }
  return f;
}

/** Whether kernel `release` ("6.18.4-foo") is at least `min` ("5.8"); unknown release = yes. */
function kernelOk(min: string | undefined, release: string | undefined): boolean {
  if (!min || !release) return true;
  const parse = (v: string): [number, number] => {
    const m = /^(\d+)\.(\d+)/.exec(v);
    return m ? [Number(m[1]), Number(m[2])] : [0, 0];
  };
  const [a, b] = parse(release);
  const [x, y] = parse(min);
  return a > x || (a === x && b >= y);
}

/**
 * A value from the profile as a message may show it: only words shaped like an action (SCMP_...) are quoted. The file may be
 * any JSON the node has (the kubelet's client chose the path), so arbitrary strings are not echoed.
 */
function shape(v: unknown): string {
  if (typeof v === 'string') return /^SCMP_[A-Z0-9_]{1,30}$/.test(v) ? `"${v}"` : `(a string of ${v.length} characters)`;
  return `(${v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v})`;
}

/** Converts a parsed Localhost profile (OCI or moby format) into linux.seccomp for this container. */
export function seccompFromProfileJson(raw: unknown, pc: ProfileContext): LinuxSeccomp {
  const bad = (msg: string): never => {
    throw invalidArgument(`seccomp profile Localhost "${pc.ref}": ${msg}; fix the profile file on the node`);
  };
  if (!isObj(raw)) return bad('the file is not a JSON object');
  const defaultAction = raw['defaultAction'];
  if (typeof defaultAction !== 'string' || !ACTIONS.has(defaultAction)) return bad(`defaultAction ${shape(defaultAction)} is not a seccomp action such as SCMP_ACT_ERRNO`);
  const out: LinuxSeccomp = { defaultAction: defaultAction as SeccompAction };
  if (raw['defaultErrnoRet'] !== undefined) {
    if (typeof raw['defaultErrnoRet'] !== 'number') bad('defaultErrnoRet is not a number');
    out.defaultErrnoRet = raw['defaultErrnoRet'] as number;
  }
  const native = archNames(pc.arch);
  const archs = raw['architectures'];
  const archMap = raw['archMap'];
  if (archs !== undefined && archs !== null && archMap !== undefined && archMap !== null) bad('both architectures and archMap are set; use one');
  if (archs !== undefined && archs !== null) out.architectures = strings(archs) ?? bad('architectures is not a list of strings');
  if (archMap !== undefined && archMap !== null) {
    if (!Array.isArray(archMap)) bad('archMap is not a list');
    for (const [i, a] of (archMap as unknown[]).entries()) {
      if (!isObj(a) || typeof a['architecture'] !== 'string') bad(`archMap[${i}].architecture is missing`);
      const entry = a as Obj;
      if (entry['architecture'] !== native.scmp) continue; // moby keeps only the native entry
      out.architectures = [native.scmp, ...(strings(entry['subArchitectures']) ?? [])];
    }
  }
  if (raw['flags'] !== undefined && raw['flags'] !== null) out.flags = strings(raw['flags']) ?? bad('flags is not a list of strings');
  const syscalls: LinuxSyscall[] = [];
  const list = raw['syscalls'] ?? [];
  if (!Array.isArray(list)) bad('syscalls is not a list');
  const caps = new Set(pc.capabilities);
  for (const [i, s] of (list as unknown[]).entries()) {
    const where = `syscalls[${i}]`;
    if (!isObj(s)) bad(`${where} is not an object`);
    const e = s as Obj;
    const inc = filterOf(e['includes'], `${where}.includes`, bad);
    const exc = filterOf(e['excludes'], `${where}.excludes`, bad);
    if (inc.arches && inc.arches.length > 0 && !inc.arches.includes(native.short)) continue;
    if (inc.caps && inc.caps.length > 0 && !inc.caps.every((c) => caps.has(c))) continue;
    if (!kernelOk(inc.minKernel, pc.kernelRelease)) continue;
    if (exc.arches && exc.arches.includes(native.short)) continue;
    if (exc.caps && exc.caps.some((c) => caps.has(c))) continue;
    if (exc.minKernel && pc.kernelRelease && kernelOk(exc.minKernel, pc.kernelRelease)) continue;
    const names = e['names'] !== undefined ? strings(e['names']) : undefined;
    const name = typeof e['name'] === 'string' ? e['name'] : undefined;
    if (names && name) bad(`${where} has both name and names; use names`);
    const allNames = names ?? (name ? [name] : undefined);
    if (!allNames || allNames.length === 0) bad(`${where} names no syscall`);
    const action = e['action'];
    if (typeof action !== 'string' || !ACTIONS.has(action)) bad(`${where}.action ${shape(action)} is not a seccomp action such as SCMP_ACT_ERRNO`);
    const sc: LinuxSyscall = { names: allNames as string[], action: action as SeccompAction };
    if (e['errnoRet'] !== undefined) {
      if (typeof e['errnoRet'] !== 'number') bad(`${where}.errnoRet is not a number`);
      sc.errnoRet = e['errnoRet'] as number;
    }
    if (e['args'] !== undefined && e['args'] !== null) {
      if (!Array.isArray(e['args'])) bad(`${where}.args is not a list`);
      const args: LinuxSeccompArg[] = [];
      for (const [j, a] of (e['args'] as unknown[]).entries()) {
        if (!isObj(a) || typeof a['index'] !== 'number' || typeof a['value'] !== 'number' || typeof a['op'] !== 'string' || !OPERATORS.has(a['op'])) {
          bad(`${where}.args[${j}] needs a numeric index and value and an op such as SCMP_CMP_EQ`);
        }
        const arg = a as Obj;
        const x: LinuxSeccompArg = { index: arg['index'] as number, value: arg['value'] as number, op: arg['op'] as SeccompOperator };
        if (typeof arg['valueTwo'] === 'number') x.valueTwo = arg['valueTwo'];
        args.push(x);
      }
      if (args.length > 0) sc.args = args;
    }
    syscalls.push(sc);
  }
  if (syscalls.length > 0) out.syscalls = syscalls;
  return out;
}
