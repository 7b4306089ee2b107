// Is the daemon still responsive while it handles a big image? (issue 14, "under load the event loop
// must stay responsive"). With P pods running, an image whose layer holds F small files (default 20,000,
// 200 per directory) is pulled (download, unpack) and then removed (garbage collection of its layer),
// R rounds; meanwhile two clients call Status and ListContainers back to back (10 ms apart) and their
// latencies are recorded per phase. The floor is the same calls on the same daemon with nothing else going
// on, in the same run.
// Own crius node (own dirs, socket, registry, bridge ct-pr); hold the integration lock:
//   flock /tmp/crius-integration.lock node dist/bench/pull-responsiveness.js [--files 20000] [--rounds 3] [--pods 20] [--json-only]
import { loadavg } from 'node:os';
import { makeImage, makeLayer, pushImage, type TarEntry } from '../test/helpers/build-image.js';
import { cpuMs } from '../test/helpers/whiteout-storm.js';
import { benchContainer, benchPod, benchTarget, flag, msSince, type BenchTarget } from './cri-bench.js';

function manyFiles(files: number, tag: string): TarEntry[] {
  const out: TarEntry[] = [{ path: `${tag}/`, type: 'directory' }];
  for (let i = 0; i < files; i++) {
    if (i % 200 === 0) out.push({ path: `${tag}/d${i / 200}/`, type: 'directory' });
    out.push({ path: `${tag}/d${Math.floor(i / 200)}/f${i}`, content: `file ${i}\n` });
  }
  return out;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN) * 100) / 100;
};

interface Probe { status: number[]; list: number[] }

/** Calls Status and ListContainers in two loops until `work` settles; returns their latencies. */
async function probing<T>(t: BenchTarget, work: () => Promise<T>): Promise<{ result: T; probe: Probe; ms: number }> {
  const probe: Probe = { status: [], list: [] };
  let running = true;
  const loop = async (method: string, into: number[]): Promise<void> => {
    while (running) {
      const t0 = process.hrtime.bigint();
      await t.client.call('runtime', method, {}, 120_000);
      into.push(msSince(t0));
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const loops = [loop('Status', probe.status), loop('ListContainers', probe.list)];
  const t0 = process.hrtime.bigint();
  try {
    const result = await work();
    return { result, probe, ms: msSince(t0) };
  } finally {
    running = false;
    await Promise.all(loops);
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const files = Number(flag(argv, '--files') ?? 20_000);
  const rounds = Number(flag(argv, '--rounds') ?? 3);
  const pods = Number(flag(argv, '--pods') ?? 20);
  if (flag(argv, '--endpoint')) throw new Error('pull-responsiveness pushes its own image: it runs against its own crius only');
  const t = await benchTarget(argv, 'pr', 107);
  const node = t.node!;
  const phases: Record<string, Probe & { ms: number[]; daemonCpuMs: number[] }> = {};
  const add = (name: string, p: Probe, ms: number, cpu: number): void => {
    const ph = phases[name] ??= { status: [], list: [], ms: [], daemonCpuMs: [] };
    ph.status.push(...p.status);
    ph.list.push(...p.list);
    ph.ms.push(ms);
    ph.daemonCpuMs.push(cpu);
  };
  const loads: string[] = [loadavg().map((x) => x.toFixed(2)).join(' ')];
  try {
    await t.client.call('image', 'PullImage', { image: { image: t.image } });
    for (let i = 0; i < pods; i++) {
      const pod = benchPod(t, 'pr');
      const { pod_sandbox_id: id } = await t.client.call<{ pod_sandbox_id: string }>('runtime', 'RunPodSandbox', { config: pod });
      const { container_id: cid } = await t.client.call<{ container_id: string }>('runtime', 'CreateContainer', {
        pod_sandbox_id: id, config: benchContainer(t.image, 'sleeper', ['sleep', '3600']), sandbox_config: pod,
      });
      await t.client.call('runtime', 'StartContainer', { container_id: cid });
    }
    for (let r = 0; r < rounds; r++) {
      // A new image each round (different content, so nothing is reused from the last round).
      const img = makeImage([await makeLayer(manyFiles(files, `r${r}-${process.pid}`), 'gzip')], { Cmd: ['sh'] });
      await pushImage({ url: node.registry.url }, `bench/files${r}`, 'latest', img);
      const ref = `${node.registry.host}/bench/files${r}:latest`;
      const pid = t.daemonPid!;
      let c0 = cpuMs(pid);
      const idle = await probing(t, () => new Promise((res) => setTimeout(res, 2000)));
      add('idle (floor)', idle.probe, idle.ms, cpuMs(pid) - c0);
      c0 = cpuMs(pid);
      const pull = await probing(t, () => t.client.call('image', 'PullImage', { image: { image: ref } }, 600_000));
      add(`PullImage (${files} files)`, pull.probe, pull.ms, cpuMs(pid) - c0);
      c0 = cpuMs(pid);
      const rm = await probing(t, () => t.client.call('image', 'RemoveImage', { image: { image: ref } }, 600_000));
      add(`RemoveImage (${files} files)`, rm.probe, rm.ms, cpuMs(pid) - c0);
      loads.push(loadavg().map((x) => x.toFixed(2)).join(' '));
    }
  } finally {
    await t.close();
  }
  const rows = Object.entries(phases).map(([name, p]) => ({
    phase: name, n: p.status.length, wallMs: Math.round(p.ms.reduce((a, b) => a + b, 0) / p.ms.length),
    daemonCpuMs: Math.round(p.daemonCpuMs.reduce((a, b) => a + b, 0) / p.daemonCpuMs.length),
    statusP99Ms: pct(p.status, 0.99), statusMaxMs: pct(p.status, 1), listContainersP99Ms: pct(p.list, 0.99), listContainersMaxMs: pct(p.list, 1),
  }));
  console.log(JSON.stringify({ bench: 'pull-responsiveness', files, rounds, pods, loadavg: loads, rows }));
  if (argv.includes('--json-only')) return;
  console.log(`\n${'phase'.padEnd(28)} ${'calls'.padStart(6)} ${'wall ms'.padStart(8)} ${'CPU ms'.padStart(7)} ${'Status p99'.padStart(11)} ${'max'.padStart(7)} ${'ListCtrs p99'.padStart(13)} ${'max'.padStart(7)}`);
  for (const r of rows) {
    console.log(`${r.phase.padEnd(28)} ${String(r.n).padStart(6)} ${String(r.wallMs).padStart(8)} ${String(r.daemonCpuMs).padStart(7)} ${String(r.statusP99Ms).padStart(11)} ${String(r.statusMaxMs).padStart(7)} ${String(r.listContainersP99Ms).padStart(13)} ${String(r.listContainersMaxMs).padStart(7)}`);
  }
  console.log(`load average per round: ${loads.join('; ')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
