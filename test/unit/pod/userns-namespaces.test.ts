// Every pod's namespaces come from one crius-podns call: a userns pod's user namespace with net, uts and
// ipc inside it, the hostname, sysctls and /dev/shm included; a pod without one the same minus --user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createPodNamespaces, pinUsernsPodNamespaces } from '../../../src/pod/namespaces.js';
import { CriusError } from '../../../src/common/errors.js';
import { ExecError, type Runner } from '../../../src/common/exec.js';

const map = { uid: { containerId: 0, hostId: 100000, length: 65536 }, gid: { containerId: 0, hostId: 100000, length: 65536 } };

test('pinUsernsPodNamespaces passes any hostname to crius-podns, and none without one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-pns-'));
  try {
    const calls: string[][] = [];
    const fake: Runner = async (file, args) => { calls.push([file, ...args]); return { stdout: '', stderr: '', code: 0 } as never; };
    const files = { user: join(dir, 'user'), net: join(dir, 'net'), uts: join(dir, 'uts'), ipc: join(dir, 'ipc') };
    await pinUsernsPodNamespaces(files, map, fake, { hostname: 'Not_RFC 1123' });
    assert.match(calls[0]![0]!, /crius-podns$/);
    assert.deepEqual(calls[0]!.slice(1), ['--uid', '0:100000:65536', '--gid', '0:100000:65536', '--user', files.user,
      '--net', files.net, '--uts', files.uts, '--ipc', files.ipc, '--hostname', 'Not_RFC 1123']);
    await pinUsernsPodNamespaces(files, map, fake);
    assert.equal(calls[1]!.at(-1), files.ipc);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('createPodNamespaces: one call per pod, with or without a user namespace', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-pns-'));
  try {
    const calls: string[][] = [];
    const fake: Runner = async (file, args) => { calls.push([file, ...args]); return { stdout: '', stderr: '', code: 0 } as never; };
    const base = { podId: 'p', hostNetwork: false, hostIpc: false, hostname: 'web-0', sysctls: { 'net.core.somaxconn': '1024' } };
    const shm = { dir: join(dir, 'u-shm'), sizeBytes: 1024, owner: { uid: 100000, gid: 100000 } };
    const u = await createPodNamespaces({ ...base, dir: join(dir, 'u'), userns: { kind: 'pod', ...map }, shm }, fake);
    assert.deepEqual(u, { paths: { user: join(dir, 'u', 'user'), net: join(dir, 'u', 'net'), uts: join(dir, 'u', 'uts'), ipc: join(dir, 'u', 'ipc') }, netnsOwnedByUserns: true });
    assert.equal(calls.length, 1);
    assert.match(calls[0]![0]!, /crius-podns$/);
    for (const a of ['--user', '--hostname', '--sysctl', '--shm']) assert.ok(calls[0]!.includes(a), a);
    calls.length = 0;
    const h = await createPodNamespaces({ ...base, dir: join(dir, 'h'), userns: { kind: 'host' } }, fake);
    assert.deepEqual(h.paths, { net: join(dir, 'h', 'net'), ipc: join(dir, 'h', 'ipc'), uts: join(dir, 'h', 'uts') });
    assert.equal(calls.length, 1);
    assert.ok(!calls[0]!.includes('--user') && calls[0]!.includes('--hostname'));
    calls.length = 0;
    const hn = await createPodNamespaces({ ...base, sysctls: {}, hostNetwork: true, dir: join(dir, 'hn'), userns: { kind: 'host' } }, fake);
    assert.deepEqual(hn.paths, { ipc: join(dir, 'hn', 'ipc') }, 'host network: only ipc, no hostname');
    assert.ok(!calls[0]!.includes('--hostname'));
    await assert.rejects(createPodNamespaces({ ...base, dir: join(dir, 'bad'), userns: { kind: 'pod', ...map }, sysctls: { 'kernel.panic': '1' } }, fake), /not namespaced/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a sysctl the kernel refuses is the pod\'s error (INVALID_ARGUMENT) and nothing stays pinned', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-pns-'));
  try {
    const fake: Runner = async (file) => {
      if (file.endsWith('crius-podns')) {
        throw new ExecError({ command: file, code: 1, signal: null, stdout: '', stderr: 'crius-podns: cannot set /proc/sys/net/core/nope: No such file or directory\ncrius-podns: the namespaces were not set up\n', timedOut: false, notFound: false, reason: 'exit status 1' });
      }
      return { stdout: '', stderr: '', code: 0 } as never;
    };
    await assert.rejects(createPodNamespaces({ podId: 'p', hostNetwork: false, hostIpc: false, hostname: 'h', sysctls: { 'net.core.nope': '1' }, dir: join(dir, 'x'), userns: { kind: 'host' } }, fake),
      (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT' && /cannot set \/proc\/sys\/net\/core\/nope: No such file/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
