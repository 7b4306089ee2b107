// The real daemon on a temporary socket, called over gRPC like the kubelet does.
import { CRUN, RUNC } from '../../helpers/host-binaries.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { CRIUSD, CRIUS, runNode, startTestDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { oldRuncPath } from '../../helpers/old-runc.js';

interface Handler { name: string; features: { user_namespaces: boolean; recursive_read_only_mounts: boolean } }
interface Status { status: { conditions: { type: string; status: boolean; reason: string; message: string }[] }; runtime_handlers: Handler[]; info: Record<string, string> }

let d: TestDaemon;
let runc11: string | undefined;
let runc11Reason = '';
const scratch = mkdtempSync(join(tmpdir(), 'crius-dt-'));

before(async () => {
  try {
    runc11 = await oldRuncPath();
  } catch (err) {
    runc11Reason = (err as Error).message;
  }
  // A runtime whose `features` fails, and one that prints garbage: Status must name the cause.
  const failing = join(scratch, 'failing-runtime');
  writeFileSync(failing, '#!/bin/sh\n[ "$1" = --version ] && { echo "failing version 0.1"; exit 0; }\necho "unknown command $1" >&2; exit 1\n');
  chmodSync(failing, 0o755);
  const config = [
    'default_runtime = "crun"',
    '[runtimes.crun]', `path = "${CRUN}"`,
    '[runtimes.runc]', `path = "${RUNC}"`,
    ...(runc11 ? ['[runtimes.runc11]', `path = "${runc11}"`] : []),
    '[runtimes.failing]', `path = "${failing}"`,
    '[runtimes.missing]', 'path = "/nonexistent/runtime"',
  ].join('\n') + '\n';
  d = await startTestDaemon({ config });
});

after(async () => {
  await d?.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

test('Version reports crius and CRI v1', async () => {
  const v = await d.client.call<{ runtime_name: string; runtime_api_version: string; runtime_version: string }>('runtime', 'Version', {});
  assert.equal(v.runtime_name, 'crius');
  assert.equal(v.runtime_api_version, 'v1');
  assert.match(v.runtime_version, /^\d+\.\d+\.\d+/);
});

test('Status: crun and runc 1.3 support user namespaces; runc 1.1, a failing and a missing runtime do not', async (t) => {
  const s = await d.client.call<Status>('runtime', 'Status', { verbose: true });
  const by = new Map(s.runtime_handlers.map((h) => [h.name, h.features]));
  assert.deepEqual(by.get(''), { user_namespaces: true, recursive_read_only_mounts: true });
  assert.deepEqual(by.get('crun'), { user_namespaces: true, recursive_read_only_mounts: true });
  assert.deepEqual(by.get('runc'), { user_namespaces: true, recursive_read_only_mounts: true });
  assert.equal(by.get('failing')?.user_namespaces, false);
  assert.equal(by.get('missing')?.user_namespaces, false);
  const cfg = JSON.parse(s.info['config']!) as { rootDir: string; stateDir: string; runtimeHandlers: { name: string; reason: string | null; version: string | null; userNamespacesUnsupported: string | null }[] };
  assert.equal(cfg.rootDir, d.root);
  assert.equal(cfg.stateDir, d.state);
  const info = new Map(cfg.runtimeHandlers.map((h) => [h.name, h]));
  assert.match(info.get('crun')!.version!, /crun version 1\.(9|[1-9]\d)/);
  assert.match(info.get('runc')!.version!, /runc version 1\.[2-9]/);
  assert.match(info.get('failing')!.reason!, /features` failed \(unknown command features\)/);
  assert.match(info.get('missing')!.reason!, /runtime binary \/nonexistent\/runtime does not exist/);
  const ready = s.status.conditions.find((c) => c.type === 'RuntimeReady')!;
  assert.equal(ready.status, true);
  assert.ok(s.status.conditions.some((c) => c.type === 'NetworkReady'));
  if (!runc11) { t.skip(`runc 1.1 not available: ${runc11Reason}`); return; }
  // runc 1.1 already knows `rro` (mount_setattr), so only user_namespaces differs.
  assert.equal(by.get('runc11')?.user_namespaces, false);
  assert.match(info.get('runc11')!.userNamespacesUnsupported!, /no `linux\.mountExtensions\.idmap` entry/);
});

test('RuntimeConfig reports the cgroupfs driver', async () => {
  const r = await d.client.call<{ linux: { cgroup_driver: string } }>('runtime', 'RuntimeConfig', {});
  assert.equal(r.linux.cgroup_driver, 'CGROUPFS');
});

test('UpdateRuntimeConfig takes the kubelet\'s pod CIDR (verbose Status shows it); a malformed one is INVALID_ARGUMENT', async () => {
  await d.client.call('runtime', 'UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: '10.244.7.0/24' } } });
  const s = await d.client.call<{ info: Record<string, string> }>('runtime', 'Status', { verbose: true });
  assert.deepEqual((JSON.parse(s.info['config']!) as { podCIDRs: string[] }).podCIDRs, ['10.244.7.0/24']);
  await assert.rejects(d.client.call('runtime', 'UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: '10.244.7.0' } } }),
    (err: { code: number; details: string }) => err.code === 3 && /pod_cidr/.test(err.details));
});

test('an RPC not built yet answers UNIMPLEMENTED naming it', async () => {
  await assert.rejects(d.client.call('runtime', 'CheckpointContainer', { container_id: 'x' }), (err: { code: number; details: string }) => {
    assert.equal(err.code, 12);
    assert.match(err.details, /CheckpointContainer is not implemented/);
    return true;
  });
});

test('the socket is mode 0660', () => {
  assert.equal(statSync(d.socket).mode & 0o777, 0o660);
});

test('a second daemon on the same socket is refused with a clear error', async () => {
  const r = await runNode(CRIUSD, ['--socket', d.socket, '--root', join(scratch, 'r2'), '--state', join(scratch, 's2'), '--config', d.configPath]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /another daemon is already serving .*crius\.sock/);
});

test('the CLI talks to the daemon', async () => {
  const r = await runNode(CRIUS, ['--socket', d.socket, 'info']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /RuntimeReady\s+true/);
  assert.match(r.stdout, /crun\s+true/);
  const v = await runNode(CRIUS, ['version'], { ...process.env, CRIUS_SOCKET: d.socket });
  assert.match(v.stdout, /runtime:\s+crius/);
});

test('malformed config, unknown keys and bad flags each give a one-line error and exit 2', async () => {
  const bad = join(scratch, 'bad.toml');
  writeFileSync(bad, 'root_dir = "/x"\n[runtimes.crun]\npaht = "/usr/bin/crun"\n');
  const r = await runNode(CRIUSD, ['--config', bad, '--socket', join(scratch, 'b.sock')]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /bad\.toml:3: key "runtimes\.crun\.paht": unknown key/);
  writeFileSync(bad, 'root_dir = \n');
  const r2 = await runNode(CRIUSD, ['--config', bad]);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /bad\.toml:1: not valid TOML/);
  const r3 = await runNode(CRIUSD, ['--bogus']);
  assert.equal(r3.code, 2);
});

test('a stale socket left by a crashed daemon is replaced; SIGTERM exits 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-st-'));
  try {
    const sock = join(dir, 'crius.sock');
    // Leave a socket file nobody listens on: a process killed with SIGKILL while listening (it never unlinks).
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    await once(child, 'exit');
    assert.ok(statSync(sock).isSocket(), 'the stale socket file is there');
    const second = await startTestDaemon({ dir, config: '' });
    const v = await second.client.call<{ runtime_name: string }>('runtime', 'Version', {});
    assert.equal(v.runtime_name, 'crius');
    assert.equal(await second.stop(), 0);
    assert.match(second.logs(), /"msg":"stopped"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every RPC logs one JSON line with method, code and duration', () => {
  const lines = d.logs().split('\n').filter((l) => l.includes('"msg":"rpc"'));
  assert.ok(lines.length >= 3);
  for (const l of lines) {
    const o = JSON.parse(l) as { method: string; code: string; duration_ms: number };
    assert.match(o.method, /^runtime\.v1\.(Runtime|Image)Service\//);
    assert.equal(typeof o.duration_ms, 'number');
    assert.ok(o.code);
  }
});
