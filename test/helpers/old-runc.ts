// runc 1.1 from Debian 12/13 has no idmap support (`features` has no mountExtensions): the reference
// runtime for the refusal path. Unpacked (never installed) into a private cache dir with
// `apt-get download` + `dpkg -x`, so the machine's runc stays as it is.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/common/exec.js';

const CACHE = '/var/cache/crius-test/runc-1.1';

/** Path to a runc 1.1.x binary, or throws with the reason (callers skip the test with it). */
export async function oldRuncPath(): Promise<string> {
  const bin = join(CACHE, 'usr', 'sbin', 'runc');
  if (existsSync(bin)) return bin;
  const policy = await run('apt-cache', ['madison', 'runc'], { timeoutMs: 30_000 });
  const version = policy.stdout.split('\n').map((l) => l.split('|')[1]?.trim()).find((v) => v !== undefined && /^1\.1\./.test(v));
  if (!version) throw new Error('no runc 1.1.x in the apt sources (apt-cache madison runc); run scripts/setup.sh');
  const work = join(CACHE, '..', 'runc-download');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  await run('apt-get', ['download', `runc=${version}`], { cwd: work, timeoutMs: 120_000 });
  const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download runc=${version} produced no .deb`);
  mkdirSync(CACHE, { recursive: true });
  await run('dpkg', ['-x', join(work, deb), CACHE], { timeoutMs: 60_000 });
  rmSync(work, { recursive: true, force: true });
  if (!existsSync(bin)) throw new Error(`dpkg -x of ${deb} has no usr/sbin/runc`);
  return bin;
}
