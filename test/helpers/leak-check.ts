// What a daemon's pods may leave on the host after they were removed: mounts below its dirs, pinned
// namespace files, pod cgroups, conmon processes, veth interfaces on its bridge, CNI IP reservations.
// Scoped to one test daemon (its dirs, its pods, its bridge): other tests run on the same host.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { cgroupExists, detectCgroupBase, detectCgroupLayout } from '../../src/cgroup/mode.js';

interface LeakScope {
  /** The test daemon's dir (holds its root and state dirs). */
  daemonDir: string;
  /** The daemon's state dir. */
  stateDir: string;
  /** The daemon's root dir. */
  rootDir: string;
  /** Pods that existed: their cgroups (<crius base>/<pod id>) must be gone. */
  podIds: string[];
  /** The CNI bridge the pods' veths were attached to. */
  bridge?: string;
  /** host-local IPAM data dir of the node's network (reservations are files named by IP). */
  ipamDir?: string;
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

import { mountsUnder } from '../../src/common/mountinfo.js';
export { mountsUnder };

/** PIDs of conmon processes whose command line names something below `prefix`. */
export function conmonsUnder(prefix: string): number[] {
  const out: number[] = [];
  for (const name of entries('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!(argv[0] ?? '').endsWith('conmon')) continue;
    if (argv.some((a) => a.includes(prefix))) out.push(Number(name));
  }
  return out;
}

/** veth (or any) interfaces enslaved to `bridge`; none when the bridge does not exist. */
function bridgePorts(bridge: string): string[] {
  try {
    const out = execFileSync('/usr/sbin/ip', ['-o', 'link', 'show', 'master', bridge], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').filter(Boolean).map((l) => l.split(':')[1]?.trim() ?? l);
  } catch {
    return [];
  }
}

/**
 * Everything left behind, one line per leak; empty when clean. Looks again for up to `settleMs` while
 * something remains: a conmon writes the exit file and only then exits, so it may outlive the RPC that
 * waited for the exit by a few milliseconds. What is still there after that is a leak.
 */
async function findLeaks(s: LeakScope, settleMs = 3000): Promise<string[]> {
  const end = Date.now() + settleMs;
  for (;;) {
    const leaks = await findLeaksNow(s);
    if (leaks.length === 0 || Date.now() >= end) return leaks;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function findLeaksNow(s: LeakScope): Promise<string[]> {
  const leaks: string[] = [];
  // The idmap probe's user namespace is the daemon's own (one per daemon, unpinned at shutdown).
  for (const m of mountsUnder(s.daemonDir)) if (!m.endsWith('/idmap-probe.userns')) leaks.push(`mount ${m}`);
  for (const p of entries(join(s.stateDir, 'pods'))) {
    const ns = join(s.stateDir, 'pods', p, 'ns');
    for (const f of entries(ns)) leaks.push(`namespace file ${join(ns, f)}`);
    leaks.push(`pod dir ${join(s.stateDir, 'pods', p)}`);
  }
  for (const c of entries(join(s.stateDir, 'containers'))) leaks.push(`bundle ${join(s.stateDir, 'containers', c)}`);
  for (const c of entries(join(s.rootDir, 'containers'))) leaks.push(`container data ${join(s.rootDir, 'containers', c)}`);
  for (const pid of conmonsUnder(s.daemonDir)) leaks.push(`conmon pid ${pid}`);
  const layout = await detectCgroupLayout();
  const base = await detectCgroupBase(layout);
  for (const id of s.podIds) {
    for (const dir of await cgroupExists(layout, `${base}/${id}`)) leaks.push(`cgroup ${dir}`);
  }
  if (s.bridge) for (const port of bridgePorts(s.bridge)) leaks.push(`interface ${port} on ${s.bridge}`);
  if (s.ipamDir && existsSync(s.ipamDir)) {
    for (const net of entries(s.ipamDir)) {
      for (const f of entries(join(s.ipamDir, net))) {
        if (/^\d+\.\d+\.\d+\.\d+$/.test(f) || f.includes(':')) leaks.push(`IP reservation ${join(s.ipamDir, net, f)}`);
      }
    }
  }
  return leaks;
}

/** findLeaks for a whole cri-fixture node: its daemon's dirs, its bridge (ct-<tag>) and its IPAM dir. */
export function nodeLeaks(node: { dir: string; daemon: { dir: string; state: string; root: string } }, tag: string, podIds: string[]): Promise<string[]> {
  return findLeaks({
    daemonDir: node.daemon.dir, stateDir: node.daemon.state, rootDir: node.daemon.root, podIds,
    bridge: `ct-${tag}`, ipamDir: join(node.dir, 'ipam'),
  });
}
