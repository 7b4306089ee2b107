// `crius doctor --json` on this host, as root, without a daemon: the checks that must pass here do, the
// probes leave nothing mounted and no temp dir behind, and a config whose only handler is missing makes
// it exit 1 (a user-namespaced pod could not run).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../src/common/exec.js';
import type { CheckResult, DoctorSummary } from '../../../src/doctor/check.js';
import { CRIUS, startTestDaemon } from '../../helpers/daemon.js';
import { usernsSkipReason } from '../../helpers/userns.js';

interface DoctorJson { checks: CheckResult[]; summary: DoctorSummary }

const mountsContaining = (s: string): string[] =>
  readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(s));

async function doctor(args: string[]): Promise<{ code: number; out: DoctorJson; stderr: string }> {
  const r = await run(process.execPath, [CRIUS, 'doctor', '--json', ...args], { okCodes: [0, 1], timeoutMs: 120_000 });
  return { code: r.code, out: JSON.parse(r.stdout) as DoctorJson, stderr: r.stderr };
}

describe('crius doctor (integration)', () => {
  let dir = '';
  const skip = usernsSkipReason();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crius-doctor-it-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('passes the checks this host must pass and leaves nothing mounted', async (t) => {
    if (skip) { t.skip(skip); return; }
    const root = join(dir, 'root');
    await mkdir(root);
    const config = join(dir, 'config.toml');
    await writeFile(config, `root_dir = "${root}"\n`);
    const before = mountsContaining('crius-doctor').length;
    const { code, out } = await doctor(['--config', config]);
    const by = new Map(out.checks.map((c) => [c.name, c]));
    const expectOk = (name: string, detail?: RegExp): void => {
      const c = by.get(name);
      assert.ok(c, `check "${name}" missing; have: ${[...by.keys()].join(', ')}`);
      assert.equal(c.status, 'ok', `${name}: ${c.detail} / fix: ${c.fix}`);
      if (detail) assert.match(c.detail, detail);
    };
    expectOk('config', new RegExp(config));
    expectOk('kernel', /^Linux \d+\.\d+/);
    expectOk('user namespaces', /max_user_namespaces/);
    expectOk('idmap tmpfs', /on tmpfs/);
    expectOk('idmap root dir fs', /on ext4/);
    expectOk('idmap overlay rootfs', /reads as 65536:65536/);
    expectOk('handler crun (default)', /idmap yes, rro yes, user ns yes/);
    expectOk('handler runc', /idmap yes, rro yes, user ns yes/);
    expectOk('handlers for user namespaces', /crun, runc/);
    expectOk('conmon', /version 2\.1\.\d+/);
    expectOk('CNI plugins', /bridge.*host-local.*portmap.*loopback/);
    expectOk('CNI config', /network/);
    assert.equal(by.get('unshare'), undefined, 'crius-podns pins every pod\'s namespaces: util-linux unshare is no longer needed');
    expectOk('cgroups', /^hybrid .*crius-oci-wrap/);
    expectOk('native helpers');
    // This host lacks CAP_SYS_RESOURCE (machine facts): a warning, not a blocker.
    assert.equal(by.get('CAP_SYS_RESOURCE')?.status, 'warn');
    assert.equal(out.summary.usernsPodsCanRun, true, `blocking: ${out.summary.blocking.join(', ')}`);
    assert.equal(code, 0);
    // The probes ran on the root dir's filesystem and cleaned up after themselves.
    assert.deepEqual(await readdir(root), [], 'the throwaway crius-doctor-* dir must be gone');
    assert.equal(mountsContaining('crius-doctor').length, before, 'no probe mount may be left');
    assert.deepEqual(mountsContaining(root), []);
  });

  it('exits 1 when no handler can run user-namespaced pods, naming it', async (t) => {
    if (skip) { t.skip(skip); return; }
    const config = join(dir, 'bad.toml');
    await writeFile(config, `root_dir = "${join(dir, 'missing-root')}"\ndefault_runtime = "gone"\n[runtimes.gone]\npath = "${join(dir, 'no-such-runtime')}"\n`);
    const { code, out } = await doctor(['--config', config]);
    assert.equal(code, 1);
    assert.equal(out.summary.usernsPodsCanRun, false);
    assert.ok(out.summary.blocking.includes('handlers for user namespaces'), out.summary.blocking.join(', '));
    const h = out.checks.find((c) => c.name === 'handler gone (default)');
    assert.equal(h?.status, 'fail');
    assert.match(h?.detail ?? '', /does not exist/);
  });

  it('a bad config file is a usage error (exit 2) with the key named', async () => {
    const config = join(dir, 'typo.toml');
    await writeFile(config, 'root_dri = "/x"\n');
    const r = await run(process.execPath, [CRIUS, 'doctor', '--config', config], { okCodes: [2], timeoutMs: 30_000 });
    assert.match(r.stderr, /root_dri.*unknown key/);
  });

  it('criusd logs the host summary once at start', async (t) => {
    if (process.getuid?.() !== 0) { t.skip('needs root'); return; }
    const d = await startTestDaemon();
    try {
      const lines = d.logs().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      const host = lines.filter((l) => l['msg'] === 'host');
      assert.equal(host.length, 1, d.logs());
      assert.match(String(host[0]?.['kernel']), /^\d+\.\d+/);
      assert.equal(host[0]?.['cgroupMode'], 'hybrid');
      assert.equal(host[0]?.['usernsOk'], true);
    } finally {
      await d.cleanup();
    }
  });
});
