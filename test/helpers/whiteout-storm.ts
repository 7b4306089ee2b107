// What the whiteout-storm test (test/hostile/layers.test.ts) and bench (bench/whiteout-storm.ts) share:
// the storm layer's entries, a process's CPU time, and the slowest Version answer while work runs.
import { readFileSync } from 'node:fs';
import type { TarEntry } from './build-image.js';
import type { TestDaemon } from './daemon.js';

/** n directories, then a whiteout for each of them: the layer that made unpacking quadratic. */
export function whiteoutStorm(n: number, tag: string): TarEntry[] {
  const entries: TarEntry[] = [];
  for (let i = 0; i < n; i++) entries.push({ path: `${tag}${i}/`, type: 'directory' });
  for (let i = 0; i < n; i++) entries.push({ path: `.wh.${tag}${i}` });
  return entries;
}

/**
 * CPU time a process used so far, in ms, from /proc/<pid>/stat (clock ticks of 10 ms): user time, plus
 * system time unless `userOnly`. Unlike wall time, not inflated by other work on a busy machine.
 */
export function cpuMs(pid: number, o: { userOnly?: boolean } = {}): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[14 - 3]) + (o.userOnly ? 0 : Number(f[15 - 3]))) * 10;
}

/** Runs `work` while asking the daemon for Version every 100 ms; returns its result and the slowest answer. */
export async function whileProbingVersion<T>(d: TestDaemon, work: () => Promise<T>, timeoutMs = 60_000): Promise<{ result: T; slowestVersionMs: number }> {
  let running = true;
  let slowest = 0;
  const prober = (async () => {
    while (running) {
      const t = Date.now();
      await d.client.call('runtime', 'Version', {}, timeoutMs);
      slowest = Math.max(slowest, Date.now() - t);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    return { result: await work(), slowestVersionMs: slowest };
  } finally {
    running = false;
    await prober;
  }
}
