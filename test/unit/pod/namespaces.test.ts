import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkSysctls, pinPodNamespaces, podnsArgs, sysctlNamespace, sysctlPath } from '../../../src/pod/namespaces.js';
import { errorCode } from '../../../src/common/errors.js';
import type { Runner } from '../../../src/common/exec.js';

describe('pod namespaces (pure parts)', () => {
  it('knows which namespace a sysctl follows', () => {
    assert.equal(sysctlNamespace('net.ipv4.ip_forward'), 'net');
    assert.equal(sysctlNamespace('net/ipv4/conf/eth0.100/rp_filter'), 'net');
    assert.equal(sysctlNamespace('kernel.shm_rmid_forced'), 'ipc');
    assert.equal(sysctlNamespace('kernel.sem'), 'ipc');
    assert.equal(sysctlNamespace('fs.mqueue.msg_max'), 'ipc');
    assert.equal(sysctlNamespace('kernel.panic'), undefined);
    assert.equal(sysctlNamespace('vm.swappiness'), undefined);
  });

  it('maps keys to /proc/sys paths (slash form keeps dots) and rejects traversal', () => {
    assert.equal(sysctlPath('net.ipv4.ip_forward'), '/proc/sys/net/ipv4/ip_forward');
    assert.equal(sysctlPath('net/ipv4/conf/eth0.100/rp_filter'), '/proc/sys/net/ipv4/conf/eth0.100/rp_filter');
    for (const bad of ['../../etc/x', 'net..x', 'net.ipv4 x', '']) {
      assert.throws(() => sysctlPath(bad), (e: unknown) => errorCode(e) === 'INVALID_ARGUMENT', bad);
    }
  });

  it('rejects sysctls for namespaces the pod shares with the host', () => {
    checkSysctls({ 'net.ipv4.ip_forward': '1', 'kernel.shm_rmid_forced': '1' }, { net: true, ipc: true, uts: true });
    assert.throws(() => checkSysctls({ 'net.ipv4.ip_forward': '1' }, { net: false, ipc: true, uts: false }), /hostNetwork/);
    assert.throws(() => checkSysctls({ 'kernel.msgmax': '1' }, { net: true, ipc: false, uts: true }), /hostIPC/);
    assert.throws(() => checkSysctls({ 'net.x': 'a\nb' }, { net: true, ipc: true, uts: true }), /newline/);
  });

  it('pins with one crius-podns call: hostname and sysctls as separate arguments, never script text', async () => {
    const calls: { file: string; args: readonly string[] }[] = [];
    const fake: Runner = async (file, args) => { calls.push({ file, args }); return { stdout: '', stderr: '', code: 0 }; };
    const dir = `/tmp/crius-unit-ns-${process.pid}`;
    const ns = await pinPodNamespaces({ dir, net: true, ipc: true, uts: true, hostname: 'h; rm -rf /', sysctls: { 'net.core.somaxconn': '1024' } }, fake);
    assert.deepEqual(ns, { net: `${dir}/net`, ipc: `${dir}/ipc`, uts: `${dir}/uts` });
    assert.equal(calls.length, 1);
    assert.match(calls[0]!.file, /native\/build\/crius-podns$/);
    assert.deepEqual(calls[0]!.args, ['--net', `${dir}/net`, '--uts', `${dir}/uts`, '--ipc', `${dir}/ipc`,
      '--hostname', 'h; rm -rf /', '--sysctl', '/proc/sys/net/core/somaxconn', '1024']);
    const { rm } = await import('node:fs/promises');
    await rm(dir, { recursive: true, force: true });
  });

  it('podnsArgs: the user namespace first, the /dev/shm tmpfs with its owner and size', () => {
    const map = { uid: { containerId: 0, hostId: 100000, length: 65536 }, gid: { containerId: 0, hostId: 200000, length: 65536 } };
    assert.deepEqual(podnsArgs({ user: '/d/user', net: '/d/net', uts: '/d/uts', ipc: '/d/ipc' }, {
      userns: map, hostname: 'web-0', sysctls: { 'fs.mqueue.msg_max': '50' }, shm: { dir: '/d/shm', sizeBytes: 65536, owner: { uid: 100000, gid: 200000 } },
    }), ['--uid', '0:100000:65536', '--gid', '0:200000:65536', '--user', '/d/user', '--net', '/d/net', '--uts', '/d/uts', '--ipc', '/d/ipc',
      '--hostname', 'web-0', '--sysctl', '/proc/sys/fs/mqueue/msg_max', '50', '--shm', '/d/shm', '--shm-options', 'mode=1777,size=65536,uid=100000,gid=200000']);
    assert.deepEqual(podnsArgs({ ipc: '/d/ipc' }, {}), ['--ipc', '/d/ipc']);
    assert.throws(() => podnsArgs({ net: '/d/net' }, { userns: map }), /needs a file/);
  });

  it('refuses a hostname without its own UTS namespace, and one with a newline, before running anything', async () => {
    const calls: string[] = [];
    const fake: Runner = async (file) => { calls.push(file); return { stdout: '', stderr: '', code: 0 }; };
    const dir = `/tmp/crius-unit-ns2-${process.pid}`;
    await assert.rejects(pinPodNamespaces({ dir, net: false, ipc: true, uts: false, hostname: 'x' }, fake), (e: unknown) => errorCode(e) === 'INVALID_ARGUMENT');
    await assert.rejects(pinPodNamespaces({ dir, net: false, ipc: false, uts: false, hostname: 'x' }, fake), (e: unknown) => errorCode(e) === 'INVALID_ARGUMENT', 'also with nothing to pin');
    await assert.rejects(pinPodNamespaces({ dir, net: true, ipc: true, uts: true, hostname: 'a\nb' }, fake), (e: unknown) => errorCode(e) === 'INVALID_ARGUMENT');
    assert.deepEqual(calls, []);
    const { rm } = await import('node:fs/promises');
    await rm(dir, { recursive: true, force: true });
  });
});
