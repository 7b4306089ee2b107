// readImageFile: the topmost layer with the path wins; only regular files are read; a file over the cap
// is FAILED_PRECONDITION naming it, and a FIFO in an image is never opened for reading (it would block).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { readImageFile } from '../../../src/image/image-file.js';
import { CriusError } from '../../../src/common/errors.js';

function layers(t: { after(fn: () => void): void }, n: number): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'crius-imgfile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return Array.from({ length: n }, (_, i) => {
    const l = join(dir, `l${i}`);
    mkdirSync(join(l, 'etc'), { recursive: true });
    return l;
  });
}

test('the topmost layer that has the file wins; absent everywhere is undefined', async (t) => {
  const [l0, l1, l2] = layers(t, 3);
  writeFileSync(join(l0!, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  writeFileSync(join(l1!, 'etc/passwd'), 'root:x:0:0::/root:/bin/bash\n');
  assert.equal(await readImageFile([l0!, l1!, l2!], 'etc/passwd'), 'root:x:0:0::/root:/bin/bash\n');
  assert.equal(await readImageFile([l0!, l1!, l2!], 'etc/group'), undefined);
});

test('a non-regular file in a higher layer (symlink, FIFO) hides the lower one and is not read', async (t) => {
  const [l0, l1] = layers(t, 2);
  writeFileSync(join(l0!, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  symlinkSync('/etc/shadow', join(l1!, 'etc/passwd'));
  assert.equal(await readImageFile([l0!, l1!], 'etc/passwd'), undefined);
  writeFileSync(join(l0!, 'etc/group'), 'root:x:0:\n');
  execFileSync('mkfifo', [join(l1!, 'etc/group')]);
  assert.equal(await readImageFile([l0!, l1!], 'etc/group'), undefined);
});

test('a file over the cap is FAILED_PRECONDITION naming it; one at the cap is read', async (t) => {
  const [l0] = layers(t, 1);
  writeFileSync(join(l0!, 'etc/passwd'), 'x'.repeat(1025));
  await assert.rejects(readImageFile([l0!], 'etc/passwd', 1024), (err: unknown) =>
    err instanceof CriusError && err.code === 'FAILED_PRECONDITION' && /\/etc\/passwd is 1025 bytes, more than the 1024 bytes/.test(err.message));
  writeFileSync(join(l0!, 'etc/group'), 'g'.repeat(1024));
  assert.equal((await readImageFile([l0!], 'etc/group', 1024))?.length, 1024);
});
