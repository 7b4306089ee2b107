#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=100
// (The flags on the line above are bin/criusd.node-flags, for running this file directly; a unit test keeps them equal.)
// The daemon's entry. `npm run build` bundles it into dist/criusd/ (scripts/bundle.mjs: one file to load
// instead of hundreds of modules); a bundle older than the tsc output (a build by `npx tsc` alone) would
// run stale code, so then the unbundled dist/src is run, with a note.
import { statSync } from 'node:fs';

const mtime = (rel) => { try { return statSync(new URL(rel, import.meta.url)).mtimeMs; } catch { return -1; } };
const bundle = mtime('../dist/criusd/main.js');
let entry = '../dist/criusd/main.js';
if (bundle < mtime('../dist/src/daemon/main.js')) {
  if (bundle >= 0) process.stderr.write('criusd: dist/criusd/ is older than dist/src/ (built by tsc alone?): running the unbundled daemon; `npm run build` bundles it\n');
  entry = '../dist/src/daemon/main.js';
}
const { main } = await import(entry);
process.exit(await main(process.argv.slice(2)));
