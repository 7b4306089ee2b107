import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLogDirectory, checkLogPath } from '../../../../src/cri/validate/log-path.js';
import { invalid } from './helpers.js';

test('log_path: relative, inside log_directory; the kubelet form NAME/ATTEMPT.log passes', () => {
  assert.deepEqual(checkLogPath('web/0.log', 'config.log_path'), ['web', '0.log']);
  assert.deepEqual(checkLogPath('./a.log', 'config.log_path'), ['a.log']);
  assert.deepEqual(checkLogPath('', 'config.log_path'), []);
  invalid(() => checkLogPath('../../../x/x.log', 'config.log_path'), /config\.log_path "\.\.\/\.\.\/\.\.\/x\/x\.log" contains "\.\."/);
  invalid(() => checkLogPath('a/../../b.log', 'config.log_path'), /contains "\.\."/);
  invalid(() => checkLogPath('/etc/x.log', 'config.log_path'), /config\.log_path "\/etc\/x\.log" is absolute/);
  invalid(() => checkLogPath('dir/', 'config.log_path'), /names no file/);
  invalid(() => checkLogPath('a\0.log', 'config.log_path'), /NUL byte/);
});

test('log_directory: absolute, without ".."', () => {
  checkLogDirectory('/var/log/pods/ns_p_uid', 'config.log_directory');
  checkLogDirectory('', 'config.log_directory');
  invalid(() => checkLogDirectory('logs', 'config.log_directory'), /config\.log_directory "logs" is not an absolute path/);
  invalid(() => checkLogDirectory('/var/log/../../etc', 'config.log_directory'), /contains "\.\."/);
});
