// bin/criusd.node-flags is the one list of the daemon's Node flags; bin/criusd.js's first line repeats it
// for running the file directly (a shebang cannot read a file), so the two must not drift apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { criusdEntry, daemonNodeFlags } from '../../../src/common/install-root.js';

test('bin/criusd.js\'s first line runs node with exactly the flags of bin/criusd.node-flags', () => {
  const flags = daemonNodeFlags();
  assert.ok(flags.length > 0);
  for (const f of flags) assert.match(f, /^--[a-z0-9-]+(=\S+)?$/, `one flag per line: ${f}`);
  const shebang = readFileSync(criusdEntry(), 'utf8').split('\n')[0];
  assert.equal(shebang, `#!/usr/bin/env -S node ${flags.join(' ')}`);
});
