// Host facts that change how crius runs containers: the cgroup mode (and the hybrid workaround), the
// CAP_SYS_RESOURCE capability (without it negative oom_score_adj requests are clamped), and the
// subordinate ID range crius hands to standalone pods, which must not overlap /etc/subuid or /etc/subgid.
import type { CgroupLayout } from '../cgroup/mode.js';
import { clampOomScoreAdj } from '../spec/resources.js';
import { MAX_ID } from '../userns/mapping-rules.js';
import { fail, ok, warn, type CheckResult } from './check.js';

export function checkCgroups(layout: CgroupLayout, wrapper: { path: string; exists: boolean }): CheckResult {
  const name = 'cgroups';
  if (layout.mode === 'hybrid') {
    const what = `hybrid (v1 controllers at ${layout.v1Mounts.length} mounts, cgroup2 at ${layout.unifiedMount ?? '?'})`;
    if (!wrapper.exists) {
      return fail(name, `${what}: crun refuses this layout, and the wrapper ${wrapper.path} that hides the cgroup2 mount from the runtime is missing`,
        'build it: make -C native', true);
    }
    return ok(name, `${what}: crius runs the OCI runtime through ${wrapper.path}, which hides the cgroup2 mount in a throwaway mount namespace ` +
      '(host mounts unchanged); containers get v1 cgroups beneath crius\'s own', true);
  }
  if (layout.mode === 'v1') {
    return ok(name, `v1 (${layout.v1Mounts.length} controller mounts): containers get v1 cgroups beneath crius's own memory cgroup`, true);
  }
  return ok(name, `v2 (${layout.unifiedMount ?? '/sys/fs/cgroup'}): containers nest beneath crius's own cgroup`, true);
}

/** Bit 24 of a CapEff hex mask (capability(7): CAP_SYS_RESOURCE = 24). */
export function hasCapSysResource(capEffHex: string): boolean {
  try {
    return ((BigInt(`0x${capEffHex}`) >> 24n) & 1n) === 1n;
  } catch {
    return false;
  }
}

/**
 * Whether user-namespaced pods can reach their root filesystems under the state dir: `problem` names the
 * directory on the way that other users cannot search (daemon/private-state.ts stateDirTraversalProblem).
 */
export function checkStateDirTraversal(stateDir: string, problem: string | null): CheckResult {
  const name = 'state dir reachable by pods';
  if (problem === null) return ok(name, `every directory above ${stateDir}/pods and ${stateDir}/containers is searchable by other users (pods' host IDs)`, true);
  return fail(name, `${problem}: every user-namespaced pod would fail in the runtime ("make \`rootfs\` private: Permission denied"); RunPodSandbox refuses them with FAILED_PRECONDITION`,
    `chmod o+x that directory (0711 keeps it unlistable), or move state_dir (--state) below directories that are`, true);
}

export function checkCapSysResource(capEffHex: string | undefined, ownOomScoreAdj: number): CheckResult {
  const name = 'CAP_SYS_RESOURCE';
  if (capEffHex !== undefined && hasCapSysResource(capEffHex)) {
    return ok(name, 'held: containers get the oom_score_adj the kubelet asks for (-997 for Guaranteed pods)');
  }
  // Without the capability the kernel refuses lowering oom_score_adj below our own (oom_score_adj_min).
  const kubeletGuaranteed = clampOomScoreAdj(-997, ownOomScoreAdj);
  return warn(name, `not held (CapEff ${capEffHex ?? 'unreadable'}): oom_score_adj cannot go below crius's own ${ownOomScoreAdj}; ` +
    `negative requests are clamped (the kubelet's -997 for Guaranteed pods becomes ${kubeletGuaranteed.value})`,
    'run criusd with CAP_SYS_RESOURCE (e.g. not under a supervisor that drops it) for exact OOM priorities; pods run either way');
}

export interface SubidEntry {
  owner: string;
  start: number;
  count: number;
  /** "/etc/subuid:3" */
  where: string;
}

/** Parses /etc/subuid or /etc/subgid ("name:start:count" lines; comments and junk skipped). */
export function parseSubidFile(text: string, file: string): SubidEntry[] {
  const out: SubidEntry[] = [];
  text.split('\n').forEach((line, i) => {
    const m = /^\s*([^:#\s][^:]*):(\d+):(\d+)\s*$/.exec(line);
    if (m) out.push({ owner: m[1]!, start: Number(m[2]), count: Number(m[3]), where: `${file}:${i + 1}` });
  });
  return out;
}

export function checkSubidRange(range: { start: number; length: number }, entries: readonly SubidEntry[]): CheckResult {
  const name = 'subordinate IDs';
  const end = range.start + range.length - 1;
  const shown = `[userns] subid_start ${range.start} + subid_length ${range.length} (IDs ${range.start}-${end})`;
  if (range.length < 1 || end > MAX_ID) {
    return fail(name, `${shown} runs past ${MAX_ID} (4294967295 is reserved as the invalid ID)`,
      'lower subid_start or subid_length in the config');
  }
  const overlaps = entries.filter((e) => e.start <= end && range.start <= e.start + e.count - 1);
  if (overlaps.length > 0) {
    return fail(name, `${shown} overlaps ${overlaps.map((e) => `${e.where} (${e.owner}:${e.start}:${e.count})`).join(', ')}: ` +
      'standalone pods could share host IDs with that user\'s containers',
      'move [userns] subid_start past every /etc/subuid and /etc/subgid range (default 2147483648)');
  }
  return ok(name, `${shown}; no overlap with ${entries.length} /etc/subuid and /etc/subgid entries (used by standalone pods; the kubelet brings its own)`);
}

/**
 * The cgroup driver crius will use and whether the kubelet is likely to agree (KEP-4033: the kubelet
 * takes the runtime's driver from RuntimeConfig; older ones read their own cgroupDriver setting, whose
 * default with kubeadm is systemd). `kubelet` is the cgroupDriver of /var/lib/kubelet/config.yaml, if any.
 */
export function checkCgroupDriver(f: {
  layout: CgroupLayout; driver: 'systemd' | 'cgroupfs'; configured: boolean; pid1IsSystemd: boolean; problem?: string; kubelet?: string;
}): CheckResult {
  const name = 'cgroup driver';
  const version = f.layout.mode === 'v2' ? 'cgroup v2' : f.layout.mode === 'v1' ? 'cgroup v1' : 'hybrid cgroups';
  const how = f.configured ? 'cgroup_manager in the config' : `default (${f.pid1IsSystemd ? 'systemd is PID 1' : 'systemd is not PID 1'}, ${version})`;
  if (f.problem) return fail(name, `${f.driver} from ${how}: ${f.problem}`, 'set cgroup_manager to the driver this host supports');
  const detail = `${f.driver} on ${version}, from ${how}; RuntimeConfig reports ${f.driver.toUpperCase()}`;
  if (f.kubelet !== undefined && f.kubelet !== f.driver) {
    return warn(name, `${detail}, but the kubelet's config says cgroupDriver: ${f.kubelet}`,
      `make them agree: cgroup_manager = "${f.kubelet}" in crius's config, or cgroupDriver: ${f.driver} for the kubelet (kubelets >= 1.32 take it from RuntimeConfig)`);
  }
  if (f.kubelet === undefined && f.driver === 'cgroupfs' && f.pid1IsSystemd) {
    return warn(name, `${detail}; kubeadm configures kubelets with cgroupDriver: systemd on systemd hosts`,
      'use cgroup_manager = "systemd" (the default on pure cgroup v2 with systemd) unless the kubelet uses cgroupfs');
  }
  return ok(name, f.kubelet !== undefined ? `${detail}; the kubelet's config agrees` : detail);
}

/** Whether containers get AppArmor profiles here. */
export function checkAppArmor(f: { enabled: boolean; parser?: string; defaultLoaded: boolean }): CheckResult {
  const name = 'AppArmor';
  if (!f.enabled) return ok(name, 'not enabled in this kernel: containers run without AppArmor profiles (Localhost profiles are refused)');
  if (!f.parser) {
    return warn(name, 'enabled in the kernel, but apparmor_parser is missing: crius cannot load crius-default, so RuntimeDefault containers run unconfined',
      'apt-get install apparmor');
  }
  return ok(name, `enabled and in use: RuntimeDefault containers run under crius-default (${f.defaultLoaded ? 'loaded now' : 'loaded when criusd starts'} with ${f.parser}); Localhost profiles must be loaded first`);
}
