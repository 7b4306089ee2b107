// Pod namespaces pinned at files without any process: hostname and sysctls inside, containers joining
// them (two containers sharing one netns), and PID mode POD through the crius-pause infra container,
// with crun and runc.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorCode } from '../../../src/common/errors.js';
import { run } from '../../../src/common/exec.js';
import { pinPodNamespaces, removePinnedNamespaces } from '../../../src/pod/namespaces.js';
import { preparePauseRootfs, pidNamespaceOf, PAUSE_IN_ROOTFS } from '../../../src/pod/infra-rootfs.js';
import { createOciFixture, HANDLERS, ociUnavailable, PAUSE_BIN, type OciFixture } from '../../helpers/oci-fixture.js';

const NSENTER = '/usr/bin/nsenter';

async function nsInode(file: string): Promise<string> {
  return String((await stat(file)).ino);
}

describe('pinned pod namespaces', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  let dir: string;
  before(async () => { dir = await mkdtemp('/tmp/crius-ns-'); });
  after(async () => {
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(dir));
    await rm(dir, { recursive: true, force: true });
    assert.deepEqual(mounts, [], 'no pins left');
  });

  it('pins net/ipc/uts with hostname, sysctls and /dev/shm and no process; removal is idempotent', async () => {
    const shm = path.join(dir, 'a-shm');
    const ns = await pinPodNamespaces({
      dir: path.join(dir, 'a'), net: true, ipc: true, uts: true, hostname: 'pod-a',
      sysctls: { 'kernel.shm_rmid_forced': '1', 'fs.mqueue.msg_max': '100', 'net.ipv4.ping_group_range': '0 2147483647' },
      shm: { dir: shm, sizeBytes: 2 << 20, owner: { uid: 0, gid: 0 } },
    });
    assert.match((await run('/usr/bin/findmnt', ['-n', '-o', 'FSTYPE,OPTIONS', shm])).stdout, /^tmpfs .*nosuid,nodev,noexec.*size=2048k/);
    await run('/usr/bin/umount', [shm]);
    assert.deepEqual(Object.keys(ns).sort(), ['ipc', 'net', 'uts']);
    const hostNet = await readlink('/proc/self/ns/net');
    assert.notEqual(`net:[${await nsInode(ns.net ?? '')}]`, hostNet, 'a new netns, not the host one');
    const r = await run(NSENTER, [`--net=${ns.net}`, `--ipc=${ns.ipc}`, `--uts=${ns.uts}`, '/bin/sh', '-c',
      'hostname; cat /proc/sys/kernel/shm_rmid_forced /proc/sys/fs/mqueue/msg_max /proc/sys/net/ipv4/ping_group_range']);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' ')), ['pod-a', '1', '100', '0 2147483647']);
    const hostShm = (await readFile('/proc/sys/kernel/shm_rmid_forced', 'utf8')).trim();
    assert.equal(hostShm, '0', 'the host value is untouched');
    await removePinnedNamespaces(ns);
    for (const f of Object.values(ns)) assert.equal(existsSync(f), false);
    await removePinnedNamespaces(ns);
  });

  it('host network: no netns file, no uts; rejects non-namespaced or host-namespace sysctls', async () => {
    const ns = await pinPodNamespaces({ dir: path.join(dir, 'b'), net: false, ipc: true, uts: false });
    assert.deepEqual(Object.keys(ns), ['ipc']);
    await removePinnedNamespaces(ns);
    for (const [sysctls, net] of [[{ 'kernel.panic': '1' }, true], [{ 'net.ipv4.ip_forward': '1' }, false], [{ '../x': '1' }, true]] as const) {
      await assert.rejects(pinPodNamespaces({ dir: path.join(dir, 'c'), net, ipc: true, uts: net, sysctls }), (e: unknown) => errorCode(e) === 'INVALID_ARGUMENT');
    }
    assert.equal(existsSync(path.join(dir, 'c', 'ipc')), false, 'nothing pinned for a rejected request');
  });
});

for (const handler of HANDLERS) {
describe(`containers in pinned pod namespaces (${handler.name})`, { skip: ociUnavailable(handler.path) ?? (existsSync(PAUSE_BIN) ? false : `${PAUSE_BIN} missing`) }, () => {
  let fx: OciFixture;
  before(async () => { fx = await createOciFixture(handler); });
  after(async () => {
    const leaks = await fx.cleanup();
    assert.deepEqual(leaks, []);
  });

  it('two containers share the pod netns (one serves, the other fetches over 127.0.0.1) and see the pod hostname', async () => {
    const ns = await pinPodNamespaces({ dir: path.join(fx.dir, 'ns'), net: true, ipc: true, uts: true, hostname: 'shared-pod' });
    try {
      assert.match((await run(NSENTER, [`--net=${ns.net}`, '/usr/sbin/ip', '-o', 'link', 'show', 'lo'])).stdout, /[<,]UP[,>]/, 'lo came up with the netns');
      const join = { net: ns.net ?? '', ipc: ns.ipc ?? '', uts: ns.uts ?? '' };
      const server = await fx.create({ args: ['/bin/sh', '-c', 'echo served-by-$(hostname) > /var/www/index.html; exec httpd -f -p 8080 -h /var/www'], join });
      await fx.runtime.start(server.id);
      const client = await fx.create({
        args: ['/bin/sh', '-c', 'for i in $(seq 50); do wget -q -O - http://127.0.0.1:8080/ && exit 0; sleep 0.1; done; exit 7'],
        join,
      });
      await fx.runtime.start(client.id);
      const e = await fx.waitExit(client);
      assert.equal(e.exitCode, 0);
      assert.match(await readFile(client.logPath, 'utf8'), / stdout F served-by-shared-pod$/m);
      await fx.runtime.kill(server.id, 'KILL');
      await fx.waitExit(server);
      await fx.runtime.delete(server.id);
      await fx.runtime.delete(client.id);
    } finally {
      await removePinnedNamespaces(ns);
    }
  });

  it('PID mode POD: containers join the crius-pause infra PID namespace; pause exits 0 on SIGTERM', async () => {
    const infra = await fx.create({ args: [PAUSE_IN_ROOTFS] }, { rootfs: async (rootfs) => { await preparePauseRootfs(path.dirname(rootfs), PAUSE_BIN); } });
    await fx.runtime.start(infra.id);
    const pidns = pidNamespaceOf(infra.created.pid);
    const c = await fx.create({ args: ['/bin/sh', '-c', 'ps -o pid,args'], join: { pid: pidns } });
    await fx.runtime.start(c.id);
    assert.equal((await fx.waitExit(c)).exitCode, 0);
    const log = await readFile(c.logPath, 'utf8');
    assert.match(log, /stdout F\s+1 \/pause$/m, 'PID 1 of the shared namespace is the pause process');
    await fx.runtime.delete(c.id);
    await fx.runtime.kill(infra.id, 'SIGTERM');
    assert.equal((await fx.waitExit(infra)).exitCode, 0);
    await fx.runtime.delete(infra.id);
  });
});
}
