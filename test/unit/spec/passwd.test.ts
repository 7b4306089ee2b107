import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findGroupByName, findUserById, findUserByName, groupsOfUser, parseGroup, parsePasswd } from '../../../src/spec/passwd.js';

test('parsePasswd reads valid lines and skips comments, NIS entries and garbage', () => {
  const users = parsePasswd('# comment\nroot:x:0:0:root:/root:/bin/sh\n+::::::\nbad line\nx:x:notanumber:0::/:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n\n');
  assert.deepEqual(users, [
    { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' },
    { name: 'app', uid: 1000, gid: 1001, home: '/home/app', shell: '/bin/sh' },
  ]);
  assert.equal(findUserByName(users, 'app')?.uid, 1000);
  assert.equal(findUserById(users, 0)?.name, 'root');
  assert.equal(findUserByName(users, 'nobody'), undefined);
});

test('parsePasswd tolerates CRLF and short lines without home/shell', () => {
  assert.deepEqual(parsePasswd('a:x:5:6\r\n'), [{ name: 'a', uid: 5, gid: 6, home: '', shell: '' }]);
});

test('parseGroup reads members and groupsOfUser finds memberships', () => {
  const groups = parseGroup('root:x:0:\nwheel:x:10:root, app\nvideo:x:44:app\nbroken:x:\n');
  assert.deepEqual(groups.map((g) => [g.name, g.gid, g.members]), [
    ['root', 0, []],
    ['wheel', 10, ['root', 'app']],
    ['video', 44, ['app']],
  ]);
  assert.deepEqual(groupsOfUser(groups, 'app'), [10, 44]);
  assert.equal(findGroupByName(groups, 'video')?.gid, 44);
});
