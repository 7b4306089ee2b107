// The idmap probes `crius doctor` really performs, all in a throwaway dir named crius-doctor-* (so the
// test suite's leak check would see anything left behind), each undone before returning:
// - a fresh tmpfs (the kubelet's secret/configMap/projected volumes; tmpfs idmap needs Linux 6.3);
// - the filesystem of the crius root dir (image layers live there);
// - an overlay over an idmapped read-only lower layer, as crius builds a user-namespaced pod's rootfs.
import { existsSync } from 'node:fs';
import { mountsUnder } from '../common/mountinfo.js';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { errorMessage } from '../common/errors.js';
import { run, type Runner } from '../common/exec.js';
import { mountContainerRootfs, unmountContainerRootfs } from '../rootfs/overlay-rootfs.js';
import { SyscallError, type IdmapHelper } from '../userns/idmap-helper.js';
import { openNativeIdmapProbe, type NativeIdmapProbe } from '../userns/idmap-probe.js';
import { createIdmapSupport, type IdmapSupport } from '../userns/idmap-support.js';
import type { IdRange } from '../userns/mapping-rules.js';
import { createUsernsFile, removeUsernsFile } from '../userns/userns-file.js';
import type { IdmapProbeFact, OverlayProbeFact } from './idmap-checks.js';

interface IdmapProbeReport {
  tmpfs: IdmapProbeFact;
  rootDir: IdmapProbeFact;
  overlay: OverlayProbeFact;
  /** Mounts that could not be removed (left in place rather than deleting through them). */
  leftMounts: string[];
}

interface IdmapProbeOptions {
  /** The crius root dir; probed at its nearest existing ancestor when it does not exist yet. */
  rootDir: string;
  runner?: Runner;
  helper?: IdmapHelper;
}

/** The rootfs probe's mapping: container 0:0 is host 65536:65536 (containerd's supportsIDMap range). */
const RANGE: IdRange = { containerId: 0, hostId: 65536, length: 65536 };

export function nearestExisting(path: string, exists: (p: string) => boolean = existsSync): string {
  let p = path;
  while (!exists(p) && p !== dirname(p)) p = dirname(p);
  return p;
}

async function probeFact(support: IdmapSupport | undefined, path: string, whyNot: string): Promise<IdmapProbeFact> {
  if (!support) return { kind: 'error', path, error: whyNot };
  try {
    const r = await support.probePath(path);
    return r.ok ? { kind: 'ok', path, fs: r.fs } : { kind: 'refused', path, fs: r.fs, failure: r.failure };
  } catch (err) {
    return { kind: 'error', path, error: errorMessage(err) };
  }
}

async function probeTmpfs(dir: string, support: IdmapSupport | undefined, whyNot: string, runner: Runner): Promise<IdmapProbeFact> {
  const mnt = join(dir, 'tmpfs');
  await mkdir(mnt);
  try {
    await runner('/usr/bin/mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'crius-doctor', mnt], { timeoutMs: 15_000 });
  } catch (err) {
    return { kind: 'error', path: mnt, error: `cannot mount a tmpfs to probe: ${errorMessage(err)}` };
  }
  try {
    return await probeFact(support, mnt, whyNot);
  } finally {
    await runner('/usr/bin/umount', [mnt], { timeoutMs: 15_000 }).catch(() => runner('/usr/bin/umount', ['-l', mnt], { timeoutMs: 15_000 }).catch(() => undefined));
  }
}

/** Whether a syscall failure (the kernel's answer) is somewhere in the cause chain. */
function refusedBySyscall(err: unknown): boolean {
  for (let e: unknown = err, i = 0; e instanceof Error && i < 8; e = e.cause, i++) {
    if (e instanceof SyscallError) return true;
  }
  return false;
}

async function probeOverlay(dir: string, o: IdmapProbeOptions, runner: Runner): Promise<OverlayProbeFact> {
  const layerDir = join(dir, 'layer');
  const usernsFile = join(dir, 'rootfs.userns');
  const target = join(dir, 'merged');
  let mounted = false;
  try {
    await mkdir(layerDir, { mode: 0o755 });
    await writeFile(join(layerDir, 'file'), 'owned by host root\n');
    await mkdir(join(dir, 'idmap-tmp'), { mode: 0o700 });
    await createUsernsFile(usernsFile, { uid: RANGE, gid: RANGE }, runner);
    const m = await mountContainerRootfs({
      layers: [layerDir], upperDir: join(dir, 'upper'), workDir: join(dir, 'work'), target,
      userns: { file: usernsFile, uidMap: RANGE, gidMap: RANGE }, tmpDir: join(dir, 'idmap-tmp'), runner, helper: o.helper,
    });
    mounted = true;
    const root = await stat(target);
    const file = await stat(join(target, 'file'));
    return {
      kind: 'ok', method: m.how, layerDir, expect: { uid: RANGE.hostId, gid: RANGE.hostId },
      root: { uid: root.uid, gid: root.gid }, lowerFile: { uid: file.uid, gid: file.gid },
    };
  } catch (err) {
    return { kind: 'error', layerDir, error: errorMessage(err), refused: refusedBySyscall(err) };
  } finally {
    if (mounted || mountsUnder(target).length > 0) await unmountContainerRootfs(target, runner).catch(() => undefined);
    await removeUsernsFile(usernsFile, runner).catch(() => undefined);
  }
}

/** Runs the three probes; never throws for a probe's failure (that is the answer), only for a temp dir it cannot make. */
export async function runIdmapProbes(o: IdmapProbeOptions): Promise<IdmapProbeReport> {
  const runner = o.runner ?? run;
  // Put the throwaway dir on the root dir's filesystem when it exists, so the overlay probe uses the
  // filesystem real image layers would be on.
  const base = existsSync(o.rootDir) ? o.rootDir : tmpdir();
  const dir = await mkdtemp(join(base, 'crius-doctor-'));
  let probe: NativeIdmapProbe | undefined;
  let whyNot = '';
  let facts: Omit<IdmapProbeReport, 'leftMounts'>;
  let left: string[];
  try {
    try {
      probe = await openNativeIdmapProbe(dir, { runner, helper: o.helper });
    } catch (err) {
      whyNot = `cannot pin a user namespace for the probe: ${errorMessage(err)}`;
    }
    const support = probe ? createIdmapSupport({ probe: probe.probe }) : undefined;
    const tmpfs = await probeTmpfs(dir, support, whyNot, runner);
    const rootDir = await probeFact(support, nearestExisting(o.rootDir), whyNot);
    const overlay = await probeOverlay(dir, o, runner);
    facts = { tmpfs, rootDir, overlay };
  } finally {
    await probe?.close().catch(() => undefined);
    left = mountsUnder(dir);
    // Never delete recursively through a mount point: that would delete what is mounted there.
    if (left.length === 0) await rm(dir, { recursive: true, force: true });
  }
  return { ...facts, leftMounts: left };
}
