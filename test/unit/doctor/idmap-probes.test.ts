// runIdmapProbes with a runner that fails every command: each probe becomes a "could not probe" fact
// (never a throw), and the throwaway dir is removed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecError, type Runner } from '../../../src/common/exec.js';
import { runIdmapProbes } from '../../../src/doctor/idmap-probes.js';

describe('runIdmapProbes when nothing works', () => {
  it('reports each probe as an error and leaves no temp dir', async () => {
    const root = await mkdtemp(join(tmpdir(), 'crius-doctor-unit-'));
    const calls: string[] = [];
    const failing: Runner = async (file, args) => {
      calls.push(`${file} ${args[0] ?? ''}`);
      throw new ExecError({ command: file, code: 1, signal: null, stdout: '', stderr: 'Operation not permitted', timedOut: false, notFound: false, reason: 'exit status 1' });
    };
    try {
      const r = await runIdmapProbes({ rootDir: root, runner: failing, helper: { bin: '/nonexistent/crius-idmap', runner: failing } });
      assert.equal(r.tmpfs.kind, 'error');
      assert.match(r.tmpfs.kind === 'error' ? r.tmpfs.error : '', /cannot mount a tmpfs/);
      assert.equal(r.rootDir.kind, 'error');
      assert.match(r.rootDir.kind === 'error' ? r.rootDir.error : '', /cannot pin a user namespace/);
      assert.equal(r.rootDir.path, root);
      assert.equal(r.overlay.kind, 'error');
      assert.equal(r.overlay.kind === 'error' && r.overlay.refused, false, 'a failed user namespace helper is not the kernel refusing idmap');
      assert.deepEqual(r.leftMounts, []);
      assert.ok(calls.some((c) => c.includes('crius-podns')), calls.join('\n'));
      assert.deepEqual(await readdir(root), [], 'the crius-doctor-* dir under the root dir is removed');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
