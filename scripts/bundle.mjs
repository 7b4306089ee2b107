// Bundles the daemon (src/daemon/main.ts and everything it imports, protobuf.js included)
// into dist/criusd/, which bin/criusd.js runs: one file to resolve, read and compile at start instead of
// several hundred modules. What a given config may never use (prom-client, ws, image unpacking) stays
// behind dynamic import() in chunks of its own, loaded on first use. Run by `npm run build`, after tsc.
// better-sqlite3's JavaScript is bundled; its addon is loaded from node_modules (src/store/db.ts finds it).
// Left external (loaded from node_modules):
//   bindings: better-sqlite3's fallback search for its addon, which must run from its own package;
//   tar-stream: src/image/tar-pax.ts patches its headers module through require, which must be the copy
//     the unpacker uses;
//   @grpc/proto-loader: kept out in case grpc-js (the CLI's client, which the daemon does not load) is
//     ever pulled in: it requires proto-loader only for channelz/ORCA.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(`../${p}`, import.meta.url));
const outdir = here('dist/criusd');
rmSync(outdir, { recursive: true, force: true });
// Without esbuild (a node_modules installed before it became a devDependency) the build still succeeds:
// bin/criusd.js then runs the unbundled dist/src, only slower to start.
const esbuild = await import('esbuild').catch(() => undefined);
if (!esbuild) {
  process.stderr.write('scripts/bundle.mjs: esbuild is not installed (run npm install): the daemon is not bundled and runs from dist/src, slower to start\n');
  process.exit(0);
}
await esbuild.build({
  entryPoints: { main: here('src/daemon/main.ts') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['tar-stream', '@grpc/proto-loader', 'bindings'],
  // CommonJS dependencies call require() for Node's built-ins; an ES module has no require of its own.
  banner: { js: "import { createRequire as __criusCreateRequire } from 'node:module'; const require = __criusCreateRequire(import.meta.url);" },
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
});
