import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import type { SyscallFailure } from '../../../src/userns/idmap-helper.js';
import {
  createIdmapSupport, idmapRequirement, kernelVersion,
} from '../../../src/userns/idmap-support.js';
import { mountOf, parseMountInfo } from '../../../src/common/mountinfo.js';

const MOUNTINFO = [
  '26 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '30 26 0:22 / /proc rw - proc proc rw',
  '40 26 0:45 / /var/lib/kubelet/pods/p1/volumes/secret rw - tmpfs tmpfs rw,size=1024k',
  '41 26 0:46 / /mnt/nfs rw - nfs4 server:/export rw,vers=4.2',
  '42 26 0:47 / /mnt/with\\040space rw - xfs /dev/vdb rw',
  '43 41 0:48 / /mnt/nfs/inner rw - ext4 /dev/vdc rw',
  '44 26 0:49 / /mnt/fuse rw - fuse.sshfs me@host:/ rw',
  '45 26 0:50 / /var/lib/kubelet/pods/p1/volumes/secret rw - tmpfs tmpfs rw',
].join('\n');

const EINVAL: SyscallFailure = { ok: false, syscall: 'mount_setattr', errno: 'EINVAL', errno_num: 22, message: 'Invalid argument' };

describe('mountinfo', () => {
  const mounts = parseMountInfo(MOUNTINFO);
  it('parses fields and unescapes octal', () => {
    assert.equal(mounts.length, 8);
    assert.deepEqual(mounts[4], { mountId: 42, device: '0:47', root: '/', mountPoint: '/mnt/with space', fsType: 'xfs', source: '/dev/vdb', superOptions: 'rw' });
  });
  it('finds the longest mount point prefix, the top of a stack, and respects component boundaries', () => {
    assert.equal(mountOf(mounts, '/etc/passwd')?.fsType, 'ext4');
    assert.equal(mountOf(mounts, '/mnt/nfs/x')?.fsType, 'nfs4');
    assert.equal(mountOf(mounts, '/mnt/nfs/inner/y')?.device, '0:48');
    assert.equal(mountOf(mounts, '/mnt/nfsx')?.fsType, 'ext4');
    assert.equal(mountOf(mounts, '/var/lib/kubelet/pods/p1/volumes/secret/token')?.mountId, 45);
    assert.equal(mountOf(mounts, '/mnt/with space/a')?.fsType, 'xfs');
  });
});

describe('idmapRequirement', () => {
  it('parses kernel releases', () => {
    assert.deepEqual(kernelVersion('6.18.44-fc-v782'), [6, 18]);
    assert.deepEqual(kernelVersion('5.10.0-28-amd64'), [5, 10]);
  });
  it('names the floor and the fix on an old kernel', () => {
    assert.match(idmapRequirement('tmpfs', '6.1.0-18-amd64'),
      /tmpfs supports idmapped mounts from Linux 6\.3 \(kubelet secret.*\), this kernel is 6\.1\.0-18-amd64: upgrade the kernel to 6\.3/);
    assert.match(idmapRequirement('btrfs', '5.10.0'), /from Linux 5\.15/);
  });
  it('says when no kernel helps', () => {
    assert.match(idmapRequirement('nfs4', '6.18.0'), /NFS does not support idmapped mounts/);
    assert.match(idmapRequirement('overlay', '6.18.0'), /an overlay mount cannot itself be idmapped/);
    assert.match(idmapRequirement('fuse.sshfs', '6.18.0'), /from Linux 6\.12 \(and the FUSE daemon must opt in/);
    assert.match(idmapRequirement('weirdfs', '6.18.0'), /weirdfs is not known to support idmapped mounts/);
  });
});

describe('createIdmapSupport', () => {
  const make = (probe: (p: string) => Promise<{ ok: true } | SyscallFailure>, kernelRelease = '6.1.0-18-amd64') =>
    createIdmapSupport({ probe, mountInfo: () => MOUNTINFO, kernelRelease, resolve: async (p) => p });

  it('fails a volume with a message naming volume, filesystem, kernel and fix', async () => {
    const s = make(async () => EINVAL);
    await assert.rejects(
      s.checkVolume({ containerPath: '/var/run/secrets/kubernetes.io/serviceaccount', hostPath: '/var/lib/kubelet/pods/p1/volumes/secret' }),
      (err: unknown) => {
        assert.ok(err instanceof CriusError);
        assert.equal(err.code, 'FAILED_PRECONDITION');
        assert.match(err.message, /^volume \/var\/run\/secrets\/kubernetes\.io\/serviceaccount \(host path \/var\/lib\/kubelet\/pods\/p1\/volumes\/secret\)/);
        assert.match(err.message, /its filesystem tmpfs \(tmpfs mounted at \/var\/lib\/kubelet\/pods\/p1\/volumes\/secret\) refused mount_setattr with EINVAL on Linux 6\.1\.0-18-amd64/);
        assert.match(err.message, /upgrade the kernel to 6\.3 or newer/);
        return true;
      });
  });

  it('NFS: says it cannot be idmapped at all', async () => {
    const s = make(async () => EINVAL, '6.18.0');
    await assert.rejects(s.checkVolume({ containerPath: '/data', hostPath: '/mnt/nfs/vol' }),
      /volume \/data \(host path \/mnt\/nfs\/vol\).*nfs4 \(server:\/export mounted at \/mnt\/nfs\).*NFS does not support idmapped mounts/);
  });

  it('passes when the probe succeeds', async () => {
    const s = make(async () => ({ ok: true }));
    await s.checkVolume({ containerPath: '/data', hostPath: '/srv/data' });
  });

  it('caches per filesystem type and device, sharing concurrent probes', async () => {
    const probed: string[] = [];
    const s = make(async (p) => { probed.push(p); return { ok: true }; });
    await Promise.all([s.probePath('/srv/a'), s.probePath('/srv/b'), s.probePath('/home/c')]);
    await s.probePath('/mnt/nfs/x');
    await s.probePath('/mnt/nfs/inner/y');
    assert.deepEqual(probed, ['/srv/a', '/mnt/nfs/x', '/mnt/nfs/inner/y']);
  });

  it('does not cache a probe that threw', async () => {
    let n = 0;
    const s = make(async () => { n++; if (n === 1) throw new Error('helper missing'); return { ok: true }; });
    await assert.rejects(s.probePath('/srv/a'), /helper missing/);
    assert.equal((await s.probePath('/srv/a')).ok, true);
  });

  it('a missing host path is NOT_FOUND', async () => {
    const s = createIdmapSupport({ probe: async () => ({ ok: true }), mountInfo: () => MOUNTINFO, resolve: async () => { throw new Error('ENOENT'); } });
    await assert.rejects(s.checkVolume({ containerPath: '/x', hostPath: '/nope' }), (err: unknown) =>
      err instanceof CriusError && err.code === 'NOT_FOUND' && /\/nope does not exist/.test(err.message));
  });
});
