import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProcStatusUser, userFromSpec, userInContainer } from '../../../src/container/process-user.js';

const STATUS = 'Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t1001000\t1001000\t1001000\t1001000\nGid:\t1001000\t1001000\t1001000\t1001000\nFDSize:\t64\nGroups:\t1001000 1001234 1050000 \nNStgid:\t7\n';

test('parseProcStatusUser reads the real uid, gid and groups; a status without them is undefined', () => {
  assert.deepEqual(parseProcStatusUser(STATUS), { uid: 1001000, gid: 1001000, supplemental_groups: [1001000, 1001234, 1050000] });
  assert.deepEqual(parseProcStatusUser('Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n'), { uid: 0, gid: 0, supplemental_groups: [] });
  assert.equal(parseProcStatusUser('Name:\tx\n'), undefined);
});

test('userInContainer maps host IDs back through the pod mapping; the host user namespace is unchanged', () => {
  const host = parseProcStatusUser(STATUS)!;
  const range = { containerId: 0, hostId: 1_000_000, length: 65536 };
  assert.deepEqual(userInContainer(host, { kind: 'pod', uid: range, gid: range }), { uid: 1000, gid: 1000, supplemental_groups: [1000, 1234, 50000] });
  assert.deepEqual(userInContainer(host, { kind: 'host' }), host);
  assert.deepEqual(userInContainer({ uid: 5, gid: 5, supplemental_groups: [5] }, { kind: 'pod', uid: range, gid: range }), { uid: 65534, gid: 65534, supplemental_groups: [] });
});

test('userFromSpec sorts and dedups additionalGids as the kernel does', () => {
  assert.deepEqual(userFromSpec({ uid: 1000, gid: 1000, additionalGids: [1000, 50000, 1234, 1000] }), { uid: 1000, gid: 1000, supplemental_groups: [1000, 1234, 50000] });
  assert.deepEqual(userFromSpec(undefined), { uid: 0, gid: 0, supplemental_groups: [] });
});
