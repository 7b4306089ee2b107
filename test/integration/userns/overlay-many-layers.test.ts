import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../../src/common/exec.js';
import { idmapHelper, mountOverlay, SyscallError } from '../../../src/userns/idmap-helper.js';
import { createUsernsFile, removeUsernsFile } from '../../../src/userns/userns-file.js';
import { mountsUnder, tempDir, usernsSkipReason } from '../../helpers/userns.js';

const skip = usernsSkipReason();
const range = { containerId: 0, hostId: 100000, length: 65536 };

// 120 layers with 64-character names: ~7.8 KB of lowerdir, past the one-page (4 KiB) limit of mount(2)
// options. The fd method has no such limit; the tmpdir method must fail cleanly (E2BIG), leaving nothing.
describe('overlay with more lowers than fit in one page of mount options', { skip }, () => {
  let dir = '';
  let lowers: string[] = [];
  const userns = () => join(dir, 'userns');
  const h = idmapHelper();

  before(async () => {
    dir = await tempDir('crius-many-layers-');
    await chmod(dir, 0o711);
    for (let i = 0; i < 120; i++) {
      const l = join(dir, 'layers', `${String(i).padStart(4, '0')}-${'x'.repeat(59)}`);
      await mkdir(l, { recursive: true });
      await writeFile(join(l, `f${i}`), String(i));
      await writeFile(join(l, 'top'), String(i));
      lowers.push(l);
    }
    lowers = lowers.reverse(); // overlayfs order: topmost (119) first
    await createUsernsFile(userns(), { uid: range, gid: range });
  });

  after(async () => {
    for (const mp of mountsUnder(dir).reverse()) await run('umount', ['-l', mp]).catch(() => {});
    await removeUsernsFile(userns()).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  it('fd method: all 120 idmapped lowers, topmost wins', async () => {
    assert.ok(lowers.join(':').length > 4096);
    const p = join(dir, 'fd');
    for (const d of ['upper', 'work', 'rootfs']) await mkdir(join(p, d), { recursive: true });
    const r = await mountOverlay(h, { lowers, upper: join(p, 'upper'), work: join(p, 'work'), target: join(p, 'rootfs'), usernsFile: userns(), method: 'fd' });
    try {
      assert.equal(r.method, 'fd');
      assert.equal(readFileSync(join(p, 'rootfs', 'top'), 'utf8'), '119');
      assert.equal(readFileSync(join(p, 'rootfs', 'f0'), 'utf8'), '0');
      assert.equal(statSync(join(p, 'rootfs', 'f0')).uid, 100000);
      assert.equal(readdirSync(join(p, 'rootfs')).length, 121);
    } finally {
      await run('umount', [join(p, 'rootfs')]);
    }
  });

  it('tmpdir method: relative lowerdirs are still too long, so E2BIG and nothing left behind', async () => {
    const p = join(dir, 'tmpdir');
    const tmp = join(dir, 'tmp');
    for (const d of ['upper', 'work', 'rootfs']) await mkdir(join(p, d), { recursive: true });
    await mkdir(tmp);
    await assert.rejects(
      mountOverlay(h, { lowers, upper: join(p, 'upper'), work: join(p, 'work'), target: join(p, 'rootfs'), usernsFile: userns(), method: 'tmpdir', tmpDir: tmp }),
      (err: unknown) => err instanceof SyscallError && err.failure.errno === 'E2BIG');
    assert.deepEqual(readdirSync(tmp), []);
    assert.deepEqual(mountsUnder(p), []);
    assert.deepEqual(mountsUnder(tmp), []);
  });

  it('tmpdir method fits 40 long-named layers thanks to relative lowerdirs', async () => {
    const some = lowers.slice(0, 40);
    assert.ok(some.join(':').length > 2500);
    const p = join(dir, 'tmpdir40');
    const tmp = join(dir, 'tmp40');
    for (const d of ['upper', 'work', 'rootfs']) await mkdir(join(p, d), { recursive: true });
    await mkdir(tmp);
    await mountOverlay(h, { lowers: some, upper: join(p, 'upper'), work: join(p, 'work'), target: join(p, 'rootfs'), usernsFile: userns(), method: 'tmpdir', tmpDir: tmp });
    try {
      assert.equal(readFileSync(join(p, 'rootfs', 'top'), 'utf8'), '119');
      assert.equal(statSync(join(p, 'rootfs', 'f80')).uid, 100000);
      assert.deepEqual(readdirSync(tmp), [], 'temporary idmapped mount detached and its dir removed');
    } finally {
      await run('umount', [join(p, 'rootfs')]);
    }
  });
});
