// What a pod's network costs at start and stop: pinning net/ipc/uts, CNI ADD (bridge + host-local +
// portmap, with and without a hostPort) and DEL, on a private test network (bridge criusb0,
// 10.124.0.0/24) so the machine's default network is untouched; once with the bridge's ipMasq (as the
// default conflist) and once without, because every iptables call is a process start plus the xtables
// lock. Medians over N runs, with the process spawn floor measured in the same run.
// Run as root after `npm run build`:  node dist/bench/pod-network.js [--n 20] [--json-only]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../src/common/exec.js';
import { createCni } from '../src/network/cni.js';
import { pinPodNamespaces, removePinnedNamespaces } from '../src/pod/namespaces.js';
import { stats, type Stat } from './stats.js';

const ms = (a: bigint, b: bigint): number => Number(b - a) / 1e6;

async function measure(n: number, ipMasq: boolean): Promise<Stat[]> {
  const dir = await mkdtemp('/tmp/crius-netbench-');
  const series: Record<string, number[]> = { pin: [], addNoPorts: [], addHostPort: [], del: [], unpin: [], floor: [] };
  try {
    await mkdir(path.join(dir, 'net.d'));
    await writeFile(path.join(dir, 'net.d', '10-bench.conflist'), JSON.stringify({
      cniVersion: '1.0.0', name: 'crius-bench', disableCheck: true,
      plugins: [
        { type: 'bridge', bridge: 'criusb0', isGateway: true, ipMasq, hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: '10.124.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: path.join(dir, 'ipam') } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }));
    const cni = createCni({ confDir: path.join(dir, 'net.d'), pluginDirs: ['/usr/lib/cni'], resultsDir: path.join(dir, 'results') });
    for (let i = -1; i < 2 * n; i++) {
      const pod = { id: `netbench${process.pid}x${i + 1}`, name: 'b', namespace: 'default', uid: 'u' };
      const withPort = i % 2 === 0;
      const t0 = process.hrtime.bigint();
      const ns = await pinPodNamespaces({ dir: path.join(dir, 'ns', String(i + 1)), net: true, ipc: true, uts: true, hostname: 'b' });
      const t1 = process.hrtime.bigint();
      await cni.add(pod, ns.net ?? '', withPort ? [{ hostPort: 13000 + i + 1, containerPort: 80, protocol: 'tcp' }] : []);
      const t2 = process.hrtime.bigint();
      await cni.del(pod, ns.net);
      const t3 = process.hrtime.bigint();
      await removePinnedNamespaces(ns);
      const t4 = process.hrtime.bigint();
      await run('/bin/true', []);
      const t5 = process.hrtime.bigint();
      if (i < 0) continue;
      series['pin']!.push(ms(t0, t1));
      (withPort ? series['addHostPort']! : series['addNoPorts']!).push(ms(t1, t2));
      series['del']!.push(ms(t2, t3));
      series['unpin']!.push(ms(t3, t4));
      series['floor']!.push(ms(t4, t5));
    }
  } finally {
    await run('/usr/sbin/ip', ['link', 'del', 'criusb0'], { okCodes: [0, 1] }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  const m = ipMasq ? 'ipMasq' : 'no ipMasq';
  return [
    stats(`[${m}] pin net/ipc/uts + hostname`, series['pin']!),
    stats(`[${m}] CNI ADD, no ports`, series['addNoPorts']!),
    stats(`[${m}] CNI ADD, one hostPort`, series['addHostPort']!),
    stats(`[${m}] CNI DEL`, series['del']!),
    stats(`[${m}] unpin`, series['unpin']!),
    stats(`[${m}] spawn /bin/true (floor)`, series['floor']!),
  ];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const nIdx = argv.indexOf('--n');
  const n = nIdx >= 0 ? Number(argv[nIdx + 1]) : 20;
  const results: Stat[] = [];
  for (const ipMasq of [true, false]) results.push(...await measure(n, ipMasq));
  console.log(JSON.stringify({ bench: 'pod-network', n, results }));
  if (!argv.includes('--json-only')) {
    console.log(`\n${'measurement'.padEnd(44)} ${'median ms'.padStart(10)} ${'p95 ms'.padStart(10)} ${'min ms'.padStart(10)}`);
    for (const r of results) console.log(`${r.name.padEnd(44)} ${String(r.medianMs).padStart(10)} ${String(r.p95Ms).padStart(10)} ${String(r.minMs).padStart(10)}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
