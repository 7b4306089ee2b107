import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** crius's own version, from package.json at the project root. */
export function criusVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'crius' && pkg.version) return pkg.version;
    } catch { /* keep looking upwards */ }
    dir = dirname(dir);
  }
  return '0.0.0-unknown';
}
