import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CriusError } from '../../../src/common/errors.js';
import { run } from '../../../src/common/exec.js';
import { createIdmapSupport } from '../../../src/userns/idmap-support.js';
import { openNativeIdmapProbe, type NativeIdmapProbe } from '../../../src/userns/idmap-probe.js';
import { mountsUnder, tempDir, usernsSkipReason } from '../../helpers/userns.js';

const skip = usernsSkipReason();

describe('idmap support probed on real filesystems', { skip }, () => {
  let dir = '';
  let prober: NativeIdmapProbe | undefined;

  before(async () => {
    dir = await tempDir('crius-idmap-support-');
    prober = await openNativeIdmapProbe(dir);
  });

  after(async () => {
    await prober?.close();
    for (const mp of mountsUnder(dir).reverse()) await run('umount', ['-l', mp]);
    await rm(dir, { recursive: true, force: true });
  });

  it('ext4 (a dir on the root fs) can be idmapped', async (t) => {
    const s = createIdmapSupport({ probe: prober!.probe });
    const d = join(dir, 'plain');
    await mkdir(d);
    const r = await s.probePath(d);
    if (r.fs.fsType !== 'ext4') t.diagnostic(`the temp dir is on ${r.fs.fsType}, not ext4`);
    assert.equal(r.ok, true, JSON.stringify(r));
    await s.checkVolume({ containerPath: '/data', hostPath: d });
  });

  it('tmpfs can be idmapped (Linux >= 6.3)', async () => {
    const s = createIdmapSupport({ probe: prober!.probe });
    const d = join(dir, 'tmpfs');
    await mkdir(d);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'crius-test', d]);
    const r = await s.probePath(d);
    assert.equal(r.fs.fsType, 'tmpfs');
    assert.equal(r.ok, true, JSON.stringify(r));
  });

  it('an overlay mount cannot: the error names the volume, overlay, the kernel and the fix', async () => {
    const s = createIdmapSupport({ probe: prober!.probe });
    const base = join(dir, 'ovl');
    for (const d of ['lower', 'upper', 'work', 'merged']) await mkdir(join(base, d), { recursive: true });
    await writeFile(join(base, 'lower', 'f'), 'x');
    await run('mount', ['-t', 'overlay', 'overlay', '-o',
      `lowerdir=${join(base, 'lower')},upperdir=${join(base, 'upper')},workdir=${join(base, 'work')}`, join(base, 'merged')]);
    const r = await s.probePath(join(base, 'merged'));
    assert.equal(r.fs.fsType, 'overlay');
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.failure.errno, 'EINVAL');
    await assert.rejects(s.checkVolume({ containerPath: '/image-volume', hostPath: join(base, 'merged') }), (err: unknown) => {
      assert.ok(err instanceof CriusError);
      assert.equal(err.code, 'FAILED_PRECONDITION');
      assert.match(err.message, /volume \/image-volume \(host path .*merged\) cannot be an idmapped mount/);
      assert.match(err.message, /its filesystem overlay .* refused mount_setattr with EINVAL on Linux \d+\.\d+/);
      assert.match(err.message, /an overlay mount cannot itself be idmapped/);
      return true;
    });
  });

  it('the probe leaves no mount behind', () => {
    // Only the test's own tmpfs, overlay and the probe userns pin remain under the dir.
    const left = mountsUnder(dir).map((m) => m.slice(dir.length));
    assert.deepEqual(left.sort(), ['/idmap-probe.userns', '/ovl/merged', '/tmpfs']);
  });
});
