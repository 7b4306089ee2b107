import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CriusError } from '../../../src/common/errors.js';
import { run } from '../../../src/common/exec.js';
import { cleanupTemporaryIdmapMounts, mountContainerRootfs, unmountContainerRootfs, type RootfsUserns } from '../../../src/rootfs/overlay-rootfs.js';
import { idmapHelper, idmappedBind } from '../../../src/userns/idmap-helper.js';
import { shiftedCopyDir } from '../../../src/rootfs/shifted-copy.js';
import { createUsernsFile, removeUsernsFile } from '../../../src/userns/userns-file.js';
import { mountsUnder, tempDir, usernsSkipReason } from '../../helpers/userns.js';

const skip = usernsSkipReason();
const range = { containerId: 0, hostId: 100000, length: 65536 };
const owner = (p: string): string => { const s = statSync(p); return `${s.uid}:${s.gid}`; };

describe('container rootfs', { skip }, () => {
  let dir = '';
  let layers: string[] = [];
  let userns: RootfsUserns;

  before(async () => {
    dir = await tempDir('crius-rootfs-');
    // The pod's root (host 100000) must traverse to the rootfs, as for a real bundle dir (0711: docs/ARCHITECTURE.md, "User namespaces and the state dir").
    await chmod(dir, 0o711);
    const l1 = join(dir, 'layers', '1');
    const l2 = join(dir, 'layers', '2');
    await mkdir(join(l1, 'etc'), { recursive: true });
    await mkdir(join(l1, 'bin'), { recursive: true });
    await mkdir(join(l1, 'home', 'user'), { recursive: true });
    await writeFile(join(l1, 'etc', 'f'), 'base\n');
    await writeFile(join(l1, 'etc', 'removed'), 'gone in layer 2\n');
    await writeFile(join(l1, 'bin', 'su'), '#!/bin/sh\n');
    await chmod(join(l1, 'bin', 'su'), 0o4755);
    await writeFile(join(l1, 'home', 'user', 'a'), 'a\n');
    await chown(join(l1, 'home', 'user'), 1000, 1000);
    await chown(join(l1, 'home', 'user', 'a'), 1000, 1000);
    await mkdir(join(l2, 'etc'), { recursive: true });
    await mkdir(join(l2, 'home', 'user'), { recursive: true });
    await chown(join(l2, 'home', 'user'), 1000, 1000);
    await writeFile(join(l2, 'home', 'user', 'g'), 'g\n');
    await chown(join(l2, 'home', 'user', 'g'), 1000, 1000);
    // An overlay whiteout (char device 0:0) deletes etc/removed from the layer below.
    await run('mknod', [join(l2, 'etc', 'removed'), 'c', '0', '0']);
    layers = [l1, l2];
    userns = { file: join(dir, 'userns'), uidMap: range, gidMap: range };
    await createUsernsFile(userns.file, { uid: range, gid: range });
  });

  after(async () => {
    for (const mp of mountsUnder(dir).reverse()) await run('umount', ['-l', mp]).catch(() => {});
    await removeUsernsFile(join(dir, 'userns')).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  const paths = (name: string) => ({
    upperDir: join(dir, name, 'upper'), workDir: join(dir, name, 'work'), target: join(dir, name, 'rootfs'),
  });

  for (const method of ['auto', 'fd', 'tmpdir'] as const) {
    it(`idmapped lowers (${method}): shifted owners from the host, 0:0 inside, writes land in upper, clean unmount`, async () => {
      const p = paths(`idmap-${method}`);
      const tmpDir = join(dir, `tmp-${method}`);
      await mkdir(tmpDir);
      const m = await mountContainerRootfs({ layers, ...p, userns, method, tmpDir });
      try {
        if (method !== 'auto') assert.equal(m.how, method);
        assert.equal(owner(p.target), '100000:100000');
        assert.equal(owner(join(p.target, 'etc', 'f')), '100000:100000');
        assert.equal(owner(join(p.target, 'home', 'user', 'a')), '101000:101000');
        assert.equal(owner(join(p.target, 'home', 'user', 'g')), '101000:101000');
        assert.equal(statSync(join(p.target, 'bin', 'su')).mode & 0o7777, 0o4755);
        assert.equal(existsSync(join(p.target, 'etc', 'removed')), false, 'whiteout hides the lower file');
        // Seen from inside the pod's user namespace, the rootfs belongs to root and the user to 1000.
        const inside = await run('nsenter', [`--user=${userns.file}`, 'stat', '-c', '%u:%g',
          p.target, join(p.target, 'etc', 'f'), join(p.target, 'home', 'user', 'g')]);
        assert.deepEqual(inside.stdout.trim().split('\n'), ['0:0', '0:0', '1000:1000']);
        await writeFile(join(p.target, 'etc', 'new'), 'x');
        assert.equal(readFileSync(join(p.upperDir, 'etc', 'new'), 'utf8'), 'x');
        assert.equal(readFileSync(join(layers[0]!, 'etc', 'f'), 'utf8'), 'base\n', 'lower untouched');
        assert.equal(existsSync(join(layers[0]!, 'etc', 'new')), false);
        // The lowers on disk keep their real owners.
        assert.equal(owner(join(layers[0]!, 'etc', 'f')), '0:0');
        assert.deepEqual(readdirSync(tmpDir), [], 'no temporary idmapped mount dirs left');
      } finally {
        await unmountContainerRootfs(p.target);
      }
      assert.deepEqual(mountsUnder(join(dir, `idmap-${method}`)), []);
      assert.deepEqual(mountsUnder(tmpDir), []);
      await unmountContainerRootfs(p.target); // idempotent
    });
  }

  it('the pod\'s root runs from the idmapped rootfs: / is =0=0= inside, what it creates is the pod root on disk', async (t) => {
    if (!existsSync('/bin/busybox')) { t.skip('needs /bin/busybox (busybox-static)'); return; }
    const bb = join(dir, 'layers', 'busybox');
    await mkdir(join(bb, 'bin'), { recursive: true });
    await run('cp', ['/bin/busybox', join(bb, 'bin', 'busybox')]);
    const p = paths('exec');
    await mountContainerRootfs({ layers: [layers[0]!, bb], ...p, userns });
    try {
      // Enter the pod's user namespace as its root and chroot into the rootfs, as the runtime would.
      const r = await run('nsenter', [`--user=${userns.file}`, '--setuid=0', '--setgid=0', 'chroot', p.target,
        '/bin/busybox', 'sh', '-c', '/bin/busybox stat -c "=%u=%g=" / /etc/f /home/user/a; /bin/busybox id -u; /bin/busybox touch /made-by-root']);
      assert.deepEqual(r.stdout.trim().split('\n'), ['=0=0=', '=0=0=', '=1000=1000=', '0']);
      assert.equal(owner(join(p.upperDir, 'made-by-root')), '100000:100000');
    } finally {
      await unmountContainerRootfs(p.target);
    }
  });

  it('without a user namespace: a plain overlay with the real owners', async () => {
    const p = paths('plain');
    const m = await mountContainerRootfs({ layers, ...p });
    try {
      assert.equal(m.how, 'plain');
      assert.equal(owner(join(p.target, 'etc', 'f')), '0:0');
      assert.equal(owner(join(p.target, 'home', 'user', 'g')), '1000:1000');
      assert.equal(existsSync(join(p.target, 'etc', 'removed')), false);
    } finally {
      await unmountContainerRootfs(p.target);
    }
    assert.deepEqual(mountsUnder(join(dir, 'plain')), []);
  });

  it('a single layer works', async () => {
    const p = paths('single');
    await mountContainerRootfs({ layers: [layers[0]!], ...p, userns });
    try {
      assert.equal(owner(join(p.target, 'etc', 'f')), '100000:100000');
      assert.equal(readFileSync(join(p.target, 'etc', 'removed'), 'utf8'), 'gone in layer 2\n');
    } finally {
      await unmountContainerRootfs(p.target);
    }
  });

  it('copy mode: shifted copies made once per mapping, setuid kept, overlay over them', async () => {
    const cacheDir = join(dir, 'copies');
    const p = paths('copy');
    const m = await mountContainerRootfs({ layers, ...p, userns, mode: 'copy', copyCacheDir: cacheDir });
    const copyDir = shiftedCopyDir({ layers, cacheDir, map: { uid: range, gid: range } });
    try {
      assert.equal(m.how, 'copy');
      assert.equal(owner(p.target), '100000:100000');
      assert.equal(owner(join(p.target, 'etc', 'f')), '100000:100000');
      assert.equal(owner(join(p.target, 'home', 'user', 'g')), '101000:101000');
      assert.equal(statSync(join(p.target, 'bin', 'su')).mode & 0o7777, 0o4755);
      assert.equal(statSync(join(copyDir, '0', 'bin', 'su')).mode & 0o7777, 0o4755);
      assert.equal(existsSync(join(p.target, 'etc', 'removed')), false, 'whiteout survives the copy');
      assert.equal(owner(join(layers[0]!, 'etc', 'f')), '0:0', 'original layer untouched');
    } finally {
      await unmountContainerRootfs(p.target);
    }
    // A second container with the same mapping reuses the copy.
    const ino = statSync(join(copyDir, '0', 'etc', 'f')).ino;
    const p2 = paths('copy2');
    await mountContainerRootfs({ layers, ...p2, userns, mode: 'copy', copyCacheDir: cacheDir });
    try {
      assert.equal(statSync(join(copyDir, '0', 'etc', 'f')).ino, ino);
      assert.equal(readdirSync(cacheDir).length, 1);
    } finally {
      await unmountContainerRootfs(p2.target);
    }
  });

  it('copy mode refuses a file owned outside the mapping and leaves no partial copy', async () => {
    const odd = join(dir, 'layers', 'odd');
    await mkdir(odd, { recursive: true });
    await writeFile(join(odd, 'f'), 'x');
    await chown(join(odd, 'f'), 70000, 0);
    const cacheDir = join(dir, 'copies-odd');
    await assert.rejects(
      mountContainerRootfs({ layers: [odd], ...paths('odd'), userns, mode: 'copy', copyCacheDir: cacheDir }),
      (err: unknown) => {
        assert.ok(err instanceof CriusError);
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, /owned by 70000:0, outside the pod's mapping \(uids 0:100000:65536/);
        return true;
      });
    assert.deepEqual(readdirSync(cacheDir), []);
    assert.deepEqual(mountsUnder(join(dir, 'odd')), []);
  });

  it('start-up cleanup detaches a temporary idmapped mount left by a crash, without touching the layer', async () => {
    const tmp = join(dir, 'crashed-tmp');
    const left = join(tmp, 'crius-idmap-abc123', 'm');
    await mkdir(left, { recursive: true });
    await idmappedBind(idmapHelper(), { src: layers[0]!, dst: left, usernsFile: userns.file, readOnly: true });
    assert.equal(owner(join(left, 'etc', 'f')), '100000:100000');
    assert.deepEqual(await cleanupTemporaryIdmapMounts(tmp), [join(tmp, 'crius-idmap-abc123')]);
    assert.deepEqual(readdirSync(tmp), []);
    assert.deepEqual(mountsUnder(tmp), []);
    assert.equal(readFileSync(join(layers[0]!, 'etc', 'f'), 'utf8'), 'base\n', 'layer intact');
    assert.deepEqual(await cleanupTemporaryIdmapMounts(join(dir, 'no-such-dir')), []);
  });

  it('a lower that does not exist fails with the syscall and path, mounting nothing', async () => {
    const p = paths('missing');
    await assert.rejects(mountContainerRootfs({ layers: [join(dir, 'nope')], ...p, userns, method: 'fd' }),
      /mount rootfs at .*: overlay mount at .* open_tree on .*nope failed: ENOENT/);
    assert.deepEqual(mountsUnder(join(dir, 'missing')), []);
  });
});
