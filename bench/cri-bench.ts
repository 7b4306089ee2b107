// What the CRI benches (pod-start, userns-pod) share: a CRI endpoint (any runtime's socket, or a crius
// of their own with a local registry and busybox image, like the cri-fixture), kubelet-shaped pod and
// container configs, statistics, and the RSS of the per-container supervisors (conmon for crius and
// CRI-O, containerd-shim-* for containerd).
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connectCri, type CriClient } from '../src/cli/client.js';
import { startCriNode, type CriNode } from '../test/helpers/cri-fixture.js';

export { stats, type Stat } from './stats.js';
import { stats, type Stat } from './stats.js';

export function printTable(rows: Stat[]): void {
  console.log(`\n${'measurement'.padEnd(62)} ${'n'.padStart(4)} ${'median ms'.padStart(10)} ${'p95 ms'.padStart(10)} ${'min ms'.padStart(10)}`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(62)} ${String(r.n).padStart(4)} ${String(r.medianMs).padStart(10)} ${String(r.p95Ms).padStart(10)} ${String(r.minMs).padStart(10)}`);
  }
}

export const msSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

export function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

export interface BenchTarget {
  client: CriClient;
  /** The image the pods run (pulled before timing). */
  image: string;
  /** 'crius (own)' or the endpoint given. */
  label: string;
  /** Pod log directory base. */
  logDir: string;
  /** Our own daemon's dir: only its conmons count (own target only). */
  scope?: string;
  /** crius's own daemon pid (own target only), for its RSS. */
  daemonPid?: number;
  /** The own node (registry to push more images to); undefined for an external endpoint. */
  node?: CriNode;
  close(): Promise<void>;
}

/**
 * `--endpoint unix:///PATH` (with `--image REF`) measures any CRI runtime; otherwise a crius of our own
 * with its own registry, busybox image and CNI network (bridge ct-<tag>, 10.<subnet>.0.0/16) is started.
 */
export async function benchTarget(argv: string[], tag: string, subnet: number): Promise<BenchTarget> {
  const endpoint = flag(argv, '--endpoint');
  if (endpoint) {
    const image = flag(argv, '--image');
    if (!image) throw new Error('--endpoint needs --image REF (an image that has sh and sleep, e.g. busybox)');
    const client = connectCri(endpoint);
    const logDir = `/tmp/crius-bench-logs-${process.pid}`;
    // The pods' log directories are the client's (the kubelet's) to remove, as the pods are gone by then.
    return { client, image, label: endpoint, logDir, close: async () => { client.close(); rmSync(logDir, { recursive: true, force: true }); } };
  }
  const prof = flag(argv, '--cpu-prof');
  const node = await startCriNode({
    tag, subnet, daemonArgs: ['--log-level', flag(argv, '--log-level') ?? 'info'],
    // --network shipped (or ptp): crius's default network (contrib/cni/10-crius.conflist, ptp) instead of a bridge.
    ...(['shipped', 'ptp'].includes(flag(argv, '--network') ?? '') ? { network: 'shipped' as const } : {}),
    // --node-flags: more Node/V8 flags after the daemon's own (bin/criusd.node-flags); a later one wins.
    nodeArgs: [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), ...(flag(argv, '--node-flags')?.split(' ').filter(Boolean) ?? [])],
  });
  return {
    get client() { return node.daemon.client; },
    image: node.image, label: 'crius (own daemon)', logDir: node.logDir, daemonPid: node.daemon.proc.pid, scope: node.daemon.dir, node,
    close: () => node.cleanup(),
  };
}

let seq = 0;

/** A pod config as the kubelet sends it (PID mode CONTAINER, pod network, a log directory). */
export function benchPod(t: BenchTarget, prefix: string, ns: Record<string, unknown> = {}): Record<string, any> {
  seq++;
  const name = `${prefix}-${process.pid}-${seq}`;
  return {
    metadata: { name, namespace: 'bench', uid: `uid-${name}-${Date.now()}`, attempt: 0 },
    hostname: name,
    log_directory: join(t.logDir, name),
    linux: { security_context: { namespace_options: { pid: 'CONTAINER', ...ns } } },
  };
}

export function benchContainer(image: string, name: string, command: string[], ns: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, any> {
  return {
    metadata: { name, attempt: 0 }, image: { image }, command, log_path: `${name}.log`,
    linux: { security_context: { namespace_options: { pid: 'CONTAINER', ...ns } } },
    ...extra,
  };
}

/** VmRSS of a process in KiB (0 when it is gone). */
export function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s*(\d+)\s*kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * PIDs of per-container supervisors on the host: conmon (crius, CRI-O) and containerd-shim-*; with
 * `scope`, only those whose command line names it (our own daemon's dir: other daemons share the host).
 */
export function supervisorPids(scope?: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${name}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm !== 'conmon' && !comm.startsWith('containerd-shim')) continue;
    if (scope !== undefined) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      } catch { /* gone */ }
      if (!cmdline.includes(scope)) continue;
    }
    out.push(Number(name));
  }
  return out;
}

/** Runs `items` through `fn` with at most `parallel` in flight; returns each item's duration in ms. */
export async function pool<T>(items: T[], parallel: number, fn: (item: T) => Promise<void>): Promise<number[]> {
  const out: number[] = new Array<number>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      const t0 = process.hrtime.bigint();
      await fn(items[i]!);
      out[i] = msSince(t0);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
  return out;
}

/**
 * Medians of the per-step durations crius logs at debug level (`pod start steps`, `container create
 * steps`, `pod stop steps`, `pod remove steps`, `container remove steps`): where a pod start's time goes.
 * Needs `--log-level debug` (own daemon only). `group` names the case a record belongs to (from its pod_id
 * or container_id), giving one profile per case; records it returns undefined for are left out.
 */
export function stepProfile(logs: string, group?: (rec: Record<string, unknown>) => string | undefined): Record<string, Record<string, number>> {
  const byMsg = new Map<string, Map<string, number[]>>();
  for (const line of logs.split('\n')) {
    if (!line.includes(' steps"')) continue;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    let msg = String(rec['msg'] ?? '');
    if (!msg.endsWith(' steps')) continue;
    if (group) {
      const g = group(rec);
      if (g === undefined) continue;
      msg = `${g}: ${msg}`;
    }
    const fields = byMsg.get(msg) ?? new Map<string, number[]>();
    byMsg.set(msg, fields);
    for (const [k, v] of Object.entries(rec)) {
      if (!k.endsWith('_ms') || typeof v !== 'number') continue;
      fields.set(k, [...(fields.get(k) ?? []), v]);
    }
  }
  const out: Record<string, Record<string, number>> = {};
  for (const [msg, fields] of byMsg) {
    out[msg] = {};
    for (const [k, xs] of fields) out[msg]![k] = stats(k, xs).medianMs;
    out[msg]!['n'] = Math.max(...[...fields.values()].map((xs) => xs.length));
  }
  return out;
}

export function printProfile(p: Record<string, Record<string, number>>): void {
  for (const [msg, fields] of Object.entries(p)) {
    console.log(`${msg} (medians over ${fields['n']}): ${Object.entries(fields).filter(([k]) => k !== 'n').map(([k, v]) => `${k.replace(/_ms$/, '')} ${v}`).join(', ')} ms`);
  }
}
