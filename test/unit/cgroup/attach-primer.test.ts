// The attach primer writes the daemon's pid into the cgroup it is already in: which file that is on each
// layout, and that priming never throws and runs one write at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createAttachPrimer, ownCgroupProcsFile } from '../../../src/cgroup/attach-primer.js';

const HYBRID = '9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n1:cpu,cpuacct:/x\n0::/\n';

test('ownCgroupProcsFile: the cgroup2 entry where mounted, else a v1 hierarchy named after a listed controller', () => {
  assert.equal(ownCgroupProcsFile({ mode: 'hybrid', v1Mounts: ['/sys/fs/cgroup/pids'], unifiedMount: '/sys/fs/cgroup/unified' }, HYBRID), '/sys/fs/cgroup/unified/cgroup.procs');
  assert.equal(ownCgroupProcsFile({ mode: 'v2', v1Mounts: [], unifiedMount: '/sys/fs/cgroup' }, '0::/system.slice/crius.service/supervisor\n'),
    '/sys/fs/cgroup/system.slice/crius.service/supervisor/cgroup.procs');
  assert.equal(ownCgroupProcsFile({ mode: 'v1', v1Mounts: ['/sys/fs/cgroup/memory', '/sys/fs/cgroup/pids'] }, HYBRID), '/sys/fs/cgroup/memory/process_api/abc/cgroup.procs');
  assert.equal(ownCgroupProcsFile({ mode: 'v1', v1Mounts: ['/sys/fs/cgroup/cpu,cpuacct'] }, HYBRID), '/sys/fs/cgroup/cpu,cpuacct/x/cgroup.procs');
  assert.equal(ownCgroupProcsFile({ mode: 'v1', v1Mounts: ['/sys/fs/cgroup/net_cls'] }, HYBRID), undefined);
});

test('prime() writes the pid into its own cgroup.procs, one write at a time, and swallows errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-primer-'));
  try {
    // A stand-in cgroup2 mount: the daemon's "/" cgroup is the dir itself.
    const unified = join(dir, 'unified');
    mkdirSync(unified);
    const primer = createAttachPrimer({ mode: 'v2', v1Mounts: [], unifiedMount: unified }, process.pid);
    const own = readFileSync(`/proc/${process.pid}/cgroup`, 'utf8');
    const rel = /^0::(.*)$/m.exec(own)?.[1] ?? '/';
    mkdirSync(join(unified, rel), { recursive: true });
    primer.prime();
    primer.prime(); // rides on the first
    await primer.settled();
    assert.equal(readFileSync(join(unified, rel, 'cgroup.procs'), 'utf8'), String(process.pid));
    writeFileSync(join(unified, rel, 'cgroup.procs'), '');
    // Nowhere to write: no throw, nothing written.
    const lost = createAttachPrimer({ mode: 'v2', v1Mounts: [], unifiedMount: join(dir, 'missing') }, process.pid);
    lost.prime();
    await lost.settled();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
