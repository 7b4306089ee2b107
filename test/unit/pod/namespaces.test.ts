import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkSysctls, pinPodNamespaces, sysctlNamespace, sysctlPath } from '../../../src/pod/namespaces.js';
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

  it('pins with one unshare whose command sets hostname and sysctls from positional args', async () => {
    const calls: { file: string; args: readonly string[] }[] = [];
    const fake: Runner = async (file, args) => { calls.push({ file, args }); return { stdout: '', stderr: '', code: 0 }; };
    const dir = `/tmp/crius-unit-ns-${process.pid}`;
    const ns = await pinPodNamespaces({ dir, net: true, ipc: true, uts: true, hostname: 'h; rm -rf /', sysctls: { 'net.core.somaxconn': '1024' } }, fake);
    assert.deepEqual(ns, { net: `${dir}/net`, ipc: `${dir}/ipc`, uts: `${dir}/uts` });
    assert.equal(calls.length, 1);
    const a = calls[0]!.args;
    assert.equal(calls[0]!.file, '/usr/bin/unshare');
    assert.deepEqual(a.slice(0, 3), [`--net=${dir}/net`, `--ipc=${dir}/ipc`, `--uts=${dir}/uts`]);
    assert.deepEqual(a.slice(-4), ['crius-ns', 'h; rm -rf /', '/proc/sys/net/core/somaxconn', '1024'], 'values are arguments, never script text');
    const { rm } = await import('node:fs/promises');
    await rm(dir, { recursive: true, force: true });
  });
});
