// A whiteout storm through the real daemon: PullImage of a layer holding N directories and then N
// whiteouts of them, served by a registry in this process (test/helpers/hostile-registry.ts). Measures
// the pull's wall time, the daemon's CPU time (user + system, from /proc/<pid>/stat: unlike wall time not
// inflated by other work on the machine) and the slowest Version answer while the layer unpacks (the event
// loop's responsiveness). Linear unpacking doubles the cost from 20k to 40k; quadratic quadruples it.
// Usage: node dist/bench/whiteout-storm.js [--sizes 20000,40000]   (as root)
import { loadavg } from 'node:os';
import { makeImage, makeLayer } from '../test/helpers/build-image.js';
import { cpuMs, whileProbingVersion, whiteoutStorm } from '../test/helpers/whiteout-storm.js';
import { startTestDaemon } from '../test/helpers/daemon.js';
import { startHostileRegistry } from '../test/helpers/hostile-registry.js';
import { flag } from './cri-bench.js';

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) { console.error('skip: needs root (the daemon unpacks layers)'); process.exit(0); }
  const sizes = (flag(process.argv, '--sizes') ?? '20000,40000').split(',').map(Number);
  const reg = await startHostileRegistry();
  const d = await startTestDaemon({ extraArgs: ['--log-level', 'info'] });
  const rows: Array<{ n: number; pullMs: number; daemonCpuMs: number; slowestVersionMs: number }> = [];
  try {
    for (const n of sizes) {
      const img = makeImage([await makeLayer(whiteoutStorm(n, 'd'))]);
      reg.serveImage(`storm/n${n}`, 'latest', img);
      const c0 = cpuMs(d.proc.pid!);
      const t0 = Date.now();
      const { slowestVersionMs: slowest } = await whileProbingVersion(d, () =>
        d.client.call('image', 'PullImage', { image: { image: `${reg.host}/storm/n${n}:latest` } }, 600_000));
      rows.push({ n, pullMs: Date.now() - t0, daemonCpuMs: cpuMs(d.proc.pid!) - c0, slowestVersionMs: slowest });
      await d.client.call('image', 'RemoveImage', { image: { image: img.configDigest } });
    }
  } finally {
    await d.cleanup();
    await reg.stop();
  }
  console.log(JSON.stringify({ bench: 'whiteout-storm', loadavg: loadavg(), rows }));
  console.log(`\n${'dirs + whiteouts'.padEnd(20)} ${'pull ms'.padStart(10)} ${'daemon CPU ms'.padStart(14)} ${'slowest Version ms'.padStart(19)}`);
  for (const r of rows) console.log(`${String(r.n).padEnd(20)} ${String(r.pullMs).padStart(10)} ${String(r.daemonCpuMs).padStart(14)} ${String(r.slowestVersionMs).padStart(19)}`);
}

main().catch((err: unknown) => { console.error(err); process.exit(1); });
