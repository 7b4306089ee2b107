import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canSearch, describeBlock, firstBlockingDir, type DirFact } from '../../../src/userns/path-traversal.js';
import { checkStateDirTraversal } from '../../../src/doctor/host-checks.js';

const dir = (path: string, mode: number, uid = 0, gid = 0): DirFact => ({ path, mode: 0o40000 | mode, uid, gid });

test('search permission: other x for unrelated IDs, owner and group bits for the owner and group, root always', () => {
  assert.equal(canSearch(dir('/a', 0o711), 65536, 65536), true);
  assert.equal(canSearch(dir('/a', 0o700), 65536, 65536), false);
  assert.equal(canSearch(dir('/a', 0o700), 0, 0), true);
  assert.equal(canSearch(dir('/a', 0o710, 0, 65536), 65536, 65536), true);
  assert.equal(canSearch(dir('/a', 0o611, 65536, 0), 65536, 65536), false); // the owner class wins, as in the kernel
});

test('the first blocking directory is named with its mode and owner', () => {
  const chain = [dir('/', 0o755), dir('/tmp', 0o1777), dir('/tmp/x', 0o700), dir('/tmp/x/state', 0o700)];
  const b = firstBlockingDir(chain, 65536, 65536);
  assert.equal(b?.dir.path, '/tmp/x');
  assert.equal(describeBlock(b!), 'directory /tmp/x (mode 0700, owner 0:0) is not searchable by host uid 65536 / gid 65536');
  assert.equal(firstBlockingDir([dir('/', 0o755), dir('/run', 0o755), dir('/run/crius', 0o711)], 65536, 65536), null);
});

test('doctor: the state dir check fails (blocking user-namespaced pods) with the directory and the fix', () => {
  const bad = checkStateDirTraversal('/tmp/x/state', 'directory /tmp/x (mode 0700, owner 0:0) is not searchable by other users');
  assert.equal(bad.status, 'fail');
  assert.equal(bad.neededForUserns, true);
  assert.match(bad.detail, /\/tmp\/x \(mode 0700/);
  assert.match(bad.fix, /chmod o\+x/);
  assert.equal(checkStateDirTraversal('/run/crius', null).status, 'ok');
});
