// A pid alone does not identify a process across time (pids are reused): crius records conmon's pid
// together with its start time (/proc/<pid>/stat field 22, clock ticks since boot), as CRI-O does, and
// after a daemon restart treats conmon as alive only when both still match.
import { readFile } from 'node:fs/promises';

/** Field 22 (starttime) of /proc/<pid>/stat text; the comm field may hold spaces and parentheses. Pure. */
export function startTimeFromStat(stat: string): string | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  // Fields after comm start at field 3 (state); starttime is field 22 -> index 19 in this tail.
  const rest = stat.slice(close + 2).split(' ');
  const v = rest[19];
  return v !== undefined && /^\d+$/.test(v) ? v : undefined;
}

/** The process's start time, or undefined when it does not exist (or is a zombie: reaped soon). */
export async function processStartTime(pid: number): Promise<string | undefined> {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return undefined;
    return startTimeFromStat(stat);
  } catch {
    return undefined;
  }
}

/** Whether the process `pid` that started at `startTime` is still running. */
export async function processAlive(pid: number, startTime: string): Promise<boolean> {
  return (await processStartTime(pid)) === startTime;
}
