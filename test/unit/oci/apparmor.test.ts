import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_APPARMOR_PROFILE, defaultProfileText, parseProfiles } from '../../../src/oci/apparmor.js';

test('loaded profiles parse from securityfs text', () => {
  const p = parseProfiles('crius-default (enforce)\n/usr/bin/man (complain)\nlsb_release (enforce)\nweird name (x) (enforce)\n');
  assert.deepEqual([...p], ['crius-default', '/usr/bin/man', 'lsb_release', 'weird name (x)']);
  assert.equal(parseProfiles('').size, 0);
});

test('the default profile is named crius-default and denies mount and the kernel\'s knobs', () => {
  const t = defaultProfileText();
  assert.equal(DEFAULT_APPARMOR_PROFILE, 'crius-default');
  assert.match(t, /^profile crius-default flags=\(attach_disconnected,mediate_deleted\) \{$/m);
  assert.match(t, /^\s+deny mount,$/m);
  assert.match(t, /^\s+deny \/proc\/sysrq-trigger rwklx,$/m);
  assert.match(t, /^\s+signal \(send,receive\) peer=crius-default,$/m);
  assert.match(defaultProfileText('other'), /peer=other,/);
  assert.equal(t.trimEnd().endsWith('}'), true);
});
