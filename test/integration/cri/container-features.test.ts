// What issue 4 asks of containers, checked over CRI: shared pod network, PID modes, users, read-only
// rootfs, capabilities, OOM, CRI logs with partial lines, log reopening, host ports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, renameSync, readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { containerConfig, logContent, podConfig, removePod, startCriNode, waitExited, type CriNode } from '../../helpers/cri-fixture.js';
import { waitFor } from '../../helpers/daemon.js';
import { freePort } from '../../helpers/registry.js';

let node: CriNode;

before(async () => {
  node = await startCriNode({ tag: 'cf', subnet: 94 });
  await node.image_call('PullImage', { image: { image: node.image } });
});

after(async () => {
  await node?.cleanup();
});

async function startPod(extra: Record<string, any> = {}): Promise<{ pod: Record<string, any>; podId: string }> {
  const pod = podConfig(node, extra);
  const { pod_sandbox_id: podId } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod });
  return { pod, podId };
}

async function start(pod: Record<string, any>, podId: string, name: string, cmd: string[], extra: Record<string, any> = {}): Promise<string> {
  const cfg = containerConfig(node, name, cmd, extra);
  cfg['linux'] = { ...(cfg['linux'] ?? {}), security_context: { namespace_options: pod['linux'].security_context.namespace_options, ...(extra['linux']?.security_context ?? {}) }, ...(extra['linux']?.resources ? { resources: extra['linux'].resources } : {}) };
  const { container_id: id } = await node.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: cfg, sandbox_config: pod });
  await node.call('StartContainer', { container_id: id });
  return id;
}

const logOf = (pod: Record<string, any>, name: string): string => logContent(join(pod['log_directory'], `${name}.log`));

test('two containers share the pod network: one serves, the other fetches on localhost', async () => {
  const { pod, podId } = await startPod({ linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } } });
  try {
    await start(pod, podId, 'web', ['sh', '-c', 'mkdir -p /www && echo served-by-web > /www/index.html && httpd -f -p 8080 -h /www']);
    const fetcher = await start(pod, podId, 'fetch', ['sh', '-c', 'for i in $(seq 50); do wget -q -O - http://127.0.0.1:8080/ && exit 0; sleep 0.1; done; exit 1']);
    const st = await waitExited(node, fetcher);
    assert.equal(st['exit_code'], 0, logOf(pod, 'fetch'));
    assert.match(logOf(pod, 'fetch'), /served-by-web/);
  } finally {
    await removePod(node, podId);
  }
});

test('PID modes: POD shares one namespace (pause is PID 1), CONTAINER isolates, NODE sees the host', async () => {
  for (const [mode, check] of [
    ['POD', (out: string) => assert.match(out, /pid1=pause/)],
    ['CONTAINER', (out: string) => assert.match(out, /pid1=sh/)],
    ['NODE', (out: string) => assert.ok(!/pid1=(pause|sh)$/m.test(out) && Number(/count=(\d+)/.exec(out)?.[1]) > 5, out)],
  ] as const) {
    const { pod, podId } = await startPod({ linux: { security_context: { namespace_options: { pid: mode } } } });
    try {
      const id = await start(pod, podId, 'p', ['sh', '-c', 'echo pid1=$(cat /proc/1/comm); echo count=$(ls -d /proc/[0-9]* | wc -l)']);
      await waitExited(node, id);
      check(logOf(pod, 'p'));
    } finally {
      await removePod(node, podId);
    }
  }
});

test('run_as_user/run_as_group, read-only rootfs and dropped capabilities are enforced', async () => {
  const { pod, podId } = await startPod({ linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } } });
  try {
    const u = await start(pod, podId, 'user', ['sh', '-c', 'echo ids=$(id -u):$(id -g)'], { linux: { security_context: { run_as_user: { value: '1000' }, run_as_group: { value: '3000' } } } });
    await waitExited(node, u);
    assert.match(logOf(pod, 'user'), /ids=1000:3000/);
    const ro = await start(pod, podId, 'ro', ['sh', '-c', 'touch /file 2>&1; echo rc=$?'], { linux: { security_context: { readonly_rootfs: true } } });
    await waitExited(node, ro);
    assert.match(logOf(pod, 'ro'), /Read-only file system/);
    assert.match(logOf(pod, 'ro'), /rc=1/);
    const cap = await start(pod, podId, 'cap', ['sh', '-c', 'chown 1000 /tmp 2>&1; echo rc=$?; grep CapEff /proc/self/status'], { linux: { security_context: { capabilities: { drop_capabilities: ['CHOWN'] } } } });
    await waitExited(node, cap);
    assert.match(logOf(pod, 'cap'), /rc=1/);
  } finally {
    await removePod(node, podId);
  }
});

test('a container over its memory limit is OOMKilled with exit code 137', async (t) => {
  const { pod, podId } = await startPod({ linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } } });
  try {
    // Fill a tmpfs-free buffer in the shell's memory: busybox head/tail keep what they read.
    const id = await start(pod, podId, 'oom', ['sh', '-c', 'tail /dev/zero'], { linux: { resources: { memory_limit_in_bytes: String(32 * 1024 * 1024) } } });
    const st = await waitExited(node, id, 60_000);
    if (st['exit_code'] !== 137) { t.diagnostic(`exit ${st['exit_code']} reason ${st['reason']}`); }
    assert.equal(st['exit_code'], 137);
    assert.equal(st['reason'], 'OOMKilled');
  } finally {
    await removePod(node, podId);
  }
});

test('logs are CRI format with partial lines; ReopenContainerLog makes a fresh file at once', async () => {
  const { pod, podId } = await startPod({ linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } } });
  try {
    const id = await start(pod, podId, 'log', ['sh', '-c', 'printf partial; sleep 0.3; echo " end"; echo err >&2; sleep 1000']);
    const path = join(pod['log_directory'], 'log.log');
    await waitFor(() => existsSync(path) && readFileSync(path, 'utf8').includes('stderr'), 10_000, 'log lines');
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    const rfc3339nano = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+(Z|[+-]\d{2}:\d{2})$/;
    for (const l of lines) assert.match(l.split(' ')[0]!, rfc3339nano);
    assert.match(lines[0]!, / stdout P partial$/);
    assert.ok(lines.some((l) => / stdout F  end$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => / stderr F err$/.test(l)));
    renameSync(path, `${path}.1`);
    await node.call('ReopenContainerLog', { container_id: id });
    assert.ok(existsSync(path), 'the new log file exists when ReopenContainerLog returns');
    await node.call('ExecSync', { container_id: id, cmd: ['sh', '-c', 'echo after-reopen > /proc/1/fd/1'], timeout: 10 });
    await waitFor(() => readFileSync(path, 'utf8').includes('after-reopen'), 5000, 'output in the reopened log');
  } finally {
    await removePod(node, podId);
  }
});

test('a hostPort on 127.0.0.1 reaches the pod through portmap', async () => {
  const port = await freePort();
  const { pod, podId } = await startPod({
    linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } },
    port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: port, host_ip: '127.0.0.1' }],
  });
  try {
    await start(pod, podId, 'web', ['sh', '-c', 'mkdir -p /www && echo via-hostport > /www/index.html && httpd -f -p 80 -h /www']);
    let body = '';
    await waitFor(async () => {
      try {
        body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
        return true;
      } catch {
        return false;
      }
    }, 10_000, `http://127.0.0.1:${port}/`);
    assert.equal(body.trim(), 'via-hostport');
  } finally {
    await removePod(node, podId);
  }
});

test('a Localhost seccomp profile file is loaded and enforced; a missing one is NotFound', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-seccomp-'));
  const profile = join(dir, 'block-chmod.json');
  writeFileSync(profile, JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['chmod', 'fchmod', 'fchmodat', 'fchmodat2'], action: 'SCMP_ACT_ERRNO' }],
  }));
  const { pod, podId } = await startPod({ linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } } });
  try {
    const id = await start(pod, podId, 'sc', ['sh', '-c', 'chmod 700 /tmp 2>&1; echo rc=$?'], { linux: { security_context: { seccomp: { profile_type: 'Localhost', localhost_ref: profile } } } });
    await waitExited(node, id);
    assert.match(logOf(pod, 'sc'), /Operation not permitted/);
    assert.match(logOf(pod, 'sc'), /rc=1/);
    await assert.rejects(start(pod, podId, 'sc2', ['true'], { linux: { security_context: { seccomp: { profile_type: 'Localhost', localhost_ref: join(dir, 'missing.json') } } } }),
      (e: { code: number; details: string }) => e.code === 5 && /missing\.json does not exist/.test(e.details));
    // A group without a user is refused, as containerd and CRI-O do.
    await assert.rejects(start(pod, podId, 'grp', ['true'], { linux: { security_context: { run_as_group: { value: '3000' } } } }),
      (e: { code: number; details: string }) => e.code === 3 && /run_as_group \(3000\) is set without run_as_user/.test(e.details));
  } finally {
    await removePod(node, podId);
    rmSync(dir, { recursive: true, force: true });
  }
});
