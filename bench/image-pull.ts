// Pull + unpack of an image of ~20,000 small files from a local docker-registry, against a floor
// measured in the same run: the same blobs fetched with curl plus GNU `tar -x` of the layer (no digest
// verification, no metadata store: the least work any runtime must do). Prints JSON and a table.
// Usage: node dist/bench/image-pull.js [--runs N] [--files N]   (as root; needs docker-registry, curl, tar)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/common/exec.js';
import { ImageStore } from '../src/image/image-store.js';
import { openDb } from '../src/store/db.js';
import { makeImage, makeLayer, pushImage, type TarEntry } from '../test/helpers/build-image.js';
import { registryUnavailable, startRegistry } from '../test/helpers/registry.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const runs = arg('runs', 5);
  const files = arg('files', 20_000);
  const why = registryUnavailable();
  if (why) { console.error(`skip: ${why}`); process.exit(0); }
  if (process.getuid?.() !== 0) { console.error('skip: needs root (ownership, device nodes)'); process.exit(0); }

  // ~20k files of 64..2048 bytes in 200 dirs, some symlinks: a typical "many small files" layer.
  const entries: TarEntry[] = [];
  const perDir = 100;
  for (let d = 0; d < Math.ceil(files / perDir); d++) {
    entries.push({ path: `usr/share/d${d}/`, type: 'directory' });
    for (let f = 0; f < perDir && d * perDir + f < files; f++) {
      const size = 64 + ((d * 7919 + f * 104729) % 1985);
      if (f % 25 === 24) entries.push({ path: `usr/share/d${d}/l${f}`, type: 'symlink', linkname: `f${f - 1}` });
      else entries.push({ path: `usr/share/d${d}/f${f}`, content: randomBytes(size).toString('base64').slice(0, size), mode: 0o644, uid: 0, gid: 0 });
    }
  }
  const layer = await makeLayer(entries, 'gzip');
  const image = makeImage([layer]);
  const reg = await startRegistry();
  const work = mkdtempSync(join(tmpdir(), 'crius-bench-'));
  try {
    await pushImage(reg, 'bench/many', 'latest', image);
    const ref = `${reg.host}/bench/many:latest`;
    const crius: number[] = [];
    const floor: number[] = [];
    const runFloor = async (i: number): Promise<void> => {
      // Floor: curl the manifest, config and layer, then GNU tar -x the layer.
      const fdir = join(work, `floor-${i}`);
      mkdirSync(join(fdir, 'fs'), { recursive: true });
      const t0 = performance.now();
      await run('curl', ['-sf', '-H', 'Accept: application/vnd.oci.image.manifest.v1+json', '-o', join(fdir, 'manifest'), `${reg.url}/v2/bench/many/manifests/latest`]);
      await run('curl', ['-sf', '-o', join(fdir, 'config'), `${reg.url}/v2/bench/many/blobs/${image.configDigest}`]);
      await run('curl', ['-sf', '-o', join(fdir, 'layer'), `${reg.url}/v2/bench/many/blobs/${layer.digest}`]);
      await run('tar', ['-xzf', join(fdir, 'layer'), '-C', join(fdir, 'fs')], { timeoutMs: 300_000 });
      floor.push((performance.now() - t0) / 1000);
      await run('rm', ['-rf', fdir], { timeoutMs: 300_000 });
    };
    const runCrius = async (i: number): Promise<void> => {
      const cdir = join(work, `crius-${i}`);
      const db = openDb(join(cdir, 'crius.db'));
      const store = new ImageStore({ root: join(cdir, 'images'), db });
      const t1 = performance.now();
      await store.pull(ref);
      crius.push((performance.now() - t1) / 1000);
      db.close();
      await run('rm', ['-rf', cdir], { timeoutMs: 300_000 });
    };
    for (let i = 0; i < runs; i++) {
      // Alternate which goes first, so a warm or cold disk favours neither.
      if (i % 2 === 0) { await runFloor(i); await runCrius(i); } else { await runCrius(i); await runFloor(i); }
    }
    const c = median(crius);
    const f = median(floor);
    const result = {
      bench: 'image-pull', files: entries.length, layerBytes: layer.size, uncompressedBytes: layer.tar.length, runs,
      crius: { medianSeconds: c, minSeconds: Math.min(...crius), filesPerSecond: entries.length / c, samples: crius },
      floor: { what: 'curl manifest+config+layer, GNU tar -xzf', medianSeconds: f, minSeconds: Math.min(...floor), filesPerSecond: entries.length / f, samples: floor },
      ratio: c / f,
      ratioOfMins: Math.min(...crius) / Math.min(...floor),
      loadAverage: loadavg(),
    };
    console.log(JSON.stringify(result));
    console.log('');
    console.log('what                         median s   files/s');
    console.log(`crius pull+unpack            ${c.toFixed(3).padStart(8)}   ${Math.round(entries.length / c).toString().padStart(7)}`);
    console.log(`floor curl + GNU tar -x      ${f.toFixed(3).padStart(8)}   ${Math.round(entries.length / f).toString().padStart(7)}`);
    console.log(`ratio crius/floor            ${(c / f).toFixed(2).padStart(8)}   (of minimums ${(Math.min(...crius) / Math.min(...floor)).toFixed(2)}; load ${loadavg().map((x) => x.toFixed(1)).join(' ')})`);
  } finally {
    rmSync(work, { recursive: true, force: true });
    await reg.stop();
  }
}

await main();
