// Layer unpack on real files (as root): every entry type and its metadata, OCI -> overlay whiteouts,
// gzip/zstd/plain, and each escape attempt refused with nothing written outside the layer dir.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriusError } from '../../../src/common/errors.js';
import { run } from '../../../src/common/exec.js';
import { unpackLayer } from '../../../src/image/unpack-layer.js';
import { makeLayer, paxRecord, type Compression, type TarEntry } from '../../helpers/build-image.js';
import { nativeBuildPath } from '../../../src/common/install-root.js';

const FSOPS = nativeBuildPath('crius-fsops');
const isRoot = process.getuid?.() === 0;

async function getxattr(path: string, name: string): Promise<string | undefined> {
  const r = await run('python3', ['-c', 'import os,sys\ntry: sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())\nexcept OSError: sys.exit(3)', path, name], { okCodes: [0, 3] });
  return r.code === 0 ? r.stdout : undefined;
}

/** Every path under dir (relative), for before/after comparisons. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      out.push(`${rel}${n}`);
      if (lstatSync(p).isDirectory()) walk(p, `${rel}${n}/`);
    }
  };
  walk(dir, '');
  return out.sort();
}

let sandbox: string;
before(() => {
  sandbox = mkdtempSync(join(tmpdir(), 'crius-unpack-'));
});
after(() => {
  rmSync(sandbox, { recursive: true, force: true });
});

let n = 0;
async function unpack(entries: TarEntry[], how: Compression = 'gzip'): Promise<{ dir: string; fs: string; digest: string }> {
  const layer = await makeLayer(entries, how);
  const blobPath = join(sandbox, `blob-${++n}`);
  writeFileSync(blobPath, layer.blob);
  const dest = join(sandbox, 'layers', `l${n}`);
  mkdirSync(join(sandbox, 'layers'), { recursive: true });
  await unpackLayer({ blobPath, dest, expectedDiffId: layer.diffId, image: 'test/evil:1', layerDigest: layer.digest, fsopsPath: FSOPS });
  return { dir: dest, fs: join(dest, 'fs'), digest: layer.digest };
}

describe('layer unpack: entry types and metadata', { skip: !isRoot ? 'needs root (chown, mknod)' : !existsSync(FSOPS) ? `${FSOPS} not built (make -C native)` : false }, () => {
  const mtime = new Date('2020-05-06T07:08:09Z');
  const entries: TarEntry[] = [
    { path: './', type: 'directory', mode: 0o755 },
    { path: 'bin/', type: 'directory', mtime },
    { path: 'bin/su', content: 'x', mode: 0o4755, uid: 0, gid: 0 },
    { path: 'bin/sg', content: 'y', mode: 0o2755, uid: 0, gid: 50 },
    { path: 'home/u/file', content: 'hello', mode: 0o640, uid: 1000, gid: 1001, mtime },
    { path: 'bin/sh', type: 'symlink', linkname: 'su', uid: 1000, gid: 1000 },
    { path: 'bin/su2', type: 'link', linkname: 'bin/su' },
    { path: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { path: 'dev/loop0', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660, gid: 6 },
    { path: 'run/fifo', type: 'fifo', mode: 0o600, uid: 5, gid: 5 },
    { path: 'etc/x', content: 'attr', pax: { 'SCHILY.xattr.user.crius': 'yes', 'SCHILY.xattr.trusted.overlay.redirect': '/etc' } },
    { path: 'gone/.wh.old', content: '' },
    { path: 'opq/', type: 'directory' },
    { path: 'opq/.wh..wh..opq', content: '' },
    { path: 'opq/kept', content: 'k' },
    { path: 'replace', content: 'first' },
    { path: 'replace', content: 'second' },
    { path: 'opq/', type: 'directory' }, // repeated: must keep the opaque marker and children
    { path: 'sg/', type: 'directory', mode: 0o2775, gid: 77 },
    { path: 'sg/root-owned', content: 'r', uid: 0, gid: 0 }, // must not inherit gid 77 from the setgid dir
  ];

  for (const how of ['gzip', 'zstd', 'none'] as Compression[]) {
    test(`every entry type (${how})`, async () => {
      const { fs } = await unpack(entries, how);
      const su = statSync(join(fs, 'bin/su'));
      assert.equal(su.mode & 0o7777, 0o4755, 'setuid kept');
      assert.equal(statSync(join(fs, 'bin/sg')).mode & 0o7777, 0o2755, 'setgid kept');
      assert.equal(statSync(join(fs, 'bin/sg')).gid, 50);
      const f = statSync(join(fs, 'home/u/file'));
      assert.deepEqual([f.uid, f.gid, f.mode & 0o777, f.mtimeMs], [1000, 1001, 0o640, mtime.getTime()]);
      assert.equal(readFileSync(join(fs, 'home/u/file'), 'utf8'), 'hello');
      assert.equal(readlinkSync(join(fs, 'bin/sh')), 'su');
      assert.equal(lstatSync(join(fs, 'bin/sh')).uid, 1000);
      assert.equal(statSync(join(fs, 'bin/su2')).ino, su.ino, 'hardlink shares the inode');
      const dn = lstatSync(join(fs, 'dev/null'));
      assert.ok(dn.isCharacterDevice());
      assert.equal(dn.rdev, (1 << 8) | 3);
      assert.ok(lstatSync(join(fs, 'dev/loop0')).isBlockDevice());
      assert.equal(lstatSync(join(fs, 'dev/loop0')).gid, 6);
      const ff = lstatSync(join(fs, 'run/fifo'));
      assert.ok(ff.isFIFO());
      assert.deepEqual([ff.uid, ff.mode & 0o777], [5, 0o600]);
      const wo = lstatSync(join(fs, 'gone/old'));
      assert.ok(wo.isCharacterDevice(), 'OCI whiteout became an overlay whiteout');
      assert.equal(wo.rdev, 0);
      assert.ok(!existsSync(join(fs, 'gone/.wh.old')));
      assert.ok(!existsSync(join(fs, 'opq/.wh..wh..opq')));
      assert.equal(readFileSync(join(fs, 'replace'), 'utf8'), 'second');
      assert.equal(readFileSync(join(fs, 'opq/kept'), 'utf8'), 'k');
      assert.equal(statSync(join(fs, 'sg')).mode & 0o7777, 0o2775);
      assert.equal(statSync(join(fs, 'sg/root-owned')).gid, 0, 'numeric ownership wins over setgid inheritance');
      assert.equal(statSync(join(fs, 'bin')).mtimeMs, mtime.getTime(), 'directory mtime restored after children');
      const py = await run('python3', ['-c', 'print(1)']).then(() => true, () => false);
      if (py) {
        assert.equal(await getxattr(join(fs, 'etc/x'), 'user.crius'), 'yes');
        assert.equal(await getxattr(join(fs, 'etc/x'), 'trusted.overlay.redirect'), undefined, 'trusted.overlay.* from a layer is refused');
        assert.equal(await getxattr(join(fs, 'opq'), 'trusted.overlay.opaque'), 'y');
      }
    });
  }

  test('binary xattr values (file capabilities) are applied byte for byte', async (t) => {
    if (!(await run('python3', ['-c', '1']).then(() => true, () => false))) { t.skip('python3 is needed to read xattrs back'); return; }
    // struct vfs_cap_data v2: magic REVISION_2|EFFECTIVE, permitted = caps 0-7 and CAP_NET_BIND_SERVICE
    // (bytes 0xff 0x04: not valid UTF-8, so a UTF-8 decode would corrupt them).
    const cap = Buffer.from([0x01, 0, 0, 0x02, 0xff, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const bin = Buffer.from([0x80, 0xfe, 0x00, 0xc3]);
    const { fs } = await unpack([
      { path: 'PaxHeaders/ping', type: 'pax-header', content: Buffer.concat([paxRecord('SCHILY.xattr.security.capability', cap), paxRecord('SCHILY.xattr.user.utf8', Buffer.from('héllo')), paxRecord('SCHILY.xattr.user.bin', bin)]) },
      { path: 'bin/ping', content: 'ping', mode: 0o755 },
    ]);
    const r = await run('python3', ['-c', 'import os,sys\nfor n in sys.argv[2:]: print(os.getxattr(sys.argv[1], n).hex())', join(fs, 'bin/ping'), 'security.capability', 'user.utf8', 'user.bin']);
    assert.deepEqual(r.stdout.trim().split('\n'), [cap.toString('hex'), Buffer.from('héllo').toString('hex'), bin.toString('hex')]);
  });

  test('a diff ID mismatch is refused and leaves nothing', async () => {
    const layer = await makeLayer([{ path: 'a', content: 'a' }]);
    const blobPath = join(sandbox, 'blob-mismatch');
    writeFileSync(blobPath, layer.blob);
    const dest = join(sandbox, 'layers', 'mismatch');
    await assert.rejects(unpackLayer({ blobPath, dest, expectedDiffId: `sha256:${'0'.repeat(64)}`, image: 'img', layerDigest: layer.digest, fsopsPath: FSOPS }),
      (e: unknown) => e instanceof CriusError && e.code === 'FAILED_PRECONDITION' && /uncompressed digest/.test(e.message));
    assert.ok(!readdirSync(join(sandbox, 'layers')).some((d) => d.startsWith('mismatch')));
  });
});

describe('layer unpack: escapes are refused and nothing lands outside', { skip: !isRoot ? 'needs root' : !existsSync(FSOPS) ? `${FSOPS} not built` : false }, () => {
  const cases: Array<{ name: string; entry: string; entries: TarEntry[] }> = [
    { name: 'dot-dot path', entry: '../outside/pwned', entries: [{ path: '../outside/pwned', content: 'x' }] },
    { name: 'nested dot-dot', entry: 'a/../../outside/pwned', entries: [{ path: 'a/', type: 'directory' }, { path: 'a/../../outside/pwned', content: 'x' }] },
    { name: 'absolute path', entry: '/outside/pwned', entries: [{ path: '/outside/pwned', content: 'x' }] },
    { name: 'file under a symlinked parent', entry: 'lnk/pwned', entries: [{ path: 'lnk', type: 'symlink', linkname: '__OUTSIDE__' }, { path: 'lnk/pwned', content: 'x' }] },
    { name: 'relative symlink parent', entry: 'd/lnk/pwned', entries: [{ path: 'd/', type: 'directory' }, { path: 'd/lnk', type: 'symlink', linkname: '../../../outside' }, { path: 'd/lnk/pwned', content: 'x' }] },
    { name: 'dir replaced by symlink then written through', entry: 'd/pwned', entries: [{ path: 'd/', type: 'directory' }, { path: 'd', type: 'symlink', linkname: '__OUTSIDE__' }, { path: 'd/pwned', content: 'x' }] },
    { name: 'hardlink to an absolute path', entry: 'h', entries: [{ path: 'h', type: 'link', linkname: '__OUTSIDE__/secret' }] },
    { name: 'hardlink with dot-dot', entry: 'h', entries: [{ path: 'h', type: 'link', linkname: '../../../outside/secret' }] },
    { name: 'hardlink through a symlinked parent', entry: 'h', entries: [{ path: 'lnk', type: 'symlink', linkname: '__OUTSIDE__' }, { path: 'h', type: 'link', linkname: 'lnk/secret' }] },
    { name: 'whiteout of ..', entry: 'a/.wh...', entries: [{ path: 'a/', type: 'directory' }, { path: 'a/.wh...', content: '' }] },
    { name: 'whiteout under a symlinked parent', entry: 'lnk/.wh.secret', entries: [{ path: 'lnk', type: 'symlink', linkname: '__OUTSIDE__' }, { path: 'lnk/.wh.secret', content: '' }] },
    { name: 'opaque marker under a symlinked parent', entry: 'lnk/.wh..wh..opq', entries: [{ path: 'lnk', type: 'symlink', linkname: '__OUTSIDE__' }, { path: 'lnk/.wh..wh..opq', content: '' }] },
    { name: 'device node under a symlinked parent', entry: 'lnk/null', entries: [{ path: 'lnk', type: 'symlink', linkname: '__OUTSIDE__' }, { path: 'lnk/null', type: 'character-device', devmajor: 1, devminor: 3 }] },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const outside = join(sandbox, 'outside');
      mkdirSync(outside, { recursive: true });
      writeFileSync(join(outside, 'secret'), 'secret');
      const entries = c.entries.map((e) => ({ ...e, ...(e.linkname ? { linkname: e.linkname.replace('__OUTSIDE__', outside) } : {}) }));
      const before = tree(sandbox).filter((p) => !p.startsWith('layers') && !p.startsWith('blob-'));
      const layersBefore = existsSync(join(sandbox, 'layers')) ? readdirSync(join(sandbox, 'layers')).length : 0;
      await assert.rejects(unpack(entries), (e: unknown) => {
        assert.ok(e instanceof CriusError, String(e));
        assert.equal(e.code, 'FAILED_PRECONDITION');
        assert.match(e.message, /image test\/evil:1/);
        assert.match(e.message, /layer sha256:[a-f0-9]{64}/);
        assert.ok(e.message.includes(JSON.stringify(c.entry)), `message names the entry ${c.entry}: ${e.message}`);
        return true;
      });
      const afterTree = tree(sandbox).filter((p) => !p.startsWith('layers') && !p.startsWith('blob-'));
      assert.deepEqual(afterTree, before, 'nothing appeared outside the layer dir');
      assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'secret');
      assert.equal(statSync(join(outside, 'secret')).nlink, 1, 'no hardlink to the outside file was made');
      assert.equal(readdirSync(join(sandbox, 'layers')).length, layersBefore, 'the refused layer left no dir (not even a temp one)');
    });
  }
});
