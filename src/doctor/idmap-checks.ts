// Judges the idmap probes (really attempted: open_tree + mount_setattr(MOUNT_ATTR_IDMAP), and an
// overlay over idmapped lower layers). Pure: the probes themselves are in idmap-probes.ts.
import type { SyscallFailure } from '../userns/idmap-helper.js';
import { idmapRequirement, type ProbeFacts } from '../userns/idmap-support.js';
import { fail, ok, warn, type CheckResult } from './check.js';

export type IdmapProbeFact =
  | { kind: 'ok'; path: string; fs: ProbeFacts }
  | { kind: 'refused'; path: string; fs: ProbeFacts; failure: SyscallFailure }
  /** The probe could not run at all (helper missing, no user namespace, mount failed). */
  | { kind: 'error'; path: string; error: string };

const fsOf = (fs: ProbeFacts): string => `${fs.fsType} (${fs.source} at ${fs.mountPoint})`;

/** `what` says why this filesystem matters, e.g. "kubelet secret/configMap/projected volumes". */
export function checkIdmapProbe(name: string, what: string, fact: IdmapProbeFact, kernelRelease: string): CheckResult {
  if (fact.kind === 'ok') return ok(name, `${fact.path} on ${fsOf(fact.fs)} can be idmapped (${what})`, true);
  if (fact.kind === 'refused') {
    return fail(name, `${fact.path} on ${fsOf(fact.fs)}: ${fact.failure.syscall} failed with ${fact.failure.errno} (${what})`,
      idmapRequirement(fact.fs.fsType, kernelRelease), true);
  }
  return fail(name, `could not probe ${fact.path}: ${fact.error}`, 'fix the cause above (native helper built? user namespaces enabled? running as root?)', true);
}

export type OverlayProbeFact =
  | {
    kind: 'ok';
    /** How the helper handed the idmapped lowers to overlayfs. */
    method: string;
    layerDir: string;
    /** Host IDs of container 0:0 in the probe's mapping. */
    expect: { uid: number; gid: number };
    /** Owner, seen from the host, of the merged root (the upper dir) and of a root-owned file of the lower layer. */
    root: { uid: number; gid: number };
    lowerFile: { uid: number; gid: number };
  }
  /** refused: the kernel refused a mount syscall; otherwise the probe could not run (helper missing, ...). */
  | { kind: 'error'; layerDir: string; error: string; refused: boolean };

const pair = (p: { uid: number; gid: number }): string => `${p.uid}:${p.gid}`;

export function checkOverlayIdmap(fact: OverlayProbeFact, rootfsMode: 'idmap' | 'copy'): CheckResult {
  const name = 'idmap overlay rootfs';
  // With rootfs = "copy" crius never idmaps lowers: a failure here costs disk and time, not pods.
  const needed = rootfsMode === 'idmap';
  const fix = 'needs Linux >= 5.19 and a layer filesystem that can be idmapped (ext4, xfs, btrfs); else set [userns] rootfs = "copy" (one chowned copy of each image per mapping)';
  if (fact.kind === 'error') {
    const d = `overlay over an idmapped lower layer in ${fact.layerDir} failed: ${fact.error}`;
    const f = fact.refused ? fix : 'fix the cause above (native helper built? user namespaces enabled? running as root?)';
    return needed ? fail(name, d, f, true) : warn(name, `${d} ([userns] rootfs = "copy" does not need it)`, f);
  }
  if (fact.root.uid !== fact.expect.uid || fact.root.gid !== fact.expect.gid ||
      fact.lowerFile.uid !== fact.expect.uid || fact.lowerFile.gid !== fact.expect.gid) {
    const d = `overlay mounted (${fact.method}) but ownership is wrong: root ${pair(fact.root)}, lower file ${pair(fact.lowerFile)}, ` +
      `want ${pair(fact.expect)} (container 0:0)`;
    return needed ? fail(name, d, fix, true) : warn(name, d, fix);
  }
  return ok(name, `overlay over an idmapped lower layer in ${fact.layerDir} (${fact.method}): a root-owned layer file reads as ` +
    `${pair(fact.lowerFile)} from the host, i.e. 0:0 in the pod, without copying${needed ? '' : ' (unused: [userns] rootfs = "copy")'}`, needed);
}
