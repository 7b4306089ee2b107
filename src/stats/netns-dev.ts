// A pod's interface counters from inside its network namespace. Cheapest first: /proc/<pid>/net/dev of a
// process already in the netns (a file read, ~0.05 ms) — any running container of the pod, or its infra
// process; else `nsenter --net=<pinned netns> cat /proc/net/dev` (a fork+exec, a few ms), for pods with
// no running process. The pid is trusted only when its /proc/<pid>/ns/net is the pinned netns.
import { readFile, stat } from 'node:fs/promises';
import { run, type Runner } from '../common/exec.js';
import { parseNetDev, type InterfaceSample } from '../cgroup/parsers.js';

export interface NetnsTarget {
  /** The pod's pinned netns file. */
  netnsPath: string;
  /** Processes believed to be in it (container inits, infra). */
  pids: number[];
}

async function sameInode(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([stat(a), stat(b)]);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

export async function readPodNetDev(t: NetnsTarget, runner: Runner = run): Promise<{ ifaces: InterfaceSample[]; via: 'proc' | 'nsenter' } | undefined> {
  for (const pid of t.pids) {
    if (!(await sameInode(`/proc/${pid}/ns/net`, t.netnsPath))) continue;
    try {
      return { ifaces: parseNetDev(await readFile(`/proc/${pid}/net/dev`, 'utf8')), via: 'proc' };
    } catch { /* exited between the two reads */ }
  }
  try {
    const r = await runner('nsenter', [`--net=${t.netnsPath}`, 'cat', '/proc/net/dev'], { timeoutMs: 5000 });
    return { ifaces: parseNetDev(r.stdout), via: 'nsenter' };
  } catch {
    return undefined;
  }
}
