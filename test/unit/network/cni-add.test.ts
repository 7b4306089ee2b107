// CNI ADD's loopback step runs alongside the plugin chain (network/cni.ts): with a fake runner, whichever
// of the two fails, the ADD fails with that error and the plugins' work is undone (DEL), and nothing is
// stored; when both succeed the pod's IPs come back and each step ran once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCni } from '../../../src/network/cni.js';
import { ExecError, type Runner } from '../../../src/common/exec.js';

const RESULT = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/x' }], ips: [{ address: '10.9.0.5/16', interface: 0 }] };

function setup(fail: { lo?: boolean; plugin?: boolean }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'crius-cniadd-'));
  const conf = path.join(dir, 'net.d');
  const bin = path.join(dir, 'bin');
  mkdirSync(conf);
  mkdirSync(bin);
  writeFileSync(path.join(conf, '10-t.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 't', plugins: [{ type: 'ptp', ipam: { type: 'host-local' } }] }));
  writeFileSync(path.join(bin, 'ptp'), '');
  const netns = path.join(dir, 'netns');
  writeFileSync(netns, '');
  const calls: string[] = [];
  const runner: Runner = async (file, args, opts) => {
    const cmd = path.basename(file) === 'nsenter' ? `lo ${args.slice(1).join(' ')}` : `${path.basename(file)} ${opts?.env?.['CNI_COMMAND']}`;
    calls.push(cmd);
    // The loopback step answers last, so a plugin ADD that succeeds is already done when it fails.
    if (cmd.startsWith('lo')) await new Promise((r) => setTimeout(r, 20));
    if ((cmd.startsWith('lo') && fail.lo) || (cmd === 'ptp ADD' && fail.plugin)) {
      throw new ExecError({ command: cmd, code: 1, signal: null, stdout: '', stderr: 'boom', timedOut: false, notFound: false, reason: 'exit 1' });
    }
    return { stdout: cmd === 'ptp ADD' ? JSON.stringify(RESULT) : '', stderr: '', code: 0 };
  };
  const results = path.join(dir, 'results');
  const cni = createCni({ confDir: conf, pluginDirs: [bin], resultsDir: results }, runner);
  const pod = { id: 'p1', name: 'web', namespace: 'default', uid: 'u1' };
  return { cni, pod, netns, calls, stored: (): string[] => readdirSync(results), done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('lo and the plugins both succeed: the IPs, each step once, the result stored', async () => {
  const s = setup({});
  try {
    const { ips } = await s.cni.add(s.pod, s.netns, []);
    assert.deepEqual(ips, ['10.9.0.5']);
    assert.deepEqual([...s.calls].sort(), ['lo /usr/sbin/ip link set lo up', 'ptp ADD']);
    assert.equal(s.stored().length, 1);
  } finally {
    s.done();
  }
});

test('lo fails after the plugins succeeded: INTERNAL naming lo, the ADD undone, nothing stored', async () => {
  const s = setup({ lo: true });
  try {
    await assert.rejects(s.cni.add(s.pod, s.netns, []), (e: Error & { code?: string }) => e.code === 'INTERNAL' && /bring up lo in/.test(e.message));
    assert.ok(s.calls.includes('ptp DEL'), s.calls.join(', '));
    assert.deepEqual(s.stored(), []);
  } finally {
    s.done();
  }
});

test('a plugin fails: its error, the ADD undone once lo has settled, nothing stored', async () => {
  const s = setup({ plugin: true });
  try {
    await assert.rejects(s.cni.add(s.pod, s.netns, []), (e: Error) => /CNI plugin ptp ADD/.test(e.message));
    // The DEL comes after the loopback step settled (no spawn left running behind the undo).
    assert.ok(s.calls.indexOf('ptp DEL') > s.calls.indexOf('lo /usr/sbin/ip link set lo up'), s.calls.join(', '));
    assert.deepEqual(s.stored(), []);
  } finally {
    s.done();
  }
});
