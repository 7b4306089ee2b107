import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import { ExecError, type Runner } from '../../../src/common/exec.js';
import { idmappedBind, mountOverlay, nsOwner, probeIdmap, SyscallError } from '../../../src/userns/idmap-helper.js';

function fake(stdout: string, calls: string[][] = []): Runner {
  return async (file, args) => { calls.push([file, ...args]); return { stdout, stderr: '', code: 0 }; };
}

describe('idmap helper calls', () => {
  it('builds the overlay command line in overlayfs order with options', async () => {
    const calls: string[][] = [];
    const r = await mountOverlay({ bin: '/h', runner: fake('{"ok":true,"target":"/t","method":"fd","idmapped":true}\n', calls) }, {
      lowers: ['/l/top', '/l/base'], upper: '/u', work: '/w', target: '/t', usernsFile: '/ns', method: 'auto', tmpDir: '/tmp', options: ['index=off'],
    });
    assert.deepEqual(r, { method: 'fd' });
    assert.deepEqual(calls[0], ['/h', 'overlay', '--lower', '/l/top:/l/base', '--userns', '/ns', '--upper', '/u', '--work', '/w',
      '--method', 'auto', '--tmpdir', '/tmp', '-o', 'index=off', '/t']);
  });

  it('turns a failure report into a SyscallError with the syscall, path and errno', async () => {
    const h = { bin: '/h', runner: fake('{"ok":false,"syscall":"mount_setattr","errno":"EINVAL","errno_num":22,"message":"Invalid argument","path":"/proc"}') };
    await assert.rejects(idmappedBind(h, { src: '/proc', dst: '/m', usernsFile: '/ns', readOnly: true }), (err: unknown) => {
      assert.ok(err instanceof SyscallError);
      assert.equal(err.message, 'idmapped bind of /proc at /m: mount_setattr on /proc failed: EINVAL (Invalid argument)');
      assert.equal(err.failure.errno_num, 22);
      return true;
    });
    const p = await probeIdmap(h, '/proc', '/ns');
    assert.equal(p.ok, false);
  });

  it('parses ns-owner', async () => {
    assert.deepEqual(await nsOwner({ bin: '/h', runner: fake('{"ok":true,"ns_ino":5,"owner_userns_ino":7}') }, '/n'), { nsIno: 5, ownerUsernsIno: 7 });
  });

  it('a missing helper is INTERNAL with the build command', async () => {
    const runner: Runner = async () => {
      throw new ExecError({ command: '/h', code: null, signal: null, stdout: '', stderr: '', timedOut: false, notFound: true, reason: 'not found' });
    };
    await assert.rejects(probeIdmap({ bin: '/h', runner }, '/x', '/ns'), (err: unknown) =>
      err instanceof CriusError && err.code === 'INTERNAL' && /make -C native/.test(err.message));
  });

  it('garbage or a usage report is a crius bug, not a filesystem answer', async () => {
    await assert.rejects(probeIdmap({ bin: '/h', runner: fake('segfault') }, '/x', '/ns'), /printed no JSON result/);
    await assert.rejects(probeIdmap({ bin: '/h', runner: fake('{"ok":false,"usage":"probe <path> <userns-file>"}') }, '/x', '/ns'), /rejected its arguments/);
  });

  it('refuses lower paths overlayfs cannot take', async () => {
    await assert.rejects(mountOverlay({ bin: '/h', runner: fake('') }, { lowers: ['/a:b'], target: '/t' }), /contains ':'/);
  });
});
