// How much does an idmapped-lower rootfs cost compared with a plain overlay, and does it grow with the
// image? Mounts (and unmounts) a container rootfs over a small layer set and over a ~20,000-file layer,
// plain and idmapped (fd and tmpdir methods), plus the opt-in chown copy for contrast. The floor is the
// cost of spawning the native helper that does the mounting, measured in the same run.
// Run as root after `make -C native` and `npx tsc`: node dist/bench/userns-rootfs.js [runs]
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { run } from '../src/common/exec.js';
import { mountContainerRootfs, unmountContainerRootfs, type ContainerRootfsOptions } from '../src/rootfs/overlay-rootfs.js';
import { defaultIdmapHelperPath } from '../src/userns/idmap-helper.js';
import { createUsernsFile, removeUsernsFile } from '../src/userns/userns-file.js';

const RUNS = Number(process.argv[2] ?? 15);
const COPY_RUNS = 3;

function makeLayer(dir: string, files: number): void {
  mkdirSync(dir, { recursive: true });
  const perDir = 200;
  for (let i = 0; i < files; i++) {
    const d = join(dir, 'usr', `d${Math.floor(i / perDir)}`);
    if (i % perDir === 0) mkdirSync(d, { recursive: true });
    const f = join(d, `f${i}`);
    writeFileSync(f, `file ${i}\n`);
    if (i % 10 === 0) chownSync(f, 1000, 1000);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Row { case: string; image: string; runs: number; mount_ms: number; unmount_ms: number }

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'crius-bench-rootfs-'));
  const usernsFiles: string[] = [];
  try {
    const images: Record<string, string[]> = {
      small: [join(dir, 'small', 'base'), join(dir, 'small', 'app')],
      '20k-files': [join(dir, 'large', 'base'), join(dir, 'large', 'app')],
    };
    makeLayer(images.small![0]!, 20);
    makeLayer(images.small![1]!, 5);
    makeLayer(images['20k-files']![0]!, 20_000);
    makeLayer(images['20k-files']![1]!, 5);
    const range = (n: number) => ({ containerId: 0, hostId: 100000 + n * 65536, length: 65536 });
    const nsFor = async (n: number): Promise<ContainerRootfsOptions['userns']> => {
      const file = join(dir, `userns-${n}`);
      await createUsernsFile(file, { uid: range(n), gid: range(n) });
      usernsFiles.push(file);
      return { file, uidMap: range(n), gidMap: range(n) };
    };
    const userns = await nsFor(0);

    // Floor: spawning the helper (it prints a usage line and exits 2) — every mount pays this once.
    const floor: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      await run(defaultIdmapHelperPath(), [], { okCodes: [2] });
      floor.push(performance.now() - t);
    }

    const rows: Row[] = [];
    let seq = 0;
    const measure = async (name: string, image: string, runs: number, opts: (i: number) => Promise<Partial<ContainerRootfsOptions>>): Promise<void> => {
      const mountMs: number[] = [];
      const unmountMs: number[] = [];
      for (let i = 0; i < runs; i++) {
        const base = join(dir, 'c', String(seq++));
        const extra = await opts(i);
        const o: ContainerRootfsOptions = {
          layers: images[image]!, upperDir: join(base, 'upper'), workDir: join(base, 'work'), target: join(base, 'rootfs'), ...extra,
        };
        const t0 = performance.now();
        await mountContainerRootfs(o);
        const t1 = performance.now();
        await unmountContainerRootfs(o.target);
        const t2 = performance.now();
        mountMs.push(t1 - t0);
        unmountMs.push(t2 - t1);
        await rm(base, { recursive: true, force: true });
      }
      rows.push({ case: name, image, runs, mount_ms: +median(mountMs).toFixed(2), unmount_ms: +median(unmountMs).toFixed(2) });
    };

    for (const image of Object.keys(images)) {
      // Interleave nothing fancy: each case runs RUNS times back to back, after one warm-up.
      await measure('warm-up', image, 2, async () => ({}));
      rows.pop();
      await measure('plain overlay', image, RUNS, async () => ({}));
      await measure('idmapped lowers (fd)', image, RUNS, async () => ({ userns, method: 'fd' }));
      await measure('idmapped lowers (tmpdir)', image, RUNS, async () => ({ userns, method: 'tmpdir', tmpDir: dir }));
      // The opt-in copy, uncached: a fresh mapping per run (one image copy per pod, like containerd 1.7).
      let n = 1 + (image === 'small' ? 0 : COPY_RUNS);
      await measure('chown copy (uncached)', image, COPY_RUNS, async () => ({
        userns: await nsFor(n++), mode: 'copy', copyCacheDir: join(dir, 'copies'),
      }));
    }

    const out = { kernel: (await run('uname', ['-r'])).stdout.trim(), runs: RUNS, floor_helper_spawn_ms: +median(floor).toFixed(2), rows };
    console.log(JSON.stringify(out));
    console.log('');
    console.log(`floor (spawn native helper): ${out.floor_helper_spawn_ms} ms, median of ${RUNS}`);
    console.log('case                         image       runs  mount ms  unmount ms');
    for (const r of rows) {
      console.log(`${r.case.padEnd(28)} ${r.image.padEnd(11)} ${String(r.runs).padStart(4)} ${r.mount_ms.toFixed(2).padStart(9)} ${r.unmount_ms.toFixed(2).padStart(11)}`);
    }
  } finally {
    for (const f of usernsFiles) await removeUsernsFile(f).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
