// A pod's interface counters from inside its network namespace. Cheapest first: /proc/<pid>/net/dev of a
// process already in the netns (a file read, ~0.05 ms) — any running container of the pod, or its infra
// process; else `nsenter --net=<pinned netns> cat /proc/net/dev` (a fork+exec, a few ms), for pods with
// no running process. The pid is trusted only when its /proc/<pid>/ns/net is the pinned netns.
import { readFile, stat } from 'node:fs/promises';
import { run, type Runner } from '../common/exec.js';

export interface InterfaceSample {
  name: string;
  rxBytes: bigint;
  rxErrors: bigint;
  txBytes: bigint;
  txErrors: bigint;
  rxPackets?: bigint;
  rxDropped?: bigint;
  txPackets?: bigint;
  txDropped?: bigint;
}

/**
 * /proc/net/dev: two header lines, then "iface: rx_bytes rx_packets rx_errs rx_drop rx_fifo rx_frame
 * rx_compressed rx_multicast tx_bytes tx_packets tx_errs ...".
 */
export function parseNetDev(text: string): InterfaceSample[] {
  const out: InterfaceSample[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/);
    if (name === '' || f.length < 16 || !f.every((x) => /^\d+$/.test(x))) continue;
    out.push({
      name, rxBytes: BigInt(f[0]!), rxPackets: BigInt(f[1]!), rxErrors: BigInt(f[2]!), rxDropped: BigInt(f[3]!),
      txBytes: BigInt(f[8]!), txPackets: BigInt(f[9]!), txErrors: BigInt(f[10]!), txDropped: BigInt(f[11]!),
    });
  }
  return out;
}

/**
 * The pod's default interface: eth0 as CNI names it (CNI_IFNAME the kubelet and crius pass), else the
 * first non-loopback one. Loopback never counts: the kubelet's network stats are pod traffic.
 */
export function defaultInterface(ifaces: InterfaceSample[]): InterfaceSample | undefined {
  return ifaces.find((i) => i.name === 'eth0') ?? ifaces.find((i) => i.name !== 'lo');
}

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
