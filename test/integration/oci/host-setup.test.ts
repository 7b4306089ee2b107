// What crius decides about this host at start-up, logged once; and pod cgroup removal in every hierarchy.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { createLogger } from '../../../src/common/logger.js';
import { detectOciHost } from '../../../src/oci/host-setup.js';
import { podCgroupParent, pruneCgroupBase, removePodCgroup } from '../../../src/cgroup/host.js';
import { cgroupDirs, parseProcCgroup } from '../../../src/cgroup/mode.js';
import { OCI_WRAP_BIN } from '../../helpers/oci-fixture.js';

describe('oci host setup', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  it('detects the cgroup mode, the wrapper decision, our cgroup base and the oom floor, and logs it once', async () => {
    const lines: string[] = [];
    const host = await detectOciHost(createLogger('info', (l) => lines.push(l)), OCI_WRAP_BIN);
    const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
    const hasV1 = / - cgroup /.test(mountinfo);
    const hasV2 = / - cgroup2 /.test(mountinfo);
    assert.equal(host.layout.mode, hasV1 ? (hasV2 ? 'hybrid' : 'v1') : 'v2');
    assert.equal(host.hideMounts.length > 0, host.layout.mode === 'hybrid');
    const own = parseProcCgroup(await readFile('/proc/self/cgroup', 'utf8'));
    const mine = host.layout.mode === 'v2' ? own.get('') : own.get('memory');
    assert.equal(host.cgroupBase, `${mine === '/' ? '' : mine}/crius`);
    assert.equal(host.oomScoreAdjFloor, Number((await readFile('/proc/self/oom_score_adj', 'utf8')).trim()));
    assert.equal(lines.length, 1);
    const logged = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    assert.equal(logged['msg'], 'oci host setup');
    assert.equal(logged['cgroupMode'], host.layout.mode);
  });

  it('removes a pod cgroup with container children in every hierarchy, idempotently', async () => {
    const host = await detectOciHost(createLogger('error', () => {}), OCI_WRAP_BIN);
    const parent = podCgroupParent(host, `rmtest${process.pid}`, '/kubepods/besteffort');
    const dirs = cgroupDirs(host.layout, `${parent}/ctr1`, false);
    for (const d of dirs) await mkdir(d, { recursive: true });
    const { left } = await removePodCgroup(host, parent);
    assert.deepEqual(left, []);
    for (const d of dirs) await assert.rejects(stat(d));
    for (const d of cgroupDirs(host.layout, `${host.cgroupBase}/kubepods`, false)) await assert.rejects(stat(d), `${d} pruned`);
    assert.deepEqual((await removePodCgroup(host, parent)).left, []);
    // Other sessions' pods may live under the same base: prune only proves it never removes what is busy.
    await pruneCgroupBase(host);
    const own = parseProcCgroup(await readFile('/proc/self/cgroup', 'utf8')).get(host.layout.mode === 'v2' ? '' : 'memory') ?? '/';
    const ownRoot = host.layout.mode === 'v2' ? host.layout.unifiedMount ?? '/sys/fs/cgroup' : host.layout.v1Mounts.find((m) => /memory/.test(m)) ?? '';
    await stat(`${ownRoot}${own === '/' ? '' : own}`);
  });
});
