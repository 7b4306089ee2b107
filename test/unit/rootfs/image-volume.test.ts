// resolveInRoot: a container path inside a mounted tree, symlinks followed as the container would, never
// out of the tree (image VOLUME copy-up and image_sub_path read through it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { resolveInRoot } from '../../../src/rootfs/image-volume.js';

test('resolveInRoot follows symlinks inside the root and never leaves it', async () => {
  const root = mkdtempSync(join(tmpdir(), 'crius-rir-'));
  try {
    mkdirSync(join(root, 'real/cache'), { recursive: true });
    writeFileSync(join(root, 'real/cache/f'), '');
    mkdirSync(join(root, 'var'));
    symlinkSync('/real/cache', join(root, 'var/cache'));
    symlinkSync('../../../../../etc', join(root, 'var/up'));
    symlinkSync('/', join(root, 'var/slash'));
    symlinkSync('loop', join(root, 'loop'));
    assert.equal(await resolveInRoot(root, '/var/cache'), join(root, 'real/cache'));
    assert.equal(await resolveInRoot(root, 'var/cache/f'), join(root, 'real/cache/f'));
    assert.equal(await resolveInRoot(root, '/var/up'), undefined, '../ stops at the root: /etc is not in this tree');
    assert.equal(await resolveInRoot(root, '/var/slash/real'), join(root, 'real'));
    assert.equal(await resolveInRoot(root, '/../../real/./cache/'), join(root, 'real/cache'));
    assert.equal(await resolveInRoot(root, '/missing/x'), undefined);
    assert.equal(await resolveInRoot(root, '/real/cache/f/x'), undefined, 'a file is not a directory');
    await assert.rejects(resolveInRoot(root, '/loop'), /too many levels of symbolic links/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
