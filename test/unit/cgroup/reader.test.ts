// The reader over fake cgroup trees in a temp dir: v1 (separate cpuacct/memory/pids hierarchies, as on
// this host) and v2 (one unified tree), and a cgroup that does not exist.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCgroupReader } from '../../../src/cgroup/reader.js';

const root = mkdtempSync(path.join(tmpdir(), 'crius-cgr-'));
after(() => rmSync(root, { recursive: true, force: true }));

function files(dir: string, f: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [k, v] of Object.entries(f)) writeFileSync(path.join(dir, k), v);
}

test('v1: cpuacct, memory and pids from their own hierarchies', async () => {
  const cg = '/own/crius/pod/ctr';
  files(path.join(root, 'v1/cpu,cpuacct', cg), { 'cpuacct.usage': '5000000000\n' });
  files(path.join(root, 'v1/memory', cg), { 'memory.usage_in_bytes': '3000\n', 'memory.limit_in_bytes': '9223372036854771712\n', 'memory.stat': 'total_inactive_file 1000\ntotal_rss 1500\ntotal_pgfault 9\ntotal_pgmajfault 1\n' });
  files(path.join(root, 'v1/pids', cg), { 'pids.current': '4\n' });
  const r = createCgroupReader({ mode: 'hybrid', v1Mounts: ['cpu,cpuacct', 'memory', 'pids'].map((m) => path.join(root, 'v1', m)), unifiedMount: path.join(root, 'unified') });
  const u = await r.read(cg);
  assert.equal(u?.cpu?.usageNs, 5_000_000_000n);
  assert.equal(u?.memory?.workingSetBytes, 2000n);
  assert.equal(u?.memory?.rssBytes, 1500n);
  assert.equal(u?.memory?.limitBytes, undefined);
  assert.equal(u?.processCount, 4n);
  assert.equal(await r.read('/own/crius/pod/gone'), undefined);
});

test('v2: one unified directory', async () => {
  const cg = '/own/crius/pod/ctr';
  files(path.join(root, 'v2', cg), {
    'cpu.stat': 'usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n', 'memory.current': '8192\n', 'memory.max': '16384\n',
    'memory.stat': 'anon 4096\ninactive_file 1024\npgfault 3\npgmajfault 0\n', 'pids.current': '2\n',
  });
  const r = createCgroupReader({ mode: 'v2', v1Mounts: [], unifiedMount: path.join(root, 'v2') });
  const u = await r.read(cg);
  assert.equal(u?.cpu?.usageNs, 2_500_000n);
  assert.deepEqual(u?.memory, { usageBytes: 8192n, workingSetBytes: 7168n, rssBytes: 4096n, pageFaults: 3n, majorPageFaults: 0n, limitBytes: 16384n, availableBytes: 9216n });
  assert.equal(u?.processCount, 2n);
  assert.equal(await r.read('/nope'), undefined);
});
