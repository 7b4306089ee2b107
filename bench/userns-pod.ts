// What a user namespace (KEP-127, hostUsers: false) costs at pod start: RunPodSandbox + CreateContainer +
// StartContainer of a pod whose container has two idmapped volumes, against the same pod without a user
// namespace (plain bind volumes), for the busybox image and for an image of ~20,000 small files. The
// cases are interleaved run by run, so host load hits them alike. crius idmaps the image's lower layers
// (no chown copy), so the userns cost should be small and not grow with the image's file count.
// Run as root after `npx tsc` and `make -C native`:
//   node dist/bench/userns-pod.js [--n 15] [--files 20000] [--handler crun] [--json-only] [--log-level debug]
// With --log-level debug, crius's per-step durations are summarised per case (`profile`).
import { CRUN } from '../test/helpers/host-binaries.js';
import { chmodSync, mkdirSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxEntries, makeImage, makeLayer, pushImage, type TarEntry } from '../test/helpers/build-image.js';
import { podUserns } from '../test/helpers/cri-fixture.js';
import { ociFloor } from './oci-floor.js';
import {
  benchContainer, benchPod, benchTarget, flag, msSince, printProfile, printTable, stats, stepProfile, type BenchTarget, type Stat,
} from './cri-bench.js';

/** A second layer of `files` small files (200 per directory, some owned by uid 1000 as real images have). */
function manyFilesEntries(files: number): TarEntry[] {
  const out: TarEntry[] = [{ path: 'usr/', type: 'directory' }, { path: 'usr/share/', type: 'directory' }];
  for (let i = 0; i < files; i++) {
    if (i % 200 === 0) out.push({ path: `usr/share/d${i / 200}/`, type: 'directory' });
    out.push({ path: `usr/share/d${Math.floor(i / 200)}/f${i}`, content: `file ${i}\n`, ...(i % 10 === 0 ? { uid: 1000, gid: 1000 } : {}) });
  }
  return out;
}

interface Case {
  image: 'busybox' | 'many-files';
  userns: boolean;
}

interface Run { start: number; run: number; create: number; startCtr: number; teardown: number; podId: string; containerId: string }

async function startStop(t: BenchTarget, image: string, userns: boolean, hostId: number, vols: string[], handler: string): Promise<Run> {
  const ns = userns ? { userns_options: podUserns(hostId) } : {};
  const pod = benchPod(t, userns ? 'un' : 'pl', ns);
  const maps = userns ? { uidMappings: (ns.userns_options as Record<string, unknown>)['uids'], gidMappings: (ns.userns_options as Record<string, unknown>)['gids'] } : {};
  const mounts = vols.map((v, i) => ({ container_path: `/vol${i}`, host_path: v, ...maps }));
  const t0 = process.hrtime.bigint();
  const { pod_sandbox_id: id } = await t.client.call<{ pod_sandbox_id: string }>('runtime', 'RunPodSandbox', { config: pod, runtime_handler: handler });
  const run = msSince(t0);
  const t1 = process.hrtime.bigint();
  const { container_id: cid } = await t.client.call<{ container_id: string }>('runtime', 'CreateContainer', {
    pod_sandbox_id: id, config: benchContainer(image, 'app', ['sleep', '3600'], ns, { mounts }), sandbox_config: pod,
  });
  const create = msSince(t1);
  const t2 = process.hrtime.bigint();
  await t.client.call('runtime', 'StartContainer', { container_id: cid });
  const startCtr = msSince(t2);
  const start = msSince(t0);
  const t3 = process.hrtime.bigint();
  await t.client.call('runtime', 'StopPodSandbox', { pod_sandbox_id: id });
  await t.client.call('runtime', 'RemovePodSandbox', { pod_sandbox_id: id });
  return { start, run, create, startCtr, teardown: msSince(t3), podId: id, containerId: cid };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const n = Number(flag(argv, '--n') ?? 15);
  const files = Number(flag(argv, '--files') ?? 20_000);
  const handler = flag(argv, '--handler') ?? '';
  if (flag(argv, '--endpoint')) throw new Error('userns-pod pushes its own many-files image: it runs against its own crius only');
  const t = await benchTarget(argv, 'bu', 104);
  const volDir = mkdtempSync('/var/tmp/crius-bench-vol-');
  const rows: Stat[] = [];
  const summary: Record<string, unknown> = {};
  let profile: Record<string, Record<string, number>> | undefined;
  try {
    // The pod's root is an unprivileged host uid: volume parents must be traversable.
    chmodSync(volDir, 0o711);
    const vols = ['a', 'b'].map((v) => join(volDir, v));
    for (const v of vols) {
      mkdirSync(v);
      writeFileSync(join(v, 'data'), 'x');
    }
    const node = t.node!;
    const many = makeImage([await makeLayer(busyboxEntries(), 'gzip'), await makeLayer(manyFilesEntries(files), 'gzip')], { Cmd: ['sh'] });
    await pushImage({ url: node.registry.url }, 'test/many', 'latest', many);
    const images = { 'busybox': t.image, 'many-files': `${node.registry.host}/test/many:latest` };
    for (const ref of Object.values(images)) await t.client.call('image', 'PullImage', { image: { image: ref } }, 600_000);

    const cases: Case[] = [
      { image: 'busybox', userns: false }, { image: 'busybox', userns: true },
      { image: 'many-files', userns: false }, { image: 'many-files', userns: true },
    ];
    const key = (c: Case): string => `${c.image} ${c.userns ? 'userns' : 'no userns'}`;
    const res = new Map<string, { start: number[]; run: number[]; create: number[]; startCtr: number[]; teardown: number[] }>();
    for (const c of cases) res.set(key(c), { start: [], run: [], create: [], startCtr: [], teardown: [] });
    let hostSlot = 0;
    const caseOf = new Map<string, string>();
    for (let i = -1; i < n; i++) {
      // Rotate the order each round so no case always runs right after the same other one.
      const order = cases.map((_, j) => cases[(j + Math.max(i, 0)) % cases.length]!);
      for (const c of order) {
        const r = await startStop(t, images[c.image], c.userns, 10_000_000 + (hostSlot++ % 64) * 65536, vols, handler);
        if (i < 0) continue; // warm-up round
        caseOf.set(r.podId, key(c));
        caseOf.set(r.containerId, key(c));
        const acc = res.get(key(c))!;
        acc.start.push(r.start); acc.run.push(r.run); acc.create.push(r.create); acc.startCtr.push(r.startCtr); acc.teardown.push(r.teardown);
      }
    }
    if (flag(argv, '--log-level') === 'debug') {
      profile = stepProfile(node.daemon.logs(), (rec) => caseOf.get(String(rec['container_id'] ?? rec['pod_id'] ?? '')));
    }
    for (const c of cases) {
      const a = res.get(key(c))!;
      rows.push(stats(`${key(c)}: pod start (run+create+start)`, a.start));
      rows.push(stats(`${key(c)}:   RunPodSandbox`, a.run));
      rows.push(stats(`${key(c)}:   CreateContainer`, a.create));
      rows.push(stats(`${key(c)}:   StartContainer`, a.startCtr));
      rows.push(stats(`${key(c)}: teardown (stop+remove)`, a.teardown));
    }
    const med = (k: string): number => rows.find((r) => r.name === `${k}: pod start (run+create+start)`)!.medianMs;
    const createMed = (k: string): number => rows.find((r) => r.name === `${k}:   CreateContainer`)!.medianMs;
    for (const img of ['busybox', 'many-files'] as const) {
      const plain = med(`${img} no userns`);
      const un = med(`${img} userns`);
      summary[img] = { plainMs: plain, usernsMs: un, usernsOverheadPct: Math.round(((un - plain) / plain) * 1000) / 10 };
    }
    summary['growthWithImage'] = {
      note: 'many-files minus busybox median pod start; CreateContainer is where the rootfs is mounted',
      plainMs: Math.round((med('many-files no userns') - med('busybox no userns')) * 10) / 10,
      usernsMs: Math.round((med('many-files userns') - med('busybox userns')) * 10) / 10,
      createPlainMs: Math.round((createMed('many-files no userns') - createMed('busybox no userns')) * 10) / 10,
      createUsernsMs: Math.round((createMed('many-files userns') - createMed('busybox userns')) * 10) / 10,
    };
  } finally {
    await t.close();
    rmSync(volDir, { recursive: true, force: true });
  }
  rows.unshift(await ociFloor(n, CRUN, true));
  const report = { bench: 'userns-pod', n, files, handler: handler || 'default', volumes: 2, results: rows, summary, ...(profile ? { profile } : {}) };
  console.log(JSON.stringify(report));
  if (!argv.includes('--json-only')) {
    printTable(rows);
    for (const img of ['busybox', 'many-files']) {
      const s = summary[img] as { plainMs: number; usernsMs: number; usernsOverheadPct: number };
      console.log(`${img}: pod start ${s.plainMs} ms without a user namespace, ${s.usernsMs} ms with one (${s.usernsOverheadPct >= 0 ? '+' : ''}${s.usernsOverheadPct}%)`);
    }
    const g = summary['growthWithImage'] as { plainMs: number; usernsMs: number };
    console.log(`20k-file image vs busybox: +${g.plainMs} ms without a user namespace, +${g.usernsMs} ms with one`);
    if (profile) printProfile(profile);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
