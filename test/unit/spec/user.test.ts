import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import { defaultSpec } from '../../../src/spec/defaults.js';
import type { LinuxContainerSecurityContext } from '../../../src/spec/types.js';
import { withUser } from '../../../src/spec/user.js';
import { ctxOf, GROUP, PASSWD } from '../../helpers/spec-context.js';

function user(sc: LinuxContainerSecurityContext, imageUser?: string, files = true) {
  const s = defaultSpec();
  const image = imageUser === undefined ? {} : { User: imageUser };
  withUser(s, ctxOf({ container: { metadata: { name: 'web' }, linux: { security_context: sc } }, image, passwd: files ? PASSWD : undefined, group: files ? GROUP : undefined }));
  return { ...s.process!.user, home: s.process!.env!.find((e) => e.startsWith('HOME=')) };
}

const isCode = (code: string, re: RegExp) => (e: unknown) => e instanceof CriusError && e.code === code && re.test(e.message);

test('image User forms: "", name, uid, uid:gid, name:group, uid:group', () => {
  assert.deepEqual(user({}, ''), { uid: 0, gid: 0, additionalGids: [0, 10], home: 'HOME=/root' });
  assert.deepEqual(user({}, 'app'), { uid: 1000, gid: 1000, additionalGids: [1000, 10, 44], home: 'HOME=/home/app' });
  assert.deepEqual(user({}, '101'), { uid: 101, gid: 101, additionalGids: [101, 50], home: 'HOME=/var/cache/nginx' });
  assert.deepEqual(user({}, '4242'), { uid: 4242, gid: 0, additionalGids: [0], home: 'HOME=/' }, 'unknown uid: gid 0, no groups');
  assert.deepEqual(user({}, '4242:77'), { uid: 4242, gid: 77, additionalGids: [77], home: 'HOME=/' });
  assert.deepEqual(user({}, 'app:video'), { uid: 1000, gid: 44, additionalGids: [44, 10], home: 'HOME=/home/app' });
  assert.deepEqual(user({}, '1000:staff'), { uid: 1000, gid: 50, additionalGids: [50, 10, 44], home: 'HOME=/home/app' });
});

test('unknown names are NotFound errors naming the user or group and the container', () => {
  assert.throws(() => user({}, 'ghost'), isCode('NOT_FOUND', /user "ghost" \(image User "ghost"\).*not in the image's \/etc\/passwd.*"web"|"web".*user "ghost"/));
  assert.throws(() => user({}, 'app:ghosts'), isCode('NOT_FOUND', /group "ghosts"/));
  assert.throws(() => user({}, 'app', false), isCode('NOT_FOUND', /the image has no \/etc\/passwd/));
  assert.throws(() => user({ run_as_username: 'nobody2' }), isCode('NOT_FOUND', /user "nobody2" \(run_as_username\)/));
});

test('CRI run_as_user / run_as_group / run_as_username override the image', () => {
  assert.deepEqual(user({ run_as_user: { value: '1000' } }, 'nginx'), { uid: 1000, gid: 1000, additionalGids: [1000, 10, 44], home: 'HOME=/home/app' });
  assert.deepEqual(user({ run_as_user: { value: 5000 }, run_as_group: { value: '6000' } }, 'nginx'), { uid: 5000, gid: 6000, additionalGids: [6000], home: 'HOME=/' });
  assert.deepEqual(user({ run_as_username: 'nginx' }), { uid: 101, gid: 101, additionalGids: [101, 50], home: 'HOME=/var/cache/nginx' });
  // A group without a CRI user is refused (containerd, CRI-O; critest "RunAsGroup is set without RunAsUser").
  assert.throws(() => user({ run_as_group: { value: 7 } }, 'app'), /run_as_group \(7\) is set without run_as_user or run_as_username/);
  assert.deepEqual(user({ run_as_user: { value: 0 } }, 'app'), { uid: 0, gid: 0, additionalGids: [0, 10], home: 'HOME=/root' }, 'uid 0 is a real value, not unset');
});

test('run_as_user and run_as_username together are InvalidArgument', () => {
  assert.throws(() => user({ run_as_user: { value: 1 }, run_as_username: 'app' }), isCode('INVALID_ARGUMENT', /mutually exclusive/));
});

test('out-of-range IDs are InvalidArgument', () => {
  assert.throws(() => user({ run_as_user: { value: -1 } }), isCode('INVALID_ARGUMENT', /run_as_user -1 is out of range/));
  assert.throws(() => user({}, '4294967296'), isCode('INVALID_ARGUMENT', /out of range/));
});

test('supplemental groups: image groups (Merge) + CRI groups, deduplicated; Strict drops image groups', () => {
  assert.deepEqual(user({ supplemental_groups: ['44', 2000, 10] }, 'app').additionalGids, [1000, 10, 44, 2000]);
  assert.deepEqual(user({ supplemental_groups: [2000], supplemental_groups_policy: 'Strict' }, 'app').additionalGids, [1000, 2000]);
});

test('HOME from the environment is kept', () => {
  const s = defaultSpec();
  s.process!.env = ['HOME=/custom'];
  withUser(s, ctxOf({ image: { User: 'app' }, passwd: PASSWD, group: GROUP }));
  assert.deepEqual(s.process!.env, ['HOME=/custom']);
});
