// Where crius is installed (the directory holding its package.json), for the native helpers under
// native/build/. Found by walking up from this module, because the module sits at different depths:
// dist/src/common/ (tsc), dist/criusd/ (the bundled daemon, scripts/bundle.mjs) or src/common/ (a TS loader).
import { existsSync } from 'node:fs';
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
