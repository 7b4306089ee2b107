// Hides the kernel's wait before a cgroup attach behind crius's own work.
//
// Every move of a process into a cgroup (a write to cgroup.procs: crun placing a container's init or an
// exec'd process, runc too) takes the kernel's global cgroup_threadgroup_rwsem for writing. That lock is
// a per-CPU rwsem whose writer, when no writer has come by for a while, first waits for an RCU grace
// period (rcu_sync_enter); a writer that follows another within about one grace period skips the wait.
// Measured on this host: a no-op attach costs 6-8 ms after 20 ms or more of quiet and 0.01-0.2 ms within
// 10 ms of another, and `crun run` 150 ms after the previous one took 22.4 ms, against 12.5 ms when a
// no-op attach was started at the same moment (its grace period elapses while crun starts up; median of
// 15, alternating). A pod's container is created tens of milliseconds after anything else attached, so
// without this every CreateContainer paid the full wait.
//
// So just before the runtime is started, the daemon writes its own pid into the cgroup it is already in:
// a move to the same cgroup changes nothing, but it takes and releases the lock, so the grace period runs
// while conmon and the runtime start. The write blocks one libuv thread for one grace period; one prime
// at a time is enough (a second caller rides on the first). Errors are ignored: the lock was taken (or
// not) before the kernel looked at the pid, and the runtime's own attach still happens either way.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseProcCgroup, type CgroupLayout } from './mode.js';

/**
 * The cgroup.procs file of the cgroup the process is in, on one hierarchy of this layout: the cgroup2
 * one when mounted and listed, else a v1 hierarchy whose mount point is named after a controller the
 * process lists (/sys/fs/cgroup/pids for "pids:/..."). Undefined when neither is found. Pure.
 */
export function ownCgroupProcsFile(layout: CgroupLayout, procCgroup: string): string | undefined {
  const own = parseProcCgroup(procCgroup);
  const unified = own.get('');
  if (layout.unifiedMount && unified !== undefined) return path.join(layout.unifiedMount, unified, 'cgroup.procs');
  for (const mount of layout.v1Mounts) {
    for (const controller of path.basename(mount).split(',')) {
      const p = own.get(controller);
      if (p !== undefined) return path.join(mount, p, 'cgroup.procs');
    }
  }
  return undefined;
}

interface AttachPrimer {
  /** Starts a no-op attach unless one is under way; never throws, never waits. */
  prime(): void;
  /** The prime under way, if any (tests wait on it). */
  settled(): Promise<void>;
}

/** A primer for this process; the cgroup it is in is read at each prime, so a later move is followed. */
export function createAttachPrimer(layout: CgroupLayout, pid = process.pid): AttachPrimer {
  let inFlight: Promise<void> | undefined;
  const once = async (): Promise<void> => {
    const file = ownCgroupProcsFile(layout, await readFile(`/proc/${pid}/cgroup`, 'utf8'));
    if (file) await writeFile(file, String(pid));
  };
  return {
    prime() {
      if (inFlight) return;
      inFlight = once().catch(() => undefined).finally(() => { inFlight = undefined; });
    },
    settled: () => inFlight ?? Promise.resolve(),
  };
}
