// Where crius is installed (the directory holding its package.json), for the native helpers under
// native/build/ and the daemon's entry and Node flags under bin/. Found by walking up from this module, because the module sits at different depths:
// dist/src/common/ (tsc), dist/criusd/ (the bundled daemon, scripts/bundle.mjs) or src/common/ (a TS loader).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

function installRoot(): string {
  if (root === undefined) {
    const start = dirname(fileURLToPath(import.meta.url));
    let dir = start;
    while (!existsSync(join(dir, 'package.json'))) {
      const up = dirname(dir);
      if (up === dir) throw new Error(`cannot find the crius installation (package.json) above ${start}`);
      dir = up;
    }
    root = dir;
  }
  return root;
}

/**
 * native/build: where `make -C native` (npm run build:native) puts the helpers. The one lookup of them,
 * for the daemon (tsc output or bundle), the doctor, tests and benches alike.
 */
export function nativeBuildDir(): string {
  return join(installRoot(), 'native', 'build');
}

/** native/build/<name>: one helper. */
export function nativeBuildPath(name: string): string {
  return join(nativeBuildDir(), name);
}

/** bin/criusd.js: the daemon's entry, for whoever starts a daemon (`crius run`, tests, benches). */
export function criusdEntry(): string {
  return join(installRoot(), 'bin', 'criusd.js');
}

/**
 * The Node/V8 flags the daemon is started with (bin/criusd.node-flags, one per line, '#' comments): to be
 * put before criusdEntry() on node's command line.
 */
export function daemonNodeFlags(): string[] {
  return readFileSync(join(installRoot(), 'bin', 'criusd.node-flags'), 'utf8')
    .split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}
