// After a daemon restart, what became of a container (or infra process) crius had started: the store
// knows its conmon pid and start time, conmon's exit file knows whether it exited. Order matters: the
// exit file is read first (conmon writes it before exiting), so "conmon gone and no exit file" really
// means conmon died without recording one (killed, host trouble); CRI-O then reports exit 255
// (runtime_oci.go). After a reboot the recorded pids belong to the previous boot and mean nothing:
// without an exit file the container is lost with reason "node rebooted".
// The only recovery decision in crius: ContainerService.recover and the pod infra check both use it.
import { processAlive } from './process-liveness.js';
import { readExit, type ContainerExit, type ExitPaths } from './exit-files.js';

type RecoveredState =
  | { state: 'running' }
  | { state: 'exited'; exit: ContainerExit }
  | { state: 'lost'; exit: ContainerExit; reason: string; message: string };

/** Exit code reported for a container whose conmon vanished without an exit file (CRI-O's choice). */
export const LOST_EXIT_CODE = 255;
/** The CRI reason of a container lost to a reboot. */
export const REBOOT_REASON = 'node rebooted';

export async function recoverContainer(id: string, paths: ExitPaths, conmon: { pid?: number; startTime?: string }, rebooted = false): Promise<RecoveredState> {
  const exit = await readExit(id, paths);
  if (exit) return { state: 'exited', exit };
  if (!rebooted && conmon.pid !== undefined && conmon.startTime !== undefined && await processAlive(conmon.pid, conmon.startTime)) {
    // conmon may have written the exit file between the two checks.
    const late = await readExit(id, paths);
    return late ? { state: 'exited', exit: late } : { state: 'running' };
  }
  const again = await readExit(id, paths);
  if (again) return { state: 'exited', exit: again };
  const now = new Date();
  const exitLost: ContainerExit = { exitCode: LOST_EXIT_CODE, finishedAt: now, finishedAtNs: (BigInt(now.getTime()) * 1_000_000n).toString(), oomKilled: false };
  if (rebooted) {
    return { state: 'lost', exit: exitLost, reason: REBOOT_REASON, message: `the node rebooted; container ${id} and its conmon are gone and no exit was recorded` };
  }
  return {
    state: 'lost', exit: exitLost, reason: 'Error',
    message: `conmon (pid ${conmon.pid ?? 'unknown'}) is gone and wrote no exit file for container ${id}`,
  };
}
