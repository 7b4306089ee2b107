import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { chmod, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../../src/common/exec.js';
import { idmapHelper, idmappedBind, probeIdmap, SyscallError } from '../../../src/userns/idmap-helper.js';
import { createUsernsFile, removeUsernsFile } from '../../../src/userns/userns-file.js';
import { mountsUnder, tempDir, usernsSkipReason } from '../../helpers/userns.js';

const skip = usernsSkipReason();
const owner = (p: string): string => { const s = statSync(p); return `${s.uid}:${s.gid}`; };
const map = (hostId: number) => ({ uid: { containerId: 0, hostId, length: 65536 }, gid: { containerId: 0, hostId, length: 65536 } });

// A hostPath-style volume: the disk keeps its real owners whatever pod (host range) mounts it.
describe('idmapped bind mounts (volumes)', { skip }, () => {
  let dir = '';
  const h = idmapHelper();
  const podA = () => join(dir, 'userns-a');
  const podB = () => join(dir, 'userns-b');

  before(async () => {
    dir = await tempDir('crius-idmapped-bind-');
    await chmod(dir, 0o711);
    await mkdir(join(dir, 'vol'));
    await chmod(join(dir, 'vol'), 0o777);
    await writeFile(join(dir, 'vol', 'mine'), 'x');
    await chown(join(dir, 'vol', 'mine'), 1000, 1000);
    await createUsernsFile(podA(), map(100000));
    await createUsernsFile(podB(), map(300000));
  });

  after(async () => {
    for (const mp of mountsUnder(dir).reverse()) await run('umount', ['-l', mp]).catch(() => {});
    await removeUsernsFile(podA()).catch(() => {});
    await removeUsernsFile(podB()).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  it('a 1000-owned file reads 1000 inside; root inside writes 0:0 to disk; a second pod sees the same', async () => {
    const a = join(dir, 'mnt-a');
    const b = join(dir, 'mnt-b');
    await mkdir(a);
    await mkdir(b);
    await idmappedBind(h, { src: join(dir, 'vol'), dst: a, usernsFile: podA() });
    await idmappedBind(h, { src: join(dir, 'vol'), dst: b, usernsFile: podB() });
    try {
      assert.equal(owner(join(a, 'mine')), '101000:101000', 'host view through pod A\'s idmap');
      assert.equal(owner(join(b, 'mine')), '301000:301000', 'host view through pod B\'s idmap');
      const inside = (ns: string, ...cmd: string[]) => run('nsenter', [`--user=${ns}`, '--setuid=0', '--setgid=0', ...cmd]);
      assert.equal((await inside(podA(), 'stat', '-c', '%u:%g', join(a, 'mine'))).stdout.trim(), '1000:1000');
      assert.equal((await inside(podB(), 'stat', '-c', '%u:%g', join(b, 'mine'))).stdout.trim(), '1000:1000');
      await inside(podA(), 'touch', join(a, 'by-root-in-a'));
      assert.equal(owner(join(dir, 'vol', 'by-root-in-a')), '0:0', 'lands as 0:0 on disk');
      assert.equal((await inside(podB(), 'stat', '-c', '%u:%g', join(b, 'by-root-in-a'))).stdout.trim(), '0:0');
    } finally {
      await run('umount', [a]);
      await run('umount', [b]);
    }
    assert.deepEqual(mountsUnder(dir).filter((m) => m.includes('mnt-')), []);
  });

  it('read-only idmapped bind refuses writes', async () => {
    const m = join(dir, 'mnt-ro');
    await mkdir(m);
    await idmappedBind(h, { src: join(dir, 'vol'), dst: m, usernsFile: podA(), readOnly: true });
    try {
      await assert.rejects(writeFile(join(m, 'nope'), 'x'), /EROFS/);
    } finally {
      await run('umount', [m]);
    }
  });

  it('a source that cannot be idmapped reports the syscall and errno', async () => {
    const m = join(dir, 'mnt-proc');
    await mkdir(m);
    await assert.rejects(idmappedBind(h, { src: '/proc', dst: m, usernsFile: podA() }), (err: unknown) => {
      assert.ok(err instanceof SyscallError);
      assert.equal(err.failure.syscall, 'mount_setattr');
      assert.equal(err.failure.errno, 'EINVAL');
      return true;
    });
    assert.deepEqual(mountsUnder(m), []);
    const p = await probeIdmap(h, join(dir, 'vol', 'mine'), podA());
    assert.equal(p.ok, true, 'a single file can be probed too');
  });
});
