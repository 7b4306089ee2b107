import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { conmonCreateArgv, parseSyncMessage } from '../../../src/oci/conmon.js';

const runtime = { file: '/opt/crius-oci-wrap', globalArgs: ['--hide', '/sys/fs/cgroup/unified', '/usr/bin/crun', '--root=/run/r'] };

describe('conmon command lines', () => {
  it('create: identity, wrapped runtime as -r plus --runtime-arg each, log/exit/persist, stdin modes', () => {
    const argv = conmonCreateArgv({
      id: 'c1', bundle: '/b', runtime, logPath: '/l/c1.log', exitDir: '/e', persistDir: '/p', socketDir: '/s',
      conmonPidFile: '/b/conmon.pid', containerPidFile: '/b/pidfile', stdin: true, stdinOnce: true,
    });
    const joined = argv.join(' ');
    assert.match(joined, /^-b \/b -c c1 -u c1 -n c1 -r \/opt\/crius-oci-wrap --runtime-arg --hide --runtime-arg \/sys\/fs\/cgroup\/unified --runtime-arg \/usr\/bin\/crun --runtime-arg --root=\/run\/r /);
    assert.match(joined, /-l k8s-file:\/l\/c1.log --exit-dir \/e -0 \/p -P \/b\/conmon.pid -p \/b\/pidfile --socket-dir-path \/s/);
    assert.ok(argv.includes('-i'));
    assert.ok(!argv.includes('--leave-stdin-open'), 'StdinOnce closes stdin after the first attach');
    const open = conmonCreateArgv({
      id: 'c1', bundle: '/b', runtime, logPath: '/l', exitDir: '/e', persistDir: '/p', socketDir: '/s',
      conmonPidFile: '/x', containerPidFile: '/y', stdin: true,
    });
    assert.ok(open.includes('--leave-stdin-open'));
    const tty = conmonCreateArgv({
      id: 'c1', bundle: '/b', runtime, logPath: '/l', exitDir: '/e', persistDir: '/p', socketDir: '/s',
      conmonPidFile: '/x', containerPidFile: '/y', terminal: true, stdin: true, logSizeMax: 1000,
    });
    assert.ok(tty.includes('-t') && !tty.includes('-i'));
    assert.deepEqual(tty.slice(tty.indexOf('--log-size-max'), tty.indexOf('--log-size-max') + 2), ['--log-size-max', '1000']);
  });

  it('parses sync messages', () => {
    assert.deepEqual(parseSyncMessage('{"pid": 21668}'), { pid: 21668 });
    assert.deepEqual(parseSyncMessage('{"pid": -1, "message": "pivot_root: Device or resource busy\\n"}'), { pid: -1, message: 'pivot_root: Device or resource busy\n' });
    assert.deepEqual(parseSyncMessage('{"exit_code": -1, "message": "command timed out"}'), { exit_code: -1, message: 'command timed out' });
    assert.throws(() => parseSyncMessage('nope'));
  });
});
