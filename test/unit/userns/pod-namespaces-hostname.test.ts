// createPodNamespaces sets a plain hostname from inside the new namespaces (one spawn per pod) and leaves
// anything else to the caller (which sets it through nsenter).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { canSetHostnameInside, createPodNamespaces } from '../../../src/userns/userns-file.js';
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

test('createPodNamespaces asks crius-userns to set a plain hostname, and nothing without one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-pns-'));
  try {
    const calls: string[][] = [];
    const fake: Runner = async (file, args) => { calls.push([file, ...args]); return { stdout: '', stderr: '', code: 0 } as never; };
    const files = { user: join(dir, 'user'), net: join(dir, 'net'), uts: join(dir, 'uts'), ipc: join(dir, 'ipc') };
    await createPodNamespaces(files, map, fake, { hostname: 'web-0' });
    assert.match(calls[0]![0]!, /crius-userns$/);
    assert.deepEqual(calls[0]!.slice(1), ['--uid', '0:100000:65536', '--gid', '0:100000:65536', '--user', files.user,
      '--net', files.net, '--uts', files.uts, '--ipc', files.ipc, '--hostname', 'web-0']);
    await createPodNamespaces(files, map, fake);
    assert.equal(calls[1]!.at(-1), files.ipc);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
