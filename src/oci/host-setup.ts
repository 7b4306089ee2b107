// What crius decides once at daemon start about running OCI runtimes on this host: the cgroup layout,
// the mounts hidden from the runtime (hybrid hosts), where containers' cgroups go, and the
// oom_score_adj floor. Logged once, so an operator can see why crun runs through a wrapper.
import { existsSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import path from 'node:path';
import { failedPrecondition } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { Runner } from '../common/exec.js';
import {
  cgroupDirs, cgroupParentFor, containerCgroupsPath, detectCgroupBase, detectCgroupLayout, removeCgroup, runtimeHiddenMounts, type CgroupLayout,
} from './cgroup-mode.js';
import { clampOomScoreAdjTo, oomScoreAdjFloor, type ClampedOomScoreAdj } from './oom-score.js';
import { createOciRuntime, type OciHandlerConfig, type OciRuntime } from './runtime.js';

export interface OciHost {
  layout: CgroupLayout;
  /** Mounts crius-oci-wrap hides from every runtime call (empty: the runtime runs directly). */
  hideMounts: string[];
  /** Absolute cgroup path all pods nest under, e.g. /process_api/<hash>/crius. */
  cgroupBase: string;
  /** The lowest oom_score_adj crius can give a container. */
  oomScoreAdjFloor: number;
  /** crius-oci-wrap's path (used only when hideMounts is not empty). */
  wrapperPath: string;
}

export async function detectOciHost(logger: Logger, wrapperPath: string): Promise<OciHost> {
  const layout = await detectCgroupLayout();
  const hideMounts = runtimeHiddenMounts(layout);
  if (hideMounts.length > 0 && !existsSync(wrapperPath)) {
    throw failedPrecondition(`this host has hybrid cgroups (cgroup2 at ${hideMounts.join(', ')}), which crun refuses; crius runs the runtime through ${wrapperPath}, which is missing: build it with make -C native`);
  }
  const cgroupBase = await detectCgroupBase(layout);
  const floor = oomScoreAdjFloor();
  logger.info('oci host setup', {
    cgroupMode: layout.mode,
    runtimeWrapper: hideMounts.length > 0 ? wrapperPath : null,
    hiddenFromRuntime: hideMounts,
    why: hideMounts.length > 0
      ? 'hybrid cgroups: crun refuses a cgroup2 mount next to v1 controllers; the runtime runs in a throwaway mount namespace without it (host mounts unchanged)'
      : 'runtime runs directly',
    cgroupBase,
    oomScoreAdjFloor: floor,
  });
  return { layout, hideMounts, cgroupBase, oomScoreAdjFloor: floor, wrapperPath };
}

/** An OciRuntime for a handler on this host (wrapper and hidden mounts filled in). */
export function runtimeForHost(host: OciHost, handler: Omit<OciHandlerConfig, 'wrapperPath' | 'hideMounts'>, runner?: Runner): OciRuntime {
  return createOciRuntime({ ...handler, wrapperPath: host.wrapperPath, hideMounts: host.hideMounts }, runner);
}

/** The pod's cgroup parent beneath crius's own cgroup (kubelet's cgroup_parent nested under it). */
export function podCgroupParent(host: OciHost, podId: string, requested = ''): string {
  return cgroupParentFor(host.cgroupBase, podId, requested);
}

/** The cgroupsPath of one container of a pod. */
export const containerCgroupPath = containerCgroupsPath;

/**
 * Removes a pod's cgroups (after its containers were deleted; the runtime removes each container's own)
 * in every hierarchy, and prunes empty parents up to the base. Idempotent; cgroups still holding
 * processes are left and listed.
 */
export async function removePodCgroup(host: OciHost, podParent: string): Promise<{ left: string[] }> {
  return removeCgroup(host.layout, podParent, host.cgroupBase);
}

/** A container's oom_score_adj as this host allows it. */
export function clampOomScoreAdjForHost(host: OciHost, requested: number): ClampedOomScoreAdj {
  return clampOomScoreAdjTo(requested, host.oomScoreAdjFloor);
}

/**
 * At shutdown with no pods left: removes the empty cgroup base (<own>/crius) in every hierarchy, and the
 * empty parents the runtime created for it in controllers where crius itself sits at the root. A cgroup
 * with processes or children (our own, another session's) refuses rmdir and stays.
 */
export async function pruneCgroupBase(host: OciHost): Promise<void> {
  for (let p = host.cgroupBase; p !== '/' && p !== ''; p = path.posix.dirname(p)) {
    for (const dir of cgroupDirs(host.layout, p)) await rmdir(dir).catch(() => undefined);
  }
}
