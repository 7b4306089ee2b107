import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CriusError } from '../../../src/common/errors.js';
import { ExecError, run, type Runner } from '../../../src/common/exec.js';
import { idmapHelper, nsOwner } from '../../../src/userns/idmap-helper.js';
import { createUsernsFile, readPinnedMaps, removeUsernsFile } from '../../../src/userns/userns-file.js';
import { pinPodNamespaces, pinUsernsPodNamespaces, removePinnedNamespaces } from '../../../src/pod/namespaces.js';
import { mountsUnder, tempDir, usernsSkipReason } from '../../helpers/userns.js';

const skip = usernsSkipReason();
const map = (hostId: number, length = 65536) => ({
  uid: { containerId: 0, hostId, length }, gid: { containerId: 0, hostId, length },
});

describe('pinned user namespaces', { skip }, () => {
  let dir = '';
  after(async () => {
    if (!dir) return;
    for (const mp of mountsUnder(dir).reverse()) await run('umount', ['-l', mp]);
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a user namespace with the mapping at a file and removes it', async () => {
    dir = await tempDir('crius-userns-');
    const file = join(dir, 'user');
    await createUsernsFile(file, map(100000));
    try {
      assert.deepEqual(mountsUnder(dir), [file]);
    await assert.rejects(createUsernsFile(file, map(100000)), (err: unknown) =>
      err instanceof CriusError && err.code === 'ALREADY_EXISTS' && /already pins a namespace/.test(err.message));
    assert.deepEqual(mountsUnder(dir), [file], 'the existing pin is untouched');
      assert.deepEqual(await readPinnedMaps(file), { uidMap: '0 100000 65536', gidMap: '0 100000 65536' });
    } finally {
      await removeUsernsFile(file);
    }
    assert.deepEqual(mountsUnder(dir), []);
    assert.equal(existsSync(file), false);
    // Removing again is a no-op.
    await removeUsernsFile(file);
  });

  it('takes critest\'s unaligned mapping 0 1000 100000', async () => {
    const file = join(dir, 'critest');
    await createUsernsFile(file, map(1000, 100000));
    try {
      assert.deepEqual(await readPinnedMaps(file), { uidMap: '0 1000 100000', gidMap: '0 1000 100000' });
    } finally {
      await removeUsernsFile(file);
    }
  });

  it('a failing namespace helper leaves no file and no mount behind', async () => {
    const files = { user: join(dir, 'f-user'), net: join(dir, 'f-net'), uts: join(dir, 'f-uts'), ipc: join(dir, 'f-ipc') };
    // A fake runner standing in for crius-podns after it bound some of the files and then failed.
    const fake: Runner = async (file, args, opts) => {
      if (file.endsWith('crius-podns')) {
        writeFileSync(files.net, ''); // the helper creates the files it binds onto
        await run('mount', ['--bind', '/proc/self/ns/net', files.net]);
        throw new ExecError({ command: 'crius-podns', code: 1, signal: null, stdout: '', stderr: 'crius-podns: boom', timedOut: false, notFound: false, reason: 'exit status 1' });
      }
      return run(file, args, opts);
    };
    await assert.rejects(pinUsernsPodNamespaces(files, map(300000), fake), /create pod namespaces .*exit status 1/);
    assert.deepEqual(mountsUnder(dir), []);
    for (const f of Object.values(files)) assert.equal(existsSync(f), false, `${f} removed`);
  });

  it('pod form: net, uts and ipc are owned by the pinned user namespace', async () => {
    const files = { user: join(dir, 'p-user'), net: join(dir, 'p-net'), uts: join(dir, 'p-uts'), ipc: join(dir, 'p-ipc') };
    await pinUsernsPodNamespaces(files, map(200000));
    try {
      const h = idmapHelper();
      const userIno = statSync(files.user).ino;
      for (const ns of [files.net, files.uts, files.ipc]) {
        const o = await nsOwner(h, ns);
        assert.equal(o.ownerUsernsIno, userIno, `${ns} is owned by the pod user namespace`);
      }
      // And the pod's user namespace is a child of the host's.
      const hostUser = statSync('/proc/self/ns/user').ino;
      assert.equal((await nsOwner(h, files.user)).ownerUsernsIno, hostUser);
      assert.notEqual(statSync(files.net).ino, statSync('/proc/self/ns/net').ino);
      assert.deepEqual(await readPinnedMaps(files.user), { uidMap: '0 200000 65536', gidMap: '0 200000 65536' });
    } finally {
      await removePinnedNamespaces(files);
    }
    assert.deepEqual(mountsUnder(dir), []);
    for (const f of Object.values(files)) assert.equal(existsSync(f), false, `${f} removed`);
  });

  it('pod form with everything in one call: any hostname, net, ipc and mqueue sysctls (written as the pod\'s root), /dev/shm owned by the pod\'s root', async () => {
    const shm = join(dir, 'e-shm');
    const ns = await pinPodNamespaces({
      dir: join(dir, 'e'), net: true, ipc: true, uts: true, userns: map(400000), hostname: 'Pod_E x',
      sysctls: { 'net.ipv4.ping_group_range': '0 65535', 'kernel.shm_rmid_forced': '1', 'fs.mqueue.msg_max': '50' },
      shm: { dir: shm, sizeBytes: 1 << 20, owner: { uid: 400000, gid: 400000 } },
    });
    try {
      const r = await run('/usr/bin/nsenter', [`--net=${ns.net}`, `--ipc=${ns.ipc}`, `--uts=${ns.uts}`, '/bin/sh', '-c',
        'hostname; cat /proc/sys/net/ipv4/ping_group_range /proc/sys/kernel/shm_rmid_forced /proc/sys/fs/mqueue/msg_max']);
      // ping_group_range was written as the pod's gids 0-65535: read from the host, they are 400000-465535.
      assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' ')), ['Pod_E x', '400000 465535', '1', '50']);
      const st = statSync(shm);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [400000, 400000, 0o1777]);
      assert.match((await run('/usr/bin/findmnt', ['-n', '-o', 'FSTYPE,OPTIONS', shm])).stdout, /^tmpfs .*nosuid,nodev,noexec.*size=1024k/);
    } finally {
      await removePinnedNamespaces(ns);
      await run('umount', [shm]);
    }
    assert.deepEqual(mountsUnder(dir), []);
  });

  it('a sysctl the kernel refuses leaves no pin and no /dev/shm mount', async () => {
    const shm = join(dir, 'r-shm');
    await assert.rejects(pinPodNamespaces({
      dir: join(dir, 'r'), net: true, ipc: true, uts: true, userns: map(500000), sysctls: { 'net.core.no_such_sysctl': '1' },
      shm: { dir: shm, sizeBytes: 1 << 20, owner: { uid: 500000, gid: 500000 } },
    }), (err: unknown) => err instanceof CriusError && err.code === 'INVALID_ARGUMENT' && /cannot set \/proc\/sys\/net\/core\/no_such_sysctl/.test(err.message));
    assert.deepEqual(mountsUnder(dir), []);
  });

  it('an invalid mapping is refused before anything is created', async () => {
    const files = { user: join(dir, 'bad-user'), net: join(dir, 'bad-net'), uts: join(dir, 'bad-uts'), ipc: join(dir, 'bad-ipc') };
    // Reaching 4294967295: util-linux would wrap the 11th ID into a line mapping container 10 to host root.
    await assert.rejects(pinUsernsPodNamespaces(files, map(4294967295 - 10, 11)), (err: unknown) => {
      assert.ok(err instanceof CriusError);
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.match(err.message, /uid mapping 0:4294967285:11 is invalid/);
      return true;
    });
    await assert.rejects(createUsernsFile(files.user, map(1000, -5)), /uid mapping 0:1000:-5 is invalid/);
    assert.deepEqual(mountsUnder(dir), []);
    for (const f of Object.values(files)) assert.equal(existsSync(f), false, `${f} removed`);
  });
});
