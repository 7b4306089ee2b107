// crictl stats, statsp and update against the real daemon. crictl is not part of the repo: point CRICTL
// at a binary (default: crictl on PATH, else /tmp/crictl); without one the test is skipped and says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { containerConfig, podConfig, removePod, runContainer, startCriNode, type CriNode } from '../../helpers/cri-fixture.js';
import { crictlPath } from '../../helpers/host-binaries.js';

const CRICTL = crictlPath();
const skip = existsSync(CRICTL) ? false : `no crictl at ${CRICTL} (set CRICTL)`;

let node: CriNode;

before(async () => {
  if (skip) return;
  node = await startCriNode({ tag: 'sc', subnet: 99 });
});

after(async () => {
  await node?.cleanup();
});

function crictl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const ep = `unix://${node.daemon.socket}`;
  const child = spawn(CRICTL, ['--runtime-endpoint', ep, '--image-endpoint', ep, '--timeout', '20s', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

test('crictl stats, statsp and update', { skip }, async () => {
  const ns = { linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } } };
  const pod = podConfig(node, ns);
  const { podId, containerId } = await runContainer(node, pod, containerConfig(node, 'busy', ['sh', '-c', 'while :; do :; done'], ns));
  try {
    const s = await crictl(['stats', '-o', 'json', '--id', containerId]);
    assert.equal(s.code, 0, s.stderr);
    const stats = JSON.parse(s.stdout) as { stats: { attributes: { id: string }; cpu: { usageCoreNanoSeconds: { value: string } }; memory: { workingSetBytes: { value: string } } }[] };
    assert.equal(stats.stats.length, 1);
    assert.equal(stats.stats[0]!.attributes.id, containerId);
    assert.ok(Number(stats.stats[0]!.cpu.usageCoreNanoSeconds.value) > 0);
    assert.ok(Number(stats.stats[0]!.memory.workingSetBytes.value) > 0);

    // The table: crictl samples twice (one second apart) and prints CPU % from usage_core_nano_seconds.
    const t = await crictl(['stats', '--id', containerId]);
    assert.equal(t.code, 0, t.stderr);
    const row = t.stdout.split('\n').find((l) => l.startsWith(containerId.slice(0, 13)));
    assert.ok(row, t.stdout);
    const cpuPct = Number(row.trim().split(/\s+/)[2]);
    assert.ok(cpuPct > 20, `a busy loop shows CPU %: ${row}`);

    const sp = await crictl(['statsp', '-o', 'json', '--id', podId]);
    assert.equal(sp.code, 0, sp.stderr);
    const ps = JSON.parse(sp.stdout) as { stats: { attributes: { id: string }; linux: { containers: unknown[]; network: { defaultInterface: { name: string } } } }[] };
    assert.equal(ps.stats[0]!.attributes.id, podId);
    assert.equal(ps.stats[0]!.linux.containers.length, 1);
    assert.equal(ps.stats[0]!.linux.network.defaultInterface.name, 'eth0');
    const spt = await crictl(['statsp', '--id', podId]);
    assert.equal(spt.code, 0, spt.stderr);
    assert.match(spt.stdout, new RegExp(pod['metadata'].name));

    const u = await crictl(['update', '--memory', String(96 * 1024 * 1024), '--cpu-quota', '50000', '--cpu-period', '100000', containerId]);
    assert.equal(u.code, 0, u.stderr);
    const info = await node.call<{ info: Record<string, string> }>('ContainerStatus', { container_id: containerId, verbose: true });
    const pid = JSON.parse(info.info['info']!).pid as number;
    const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
    const memPath = cg.find((l) => /:memory:/.test(l))!.split(':')[2]!;
    assert.equal(readFileSync(join('/sys/fs/cgroup/memory', memPath, 'memory.limit_in_bytes'), 'utf8').trim(), String(96 * 1024 * 1024));
    const cpuLine = cg.find((l) => /:(cpu|cpu,cpuacct|cpuacct,cpu):/.test(l))!;
    assert.equal(readFileSync(join('/sys/fs/cgroup/cpu', cpuLine.split(':')[2]!, 'cpu.cfs_quota_us'), 'utf8').trim(), '50000');
    const st = await crictl(['inspect', containerId]);
    assert.equal(st.code, 0, st.stderr);
    const status = JSON.parse(st.stdout) as { status: { resources: { linux: { memoryLimitInBytes: string; cpuQuota: string } } } };
    assert.equal(String(status.status.resources.linux.memoryLimitInBytes), String(96 * 1024 * 1024));
    assert.equal(String(status.status.resources.linux.cpuQuota), '50000');
  } finally {
    await removePod(node, podId);
  }
});
