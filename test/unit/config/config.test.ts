import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { locateHostBinary } from '../../../src/common/host-binaries.js';
import { applyOverrides, ConfigError, defaultConfig, lineOfKey, loadConfig, parseConfig } from '../../../src/config/config.js';

test('an empty file gives the defaults, with crun and runc handlers at their Debian paths', () => {
  const c = parseConfig('', 'x.toml');
  assert.equal(c.defaultRuntime, 'crun');
  assert.deepEqual(c.runtimes, [{ name: 'crun', path: locateHostBinary('crun') }, { name: 'runc', path: locateHostBinary('runc') }]);
  assert.equal(c.rootDir, '/var/lib/crius');
  assert.equal(c.stateDir, '/run/crius');
  assert.equal(c.socket, '/run/crius/crius.sock');
});

test('the documented handler keys are read exactly', () => {
  const c = parseConfig(`default_runtime = "runc"\n[runtimes.crun]\npath = "/opt/crun"\n[runtimes.runc]\npath = "/opt/runc"\n[runtimes.runc-old]\npath = "/opt/runc11"\n`, 'c.toml');
  assert.equal(c.defaultRuntime, 'runc');
  assert.deepEqual(c.runtimes.map((h) => `${h.name}=${h.path}`), ['crun=/opt/crun', 'runc=/opt/runc', 'runc-old=/opt/runc11']);
});

test('registry mirrors use the [registries."host"] form', () => {
  const c = parseConfig(`[registries."docker.io"]\nmirrors = ["http://127.0.0.1:5000"]\n`, 'c.toml');
  assert.deepEqual(c.registries['docker.io'], { mirrors: ['http://127.0.0.1:5000'], insecure: false });
});

test('an unknown key is rejected with its name and line', () => {
  assert.throws(() => parseConfig(`log_level = "info"\n\n[runtimes.crun]\npath = "/usr/bin/crun"\npaht = "x"\n`, 'c.toml'),
    (e: Error) => e instanceof ConfigError && e.message === 'c.toml:5: key "runtimes.crun.paht": unknown key (allowed here: path)');
  assert.throws(() => parseConfig(`rootdir = "/x"\n`, 'c.toml'), /c\.toml:1: key "rootdir": unknown key/);
});

test('a wrong type names the key, the line and the value', () => {
  assert.throws(() => parseConfig(`root_dir = 5\n`, 'c.toml'), /c\.toml:1: key "root_dir": must be a non-empty string, got 5/);
  assert.throws(() => parseConfig(`\n[streaming]\nport = 70000\n`, 'c.toml'), /c\.toml:3: key "streaming.port": must be an integer from 0 to 65535, got 70000/);
  assert.throws(() => parseConfig(`log_level = "loud"\n`, 'c.toml'), /key "log_level": must be one of debug, info, warn, error, got "loud"/);
  assert.throws(() => parseConfig(`state_dir = "run/crius"\n`, 'c.toml'), /key "state_dir": must be an absolute path/);
});

test('malformed TOML gives the line', () => {
  assert.throws(() => parseConfig(`a = 1\nb = [\n`, 'bad.toml'), /^ConfigError: bad\.toml:3: not valid TOML/);
});

test('default_runtime must name a configured handler', () => {
  assert.throws(() => parseConfig(`default_runtime = "youki"\n`, 'c.toml'), /c\.toml:1: key "default_runtime": names "youki", which is not a configured handler \(have: crun, runc\)/);
});

test('a handler without a path is an error naming the table', () => {
  assert.throws(() => parseConfig(`[runtimes.crun]\n`, 'c.toml'), /key "runtimes.crun.path": is required/);
});

test('userns rootfs mode and ID range are validated', () => {
  assert.throws(() => parseConfig(`[userns]\nrootfs = "chown"\n`, 'c.toml'), /c\.toml:2: key "userns.rootfs": must be "idmap" or "copy"/);
  assert.throws(() => parseConfig(`[userns]\nsubid_start = 4294000000\nsubid_length = 1000000\n`, 'c.toml'), /passes 4294967295/);
  assert.equal(parseConfig(`[userns]\nrootfs = "copy"\n`, 'c.toml').userns.rootfs, 'copy');
});

test('flags override the file; bad flags are named', () => {
  const c = applyOverrides(defaultConfig(), { socket: '/tmp/s.sock', logLevel: 'debug' });
  assert.equal(c.socket, '/tmp/s.sock');
  assert.equal(c.logLevel, 'debug');
  assert.throws(() => applyOverrides(defaultConfig(), { rootDir: 'rel' }), /--root: must be an absolute path/);
});

test('a missing default file means defaults, a missing explicit file is an error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-cfg-'));
  try {
    assert.equal(loadConfig(join(dir, 'none.toml'), false).defaultRuntime, 'crun');
    assert.throws(() => loadConfig(join(dir, 'none.toml'), true), /none\.toml: cannot read the config file: ENOENT/);
    writeFileSync(join(dir, 'c.toml'), 'log_level = "warn"\n');
    assert.equal(loadConfig(join(dir, 'c.toml'), true, { logLevel: 'error' }).logLevel, 'error');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lineOfKey finds keys in quoted and nested tables', () => {
  const src = `a = 1\n[registries."docker.io"]\nmirrors = []\n[runtimes.crun]\npath = "x"\n`;
  assert.equal(lineOfKey(src, ['registries', 'docker.io'], 'mirrors'), 3);
  assert.equal(lineOfKey(src, ['runtimes', 'crun'], 'path'), 5);
  assert.equal(lineOfKey(src, [], 'a'), 1);
  assert.equal(lineOfKey(src, [], 'b'), undefined);
});

test('cgroup_manager: systemd or cgroupfs; unset leaves the choice to the host; anything else names the line', () => {
  assert.equal(parseConfig('', 'x.toml').cgroupManager, undefined);
  assert.equal(parseConfig('cgroup_manager = "systemd"\n', 'x.toml').cgroupManager, 'systemd');
  assert.equal(parseConfig('cgroup_manager = "cgroupfs"\n', 'x.toml').cgroupManager, 'cgroupfs');
  assert.throws(() => parseConfig('\ncgroup_manager = "systemd-ish"\n', 'x.toml'),
    (e: unknown) => e instanceof ConfigError && /x\.toml:2/.test(e.message) && /cgroup_manager/.test(e.message) && /"systemd" or "cgroupfs"/.test(e.message));
});

test('[limits] caps have documented defaults and are read and range-checked', () => {
  const d = parseConfig('', 'c.toml');
  assert.deepEqual(d.limits, { seccompProfileBytes: 1048576, labelsAnnotationsBytes: 262144 });
  const c = parseConfig('[limits]\nmax_seccomp_profile_bytes = 65536\nmax_labels_annotations_bytes = 4096\n', 'c.toml');
  assert.deepEqual(c.limits, { seccompProfileBytes: 65536, labelsAnnotationsBytes: 4096 });
  assert.throws(() => parseConfig('[limits]\nmax_seccomp_profile_bytes = 0\n', 'c.toml'), /c\.toml:2: key "limits\.max_seccomp_profile_bytes": must be an integer from 1024/);
  assert.throws(() => parseConfig('[limits]\nmanifest = 1\n', 'c.toml'), /key "limits\.manifest": unknown key/);
});

test('[images] limits: the documented defaults, each key read, bad values named', () => {
  const d = parseConfig('', 'c.toml').images;
  assert.deepEqual(d, { maxManifestBytes: 4194304, maxConfigBytes: 8388608, stallTimeoutSeconds: 60, maxLayerUnpackedBytes: 34359738368, maxLayerEntries: 5000000 });
  const c = parseConfig('[images]\nmax_manifest_bytes = 65536\nmax_config_bytes = 1048576\nstall_timeout_seconds = 5\nmax_layer_unpacked_bytes = 68719476736\nmax_layer_entries = 1000\n', 'c.toml');
  assert.deepEqual(c.images, { maxManifestBytes: 65536, maxConfigBytes: 1048576, stallTimeoutSeconds: 5, maxLayerUnpackedBytes: 68719476736, maxLayerEntries: 1000 });
  assert.throws(() => parseConfig('[images]\nstall_timeout_seconds = 0\n', 'c.toml'), /c\.toml:2: key "images\.stall_timeout_seconds": must be an integer from 1/);
  assert.throws(() => parseConfig('[images]\nmax_manifest_bytes = "4M"\n', 'c.toml'), /key "images\.max_manifest_bytes"/);
  assert.throws(() => parseConfig('[images]\nmax_layer_size = 1\n', 'c.toml'), /key "images\.max_layer_size": unknown key/);
});
