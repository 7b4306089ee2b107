// crius-oci-wrap hides a mount from the runtime without touching the host: the hidden mount stays on the
// host, and shared host mounts keep propagating both ways (a mount made inside shows up on the host).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../../src/common/exec.js';
import { mountCountAt } from '../../../src/common/mountinfo.js';
import { OCI_WRAP_BIN } from '../../helpers/oci-fixture.js';

const MOUNT = '/usr/bin/mount';
const UMOUNT = '/usr/bin/umount';

function mountedHere(p: string): boolean {
  return mountCountAt(p) > 0;
}

describe('crius-oci-wrap', { skip: process.getuid?.() !== 0 ? 'needs root' : !existsSync(OCI_WRAP_BIN) ? `${OCI_WRAP_BIN} missing` : false }, () => {
  it('hides the mount inside only, and a shared host mount still receives mounts made inside', async () => {
    const dir = await mkdtemp('/tmp/crius-wrap-');
    const parent = path.join(dir, 'cg');
    const hidden = path.join(parent, 'unified');
    const shared = path.join(dir, 'shared');
    const made: string[] = [];
    try {
      await mkdir(parent);
      await run(MOUNT, ['-t', 'tmpfs', 'crius-wrap-test', parent]);
      made.push(parent);
      await run(MOUNT, ['--make-shared', parent]);
      await mkdir(hidden);
      await run(MOUNT, ['-t', 'tmpfs', 'crius-wrap-test', hidden]);
      made.push(hidden);
      await mkdir(shared);
      await run(MOUNT, ['--bind', shared, shared]);
      made.push(shared);
      await run(MOUNT, ['--make-shared', shared]);
      const inside = await run(OCI_WRAP_BIN, ['--hide', hidden, '/bin/sh', '-c',
        `grep -c ' ${hidden} ' /proc/self/mountinfo || true; mkdir -p ${shared}/sub && ${MOUNT} -t tmpfs crius-wrap-test ${shared}/sub`]);
      assert.equal(inside.stdout.trim(), '0', 'hidden inside the wrapper');
      assert.equal(mountedHere(hidden), true, 'still mounted on the host');
      assert.equal(mountedHere(`${shared}/sub`), true, 'a mount made inside propagated to the shared host mount');
      made.push(`${shared}/sub`);
      const cg = await run(OCI_WRAP_BIN, ['--hide', '/sys/fs/cgroup/unified', '/bin/sh', '-c', 'grep -c " - cgroup2 " /proc/self/mountinfo || true']);
      assert.equal(cg.stdout.trim(), '0');
      const r = await run(OCI_WRAP_BIN, ['--hide', 'relative/path', '/bin/true'], { okCodes: [125] });
      assert.match(r.stderr, /absolute path/);
    } finally {
      for (const m of made.reverse()) await run(UMOUNT, ['-l', m], { okCodes: [0, 32] }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
    assert.equal((await readFile('/proc/self/mountinfo', 'utf8')).includes(dir), false);
  });
});
