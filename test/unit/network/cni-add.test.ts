// CNI ADD runs the plugin chain (network/cni.ts) with a fake runner: when the plugins succeed, the pod's
// IPs come back, each plugin ran once and the result is stored; when one fails, the ADD fails with its
// error, the earlier plugins' work is undone (DEL) and nothing is stored. lo is not CNI's to bring up
// (crius-podns does it with the netns), so no other process runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCni } from '../../../src/network/cni.js';
import { ExecError, type Runner } from '../../../src/common/exec.js';

const RESULT = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/x' }], ips: [{ address: '10.9.0.5/16', interface: 0 }] };

function setup(fail: { plugin?: boolean }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'crius-cniadd-'));
  const conf = path.join(dir, 'net.d');
  const bin = path.join(dir, 'bin');
  mkdirSync(conf);
  mkdirSync(bin);
  writeFileSync(path.join(conf, '10-t.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 't', plugins: [{ type: 'ptp', ipam: { type: 'host-local' } }, { type: 'tuning' }] }));
  writeFileSync(path.join(bin, 'ptp'), '');
  writeFileSync(path.join(bin, 'tuning'), '');
  const netns = path.join(dir, 'netns');
  writeFileSync(netns, '');
  const calls: string[] = [];
  const runner: Runner = async (file, _args, opts) => {
    const cmd = `${path.basename(file)} ${opts?.env?.['CNI_COMMAND']}`;
    calls.push(cmd);
    if (cmd === 'tuning ADD' && fail.plugin) {
      throw new ExecError({ command: cmd, code: 1, signal: null, stdout: '', stderr: 'boom', timedOut: false, notFound: false, reason: 'exit 1' });
    }
    return { stdout: cmd.endsWith('ADD') ? JSON.stringify(RESULT) : '', stderr: '', code: 0 };
  };
  const results = path.join(dir, 'results');
  const cni = createCni({ confDir: conf, pluginDirs: [bin], resultsDir: results }, runner);
  const pod = { id: 'p1', name: 'web', namespace: 'default', uid: 'u1' };
  return { cni, pod, netns, calls, stored: (): string[] => readdirSync(results), done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('the plugins succeed: the IPs, each plugin once and in order, the result stored', async () => {
  const s = setup({});
  try {
    const { ips } = await s.cni.add(s.pod, s.netns, []);
    assert.deepEqual(ips, ['10.9.0.5']);
    assert.deepEqual(s.calls, ['ptp ADD', 'tuning ADD']);
    assert.equal(s.stored().length, 1);
  } finally {
    s.done();
  }
});

test('a plugin fails: its error, the chain undone in reverse, nothing stored', async () => {
  const s = setup({ plugin: true });
  try {
    await assert.rejects(s.cni.add(s.pod, s.netns, []), (e: Error) => /CNI plugin tuning ADD/.test(e.message));
    assert.deepEqual(s.calls, ['ptp ADD', 'tuning ADD', 'tuning DEL', 'ptp DEL']);
    assert.deepEqual(s.stored(), []);
  } finally {
    s.done();
  }
});
