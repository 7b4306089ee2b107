// The Localhost seccomp reader against real files in a temp dir: a FIFO, a device, a directory, a large
// file and a secret-looking file are refused at once with the field named and nothing of the content.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { CriusError } from '../../../src/common/errors.js';
import { loadLocalhostSeccomp } from '../../../src/container/seccomp-file.js';

const FIELD = 'config.linux.security_context.seccomp.localhost_ref';
let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'crius-scf-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

const load = (ref: string, max?: number) => loadLocalhostSeccomp({ profile_type: 'Localhost', localhost_ref: ref }, FIELD, max);

async function refused(ref: string, code: string, pattern: RegExp, max?: number): Promise<CriusError> {
  let caught: unknown;
  try {
    await load(ref, max);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CriusError, `expected a refusal, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, pattern);
  assert.ok(caught.message.startsWith(FIELD), caught.message);
  return caught;
}

test('a regular JSON profile is read; other profile types read nothing', async () => {
  const p = join(dir, 'ok.json');
  writeFileSync(p, '{"defaultAction":"SCMP_ACT_ALLOW"}');
  assert.deepEqual(await load(p), { defaultAction: 'SCMP_ACT_ALLOW' });
  // Through a symlink too (the kubelet's seccomp root may hold links); the target is what is checked.
  symlinkSync(p, join(dir, 'link.json'));
  assert.deepEqual(await load(join(dir, 'link.json')), { defaultAction: 'SCMP_ACT_ALLOW' });
  assert.equal(await loadLocalhostSeccomp({ profile_type: 'RuntimeDefault' }, FIELD), undefined);
});

test('a FIFO is refused without opening it (no reader thread waits for a writer)', async () => {
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  await refused(fifo, 'INVALID_ARGUMENT', /fifo is a FIFO; a seccomp profile must be a regular JSON file of at most 1048576 bytes/);
  // Several at once: with the old blocking read, four of these exhausted libuv's file-I/O pool.
  await Promise.all(Array.from({ length: 8 }, () => refused(fifo, 'INVALID_ARGUMENT', /is a FIFO/)));
});

test('/dev/zero, a directory and an oversized file are refused before any read', async () => {
  await refused('/dev/zero', 'INVALID_ARGUMENT', /\/dev\/zero is a character device/);
  await refused(dir, 'INVALID_ARGUMENT', /is a directory/);
  const big = join(dir, 'big.json');
  writeFileSync(big, `{"defaultAction":"SCMP_ACT_ALLOW","pad":"${'x'.repeat(5000)}"}`);
  await refused(big, 'INVALID_ARGUMENT', /big\.json has 5043 bytes; .*at most 4096 bytes \(\[limits\] max_seccomp_profile_bytes\)/, 4096);
});

test('a file that is not JSON is refused without quoting it; missing is NOT_FOUND; relative is refused', async () => {
  const secret = join(dir, 'shadow');
  writeFileSync(secret, 'root:$y$j9T$SECRETHASH:19000:0:99999:7:::\n');
  const err = await refused(secret, 'INVALID_ARGUMENT', /shadow is not valid JSON/);
  assert.doesNotMatch(err.message, /SECRETHASH|root:/);
  await refused(join(dir, 'missing.json'), 'NOT_FOUND', /missing\.json does not exist on this node/);
  await refused('profiles/x.json', 'INVALID_ARGUMENT', /must be an absolute path/);
});
