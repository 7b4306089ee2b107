// The log file's parents under log_directory: created as real directories; a symlink anywhere on the
// way, or an existing non-regular file, is refused so conmon never writes outside the directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, mkdirSync, symlinkSync, existsSync, lstatSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { CriusError } from '../../../src/common/errors.js';
import { prepareLogFile } from '../../../src/container/log-file.js';

let dir: string;
let logDir: string;
let outside: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'crius-logf-'));
  logDir = join(dir, 'logs');
  outside = join(dir, 'outside');
  mkdirSync(logDir);
  mkdirSync(outside);
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function refused(parts: string[], pattern: RegExp): Promise<void> {
  await assert.rejects(prepareLogFile(logDir, parts, 'config.log_path', true), (err: unknown) => {
    assert.ok(err instanceof CriusError);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, pattern);
    assert.match(err.message, /^config\.log_path: /);
    return true;
  });
}

test('the kubelet form NAME/ATTEMPT.log: the parent is created as a directory, the file is left to conmon', async () => {
  const p = await prepareLogFile(logDir, ['web', '0.log'], 'config.log_path', true);
  assert.equal(p, join(logDir, 'web', '0.log'));
  assert.ok(lstatSync(join(logDir, 'web')).isDirectory());
  assert.equal(existsSync(p), false);
  // Checking without creating makes nothing.
  await prepareLogFile(logDir, ['other', '0.log'], 'config.log_path', false);
  assert.equal(existsSync(join(logDir, 'other')), false);
});

test('a symlinked parent or log file, or a FIFO in its place, is refused and nothing is made outside', async () => {
  symlinkSync(outside, join(logDir, 'evil'));
  await refused(['evil', '0.log'], /evil is a symbolic link; the log file must stay inside the pod's log_directory/);
  symlinkSync(join(outside, 'passwd'), join(logDir, 'link.log'));
  await refused(['link.log'], /link\.log already exists as a symbolic link/);
  execFileSync('mkfifo', [join(logDir, 'fifo.log')]);
  await refused(['fifo.log'], /fifo\.log already exists as a FIFO/);
  writeFileSync(join(logDir, 'file'), '');
  await refused(['file', '0.log'], /file is a regular file, not a directory/);
  assert.deepEqual(readdirSync(outside), []);
});
