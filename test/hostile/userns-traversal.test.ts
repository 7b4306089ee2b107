// crius's state dir below a 0700 directory (a root under `mktemp -d`, a locked-down parent): the host IDs of
// a user-namespaced pod cannot search it, so the runtime would fail deep inside ("make `rootfs` private:
// Permission denied", INTERNAL). crius names the directory instead: in the start-up log, in `crius doctor`
// and as FAILED_PRECONDITION from RunPodSandbox; with the directory made searchable (0711) the same pod runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { podConfig, podUserns, removePod, startCriNode, type CriNode } from '../helpers/cri-fixture.js';
import { CRIUS } from '../helpers/daemon.js';
import { run } from '../../src/common/exec.js';

let node: CriNode;
let locked = '';

before(async () => {
  // startCriNode's own dir is searchable (0711); the state and root dirs go one level further down, into a
  // directory only root may search.
  const base = `/tmp/crius-lock-${process.pid}`;
  locked = join(base, 'locked');
  mkdirSync(locked, { recursive: true, mode: 0o700 });
  chmodSync(base, 0o711);
  chmodSync(locked, 0o700);
  node = await startCriNode({ tag: 'hu', subnet: 119, daemonArgs: ['--root', join(locked, 'root'), '--state', join(locked, 'state')] });
});

after(async () => {
  await node?.cleanup();
  // Left for the leak check if a pod left a mount there; never rm -rf across a mount.
  if (locked && !readFileSync('/proc/self/mountinfo', 'utf8').includes(`${locked}/`)) rmSync(join(locked, '..'), { recursive: true, force: true });
});

test('a 0700 parent: named at start-up, in crius doctor, and as FAILED_PRECONDITION; 0711 lets the pod run', async () => {
  assert.match(node.daemon.logs(), new RegExp(`user-namespaced pods cannot start.*directory ${locked} \\(mode 0700, owner 0:0\\)`));

  const cfg = join(node.dir, 'doctor.toml');
  writeFileSync(cfg, `state_dir = "${join(locked, 'state')}"\nroot_dir = "${join(locked, 'root')}"\n`);
  const doc = await run(process.execPath, [CRIUS, 'doctor', '--json', '--config', cfg], { okCodes: [0, 1], timeoutMs: 120_000 });
  const check = (JSON.parse(doc.stdout) as { checks: Array<{ name: string; status: string; detail: string }> }).checks.find((c) => c.name === 'state dir reachable by pods');
  assert.equal(check?.status, 'fail', doc.stdout);
  assert.match(check!.detail, new RegExp(`directory ${locked} \\(mode 0700`));

  const pod = podConfig(node, { linux: { security_context: { namespace_options: { userns_options: podUserns(7_000_000) } } } });
  await assert.rejects(node.call('RunPodSandbox', { config: pod }), (e: { code: number; details: string }) => {
    assert.equal(e.code, 9, e.details); // FAILED_PRECONDITION
    assert.match(e.details, new RegExp(`host uid 7000000\\).*directory ${locked} \\(mode 0700, owner 0:0\\) is not searchable by host uid 7000000`));
    assert.match(e.details, /chmod o\+x/);
    return true;
  });
  // Nothing of the refused pod is left.
  assert.deepEqual((await node.call<{ items: unknown[] }>('ListPodSandbox', {})).items, []);

  chmodSync(locked, 0o711);
  const { pod_sandbox_id: id } = await node.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod });
  await removePod(node, id);
});
