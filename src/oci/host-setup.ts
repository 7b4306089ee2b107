// What crius decides once at daemon start about running OCI runtimes on this host: the cgroup layout,
// the mounts hidden from the runtime (hybrid hosts), where containers' cgroups go, and the
// oom_score_adj floor. Logged once, so an operator can see why crun runs through a wrapper.
import { existsSync } from 'node:fs';
import { failedPrecondition } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { detectCgroupBase, detectCgroupLayout, runtimeHiddenMounts, type CgroupLayout } from './cgroup-mode.js';
import { oomScoreAdjFloor } from './oom-score.js';

export interface OciHost {
  layout: CgroupLayout;
  /** Mounts crius-oci-wrap hides from every runtime call (empty: the runtime runs directly). */
  hideMounts: string[];
  /** Absolute cgroup path all pods nest under, e.g. /process_api/<hash>/crius. */
  cgroupBase: string;
  /** The lowest oom_score_adj crius can give a container. */
  oomScoreAdjFloor: number;
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
  return { layout, hideMounts, cgroupBase, oomScoreAdjFloor: floor };
}
