// What crius decides once at daemon start about running OCI runtimes on this host: the cgroup layout,
// the mounts hidden from the runtime (hybrid hosts), where containers' cgroups go (cgroup/host.ts), and
// the oom_score_adj floor. Logged once, so an operator can see why crun runs through a wrapper.
import { existsSync } from 'node:fs';
import { failedPrecondition } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { detectCgroupBase, detectCgroupLayout, runtimeHiddenMounts } from '../cgroup/mode.js';
import { cgroupDriverProblem, defaultCgroupDriver, type CgroupDriver } from '../cgroup/driver.js';
import { pid1IsSystemd, prepareV2Subtree, type CgroupHost } from '../cgroup/host.js';
import { oomScoreAdjFloor } from './oom-score.js';

export interface OciHost extends CgroupHost {
  /** Mounts crius-oci-wrap hides from every runtime call (empty: the runtime runs directly). */
  hideMounts: string[];
  /** The lowest oom_score_adj crius can give a container. */
  oomScoreAdjFloor: number;
  /** crius-oci-wrap's path (used only when hideMounts is not empty). */
  wrapperPath: string;
}

export async function detectOciHost(logger: Logger, wrapperPath: string, configured?: CgroupDriver): Promise<OciHost> {
  const layout = await detectCgroupLayout();
  const systemd = pid1IsSystemd();
  const driver = configured ?? defaultCgroupDriver(layout, systemd);
  const problem = cgroupDriverProblem(driver, layout, systemd);
  if (problem) throw failedPrecondition(problem);
  const hideMounts = runtimeHiddenMounts(layout);
  if (hideMounts.length > 0 && !existsSync(wrapperPath)) {
    throw failedPrecondition(`this host has hybrid cgroups (cgroup2 at ${hideMounts.join(', ')}), which crun refuses; crius runs the runtime through ${wrapperPath}, which is missing: build it with make -C native`);
  }
  const cgroupBase = await detectCgroupBase(layout);
  const floor = oomScoreAdjFloor();
  let notes: string[] = [];
  if (layout.mode === 'v2' && driver === 'cgroupfs') {
    try {
      notes = await prepareV2Subtree(layout.unifiedMount ?? '/sys/fs/cgroup', cgroupBase);
    } catch (err) {
      // Pods without limits still run; each limit will fail with the runtime's message, so say why once.
      logger.warn('containers\' cgroup limits will fail', { error: (err as Error).message });
    }
  }
  logger.info('oci host setup', {
    cgroupMode: layout.mode,
    cgroupDriver: driver,
    cgroupDriverSource: configured ? 'cgroup_manager' : 'default',
    ...(notes.length > 0 ? { v2Subtree: notes } : {}),
    runtimeWrapper: hideMounts.length > 0 ? wrapperPath : null,
    hiddenFromRuntime: hideMounts,
    why: hideMounts.length > 0
      ? 'hybrid cgroups: crun refuses a cgroup2 mount next to v1 controllers; the runtime runs in a throwaway mount namespace without it (host mounts unchanged)'
      : 'runtime runs directly',
    cgroupBase,
    oomScoreAdjFloor: floor,
  });
  return { layout, hideMounts, cgroupBase, oomScoreAdjFloor: floor, wrapperPath, driver };
}



