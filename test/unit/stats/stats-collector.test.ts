import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, mkdir, link, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StatsCollector } from '../../../src/stats/stats-collector.js';
import { dirUsage } from '../../../src/stats/dir-usage.js';
import type { CgroupUsage } from '../../../src/cgroup/reader.js';

test('collector: rate from the previous sample of the same target, network without lo', async () => {
  let now = 1_000_000_000n;
  let usage = 0n;
  const c = new StatsCollector({
    now: () => now,
    cgroups: { read: async (p): Promise<CgroupUsage | undefined> => (p === '/gone' ? undefined : { cpu: { usageNs: usage }, processCount: 3n }) },
    dirUsage: async () => ({ bytes: 4096, inodes: 2 }),
    netDev: async () => ({ ifaces: [{ name: 'lo', rxBytes: 1n, rxErrors: 0n, txBytes: 1n, txErrors: 0n }, { name: 'eth0', rxBytes: 10n, rxErrors: 0n, txBytes: 20n, txErrors: 0n }] }),
  });
  const t = { id: 'c1', cgroupPath: '/x', upperDir: '/u' };
  const a = await c.container(t);
  assert.equal(a.cpu?.nanoCores, undefined);
  assert.deepEqual(a.writable, { bytes: 4096, inodes: 2 });
  now += 2_000_000_000n;
  usage = 1_000_000_000n;
  const b = await c.container(t);
  assert.equal(b.cpu?.nanoCores, 500_000_000n);
  assert.equal(b.processCount, 3n);
  const gone = await c.container({ ...t, id: 'c2', cgroupPath: '/gone' });
  assert.equal(gone.cpu, undefined);
  const p = await c.pod({ id: 'p', cgroupPath: '/x', netns: { netnsPath: '/n', pids: [] } });
  assert.deepEqual(p.network?.interfaces.map((i) => i.name), ['eth0']);
  assert.equal(p.network?.default?.txBytes, 20n);
  const hostNet = await c.pod({ id: 'p2', cgroupPath: '/x' });
  assert.equal(hostNet.network, undefined);
});

test('dirUsage counts blocks and inodes, hard links once; absent dir is undefined', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'crius-du-'));
  try {
    await mkdir(path.join(dir, 'a'));
    await writeFile(path.join(dir, 'a', 'f'), Buffer.alloc(100_000, 1));
    await link(path.join(dir, 'a', 'f'), path.join(dir, 'g'));
    const u = await dirUsage(dir);
    assert.equal(u?.inodes, 3);
    assert.ok(u!.bytes >= 100_000 && u!.bytes < 200_000, `bytes ${u!.bytes}`);
    assert.equal(await dirUsage(path.join(dir, 'nope')), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
