// pinUsernsPodNamespaces sets a plain hostname from inside the new namespaces (one spawn per pod) and leaves
// anything else to the caller (which sets it through nsenter).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { canSetHostnameInside, createPodNamespaces, pinUsernsPodNamespaces } from '../../../src/pod/namespaces.js';
import type { Runner } from '../../../src/common/exec.js';

const map = { uid: { containerId: 0, hostId: 100000, length: 65536 }, gid: { containerId: 0, hostId: 100000, length: 65536 } };

test('canSetHostnameInside: plain RFC 1123 names with uid/gid 0 mapped only', () => {
  assert.equal(canSetHostnameInside('web-0', map), true);
  assert.equal(canSetHostnameInside('a.b.c', map), true);
  assert.equal(canSetHostnameInside('-rf', map), false);
  assert.equal(canSetHostnameInside('', map), false);
  assert.equal(canSetHostnameInside('x'.repeat(65), map), false);
  assert.equal(canSetHostnameInside('a b', map), false);
  assert.equal(canSetHostnameInside('web', { ...map, uid: { containerId: 1, hostId: 100000, length: 10 } }), false);
});

test('pinUsernsPodNamespaces asks crius-userns to set a plain hostname, and nothing without one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-pns-'));
  try {
    const calls: string[][] = [];
    const fake: Runner = async (file, args) => { calls.push([file, ...args]); return { stdout: '', stderr: '', code: 0 } as never; };
    const files = { user: join(dir, 'user'), net: join(dir, 'net'), uts: join(dir, 'uts'), ipc: join(dir, 'ipc') };
    await pinUsernsPodNamespaces(files, map, fake, { hostname: 'web-0' });
    assert.match(calls[0]![0]!, /crius-userns$/);
    assert.deepEqual(calls[0]!.slice(1), ['--uid', '0:100000:65536', '--gid', '0:100000:65536', '--user', files.user,
      '--net', files.net, '--uts', files.uts, '--ipc', files.ipc, '--hostname', 'web-0']);
    await pinUsernsPodNamespaces(files, map, fake);
    assert.equal(calls[1]!.at(-1), files.ipc);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('createPodNamespaces: a userns pod gets all from crius-userns (hostname set inside, sysctls by nsenter); others from unshare', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-pns-'));
  try {
    const calls: string[][] = [];
    const fake: Runner = async (file, args) => { calls.push([file, ...args]); return { stdout: '', stderr: '', code: 0 } as never; };
    const base = { podId: 'p', hostNetwork: false, hostIpc: false, hostname: 'web-0', sysctls: { 'net.core.somaxconn': '1024' } };
    const u = await createPodNamespaces({ ...base, dir: join(dir, 'u'), userns: { kind: 'pod', ...map } }, fake);
    assert.deepEqual(u, { paths: { user: join(dir, 'u', 'user'), net: join(dir, 'u', 'net'), uts: join(dir, 'u', 'uts'), ipc: join(dir, 'u', 'ipc') }, netnsOwnedByUserns: true });
    assert.match(calls[0]![0]!, /crius-userns$/);
    assert.ok(calls[0]!.includes('--hostname'));
    assert.equal(calls[1]![0], '/usr/bin/nsenter');
    assert.ok(calls[1]!.includes('/proc/sys/net/core/somaxconn') && calls[1]![calls[1]!.indexOf('crius-ns') + 1] === '', 'the hostname is not set twice');
    calls.length = 0;
    const h = await createPodNamespaces({ ...base, dir: join(dir, 'h'), userns: { kind: 'host' } }, fake);
    assert.deepEqual(h.paths, { net: join(dir, 'h', 'net'), ipc: join(dir, 'h', 'ipc'), uts: join(dir, 'h', 'uts') });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]![0], '/usr/bin/unshare');
    await assert.rejects(createPodNamespaces({ ...base, dir: join(dir, 'bad'), userns: { kind: 'pod', ...map }, sysctls: { 'kernel.panic': '1' } }, fake), /not namespaced/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
