import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, chmodSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { FeaturesCache, handlerCriFeatures, kernelAtLeast, parseFeatures, usernsUnsupportedReason, type HandlerInfo } from '../../../src/oci/features.js';
import type { Runner } from '../../../src/common/exec.js';
import { ExecError } from '../../../src/common/exec.js';

// Shapes taken from the real `features` output of crun 1.21 and runc 1.1 (Debian 12/13).
const CRUN = JSON.stringify({
  ociVersionMin: '1.0.0', ociVersionMax: '1.1.0+dev', mountOptions: ['rw', 'ro', 'rro', 'idmap', 'rbind'],
  linux: { namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'], mountExtensions: { idmap: { enabled: true } }, seccomp: { enabled: true } },
});
const RUNC11 = JSON.stringify({
  ociVersionMin: '1.0.0', ociVersionMax: '1.1.0', mountOptions: ['rw', 'ro', 'rbind'],
  linux: { namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'], seccomp: { enabled: true } },
});
const kernel = { release: '6.18.44', userNamespaces: true };

test('parseFeatures keeps typed fields and drops ill-typed ones', () => {
  const f = parseFeatures(JSON.stringify({ mountOptions: ['ro', 3], linux: { namespaces: ['user'], mountExtensions: { idmap: { enabled: 'yes' } } } }));
  assert.equal(f.mountOptions, undefined);
  assert.deepEqual(f.linux?.namespaces, ['user']);
  assert.equal(f.linux?.mountExtensions?.idmap?.enabled, undefined);
  assert.throws(() => parseFeatures('[1]'), /not an object/);
  assert.throws(() => parseFeatures('{oops'));
});

test('user_namespaces needs the user namespace, idmap enabled and a kernel with user namespaces', () => {
  const crun: HandlerInfo = { name: 'crun', path: '/usr/bin/crun', features: parseFeatures(CRUN) };
  const runc11: HandlerInfo = { name: 'old', path: '/x/runc', version: 'runc version 1.1.5', features: parseFeatures(RUNC11) };
  assert.deepEqual(handlerCriFeatures(crun, kernel), { user_namespaces: true, recursive_read_only_mounts: true });
  assert.deepEqual(handlerCriFeatures(runc11, kernel), { user_namespaces: false, recursive_read_only_mounts: false });
  assert.equal(handlerCriFeatures(crun, { release: '6.18.0', userNamespaces: false }).user_namespaces, false);
  assert.equal(handlerCriFeatures(crun, { release: '5.10.0', userNamespaces: true }).recursive_read_only_mounts, false);
  assert.match(usernsUnsupportedReason(runc11, kernel)!, /\/x\/runc \(runc version 1\.1\.5\) has no `linux\.mountExtensions\.idmap` entry.*crun >= 1\.9 or runc >= 1\.2/);
  assert.equal(usernsUnsupportedReason(crun, kernel), undefined);
  const disabled: HandlerInfo = { name: 'd', path: '/d', features: { linux: { namespaces: ['user'], mountExtensions: { idmap: { enabled: false } } } } };
  assert.match(usernsUnsupportedReason(disabled, kernel)!, /enabled` = false/);
  assert.deepEqual(handlerCriFeatures({ name: 'x', path: '/x', reason: 'missing' }, kernel), { user_namespaces: false, recursive_read_only_mounts: false });
});

test('kernelAtLeast compares major.minor', () => {
  assert.ok(kernelAtLeast('6.18.44-fc', 5, 12));
  assert.ok(kernelAtLeast('5.12.0', 5, 12));
  assert.ok(!kernelAtLeast('5.11.9', 5, 12));
  assert.ok(!kernelAtLeast('garbage', 5, 12));
});

test('FeaturesCache runs `features` once per binary version and again when the binary changes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-feat-'));
  try {
    const bin = join(dir, 'rt');
    writeFileSync(bin, '#!/bin/sh\n');
    chmodSync(bin, 0o755);
    let calls = 0;
    const runner: Runner = async (_file, args) => {
      if (args[0] === 'features') calls++;
      return { stdout: args[0] === '--version' ? 'rt version 9\nmore' : CRUN, stderr: '', code: 0 };
    };
    const cache = new FeaturesCache(runner);
    const a = await cache.read('rt', bin);
    await cache.read('rt', bin);
    assert.equal(calls, 1);
    assert.equal(a.version, 'rt version 9');
    assert.equal(a.features?.linux?.mountExtensions?.idmap?.enabled, true);
    utimesSync(bin, new Date(), new Date(Date.now() + 5000));
    await cache.read('rt', bin);
    assert.equal(calls, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing binary, a failing `features` and invalid JSON each give a reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-feat-'));
  try {
    const bin = join(dir, 'rt');
    writeFileSync(bin, 'x');
    const missing = await new FeaturesCache().read('m', join(dir, 'nope'));
    assert.match(missing.reason!, /runtime binary .*nope does not exist/);
    const failing: Runner = async (file, args) => {
      if (args[0] === '--version') return { stdout: 'old 0.9', stderr: '', code: 0 };
      throw new ExecError({ command: file, code: 1, signal: null, stdout: '', stderr: 'unknown command "features"\n', timedOut: false, notFound: false, reason: 'exit 1' });
    };
    const f = await new FeaturesCache(failing).read('f', bin);
    assert.equal(f.features, undefined);
    assert.match(f.reason!, /features` failed \(unknown command "features"\)/);
    const garbage: Runner = async () => ({ stdout: 'not json', stderr: '', code: 0 });
    const g = await new FeaturesCache(garbage).read('g', bin);
    assert.match(g.reason!, /printed invalid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
