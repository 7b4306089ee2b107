import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createOciRuntime } from '../../../src/oci/runtime.js';
import { ExecError, type Runner } from '../../../src/common/exec.js';
import { errorCode } from '../../../src/common/errors.js';

function recorder(respond: (args: readonly string[]) => string | ExecError = () => ''): { runner: Runner; calls: string[][] } {
  const calls: string[][] = [];
  const runner: Runner = async (file, args) => {
    calls.push([file, ...args]);
    const r = respond(args);
    if (r instanceof ExecError) throw r;
    return { stdout: r, stderr: '', code: 0 };
  };
  return { runner, calls };
}

describe('OciRuntime command lines', () => {
  it('goes through crius-oci-wrap with the hidden mounts when the host needs it', async () => {
    const { runner, calls } = recorder((a) => (a.includes('state') ? '{"id":"c1","status":"running","pid":42,"bundle":"/b","created":"2026-11-30T00:00:00Z"}' : ''));
    const rt = createOciRuntime({ name: 'crun', path: '/usr/bin/crun', root: '/run/r', socketDir: '/run/s', wrapperPath: '/w', hideMounts: ['/sys/fs/cgroup/unified'] }, runner);
    await rt.start('c1');
    await rt.kill('c1', 'SIGTERM');
    await rt.kill('c1', 9, { all: true });
    await rt.delete('c1', { force: true });
    const st = await rt.state('c1');
    assert.deepEqual(st, { id: 'c1', status: 'running', pid: 42, bundle: '/b', created: '2026-11-30T00:00:00Z' });
    const prefix = ['/w', '--hide', '/sys/fs/cgroup/unified', '/usr/bin/crun', '--root=/run/r'];
    assert.deepEqual(calls, [
      [...prefix, 'start', 'c1'],
      [...prefix, 'kill', 'c1', 'TERM'],
      [...prefix, 'kill', '--all', 'c1', '9'],
      [...prefix, 'delete', '--force', 'c1'],
      [...prefix, 'state', 'c1'],
    ]);
    assert.deepEqual(rt.command(['features']), { file: '/w', args: [...prefix.slice(1), 'features'] });
    assert.deepEqual(rt.invocation(), { file: '/w', globalArgs: prefix.slice(1) });
  });

  it('runs the runtime directly when nothing is hidden, and maps its errors', async () => {
    const gone = new ExecError({ command: 'runc', code: 1, signal: null, stdout: '', stderr: 'container does not exist', timedOut: false, notFound: false, reason: 'exit status 1' });
    const { runner, calls } = recorder(() => gone);
    const rt = createOciRuntime({ name: 'runc', path: '/usr/sbin/runc', root: '/run/r', socketDir: '/run/s' }, runner);
    await assert.rejects(rt.kill('c1', 'KILL'), (e: unknown) => errorCode(e) === 'NOT_FOUND' && /signal container c1 \(KILL\): container does not exist/.test(String(e)));
    assert.deepEqual(calls[0], ['/usr/sbin/runc', '--root=/run/r', 'kill', 'c1', 'KILL']);
  });

  it('refuses hidden mounts without a wrapper', () => {
    assert.throws(() => createOciRuntime({ name: 'crun', path: '/usr/bin/crun', root: '/r', socketDir: '/s', hideMounts: ['/sys/fs/cgroup/unified'] }),
      (e: unknown) => errorCode(e) === 'FAILED_PRECONDITION');
  });
});

describe('OciRuntime with the systemd cgroup driver', () => {
  it('passes --systemd-cgroup to every runtime call and starts conmon in its own scope', async () => {
    const { conmonCommand } = await import('../../../src/oci/runtime.js');
    const { runner, calls } = recorder();
    const rt = createOciRuntime({ name: 'crun', path: '/usr/bin/crun', root: '/run/r', socketDir: '/run/s', systemd: { conmonSlice: 'system.slice' } }, runner);
    await rt.start('c1');
    assert.deepEqual(calls[0], ['/usr/bin/crun', '--root=/run/r', '--systemd-cgroup', 'start', 'c1']);
    assert.deepEqual(rt.invocation(), { file: '/usr/bin/crun', globalArgs: ['--root=/run/r', '--systemd-cgroup'] });
    assert.deepEqual(conmonCommand('/usr/bin/conmon', ['-c', 'c1'], 'c1', { conmonSlice: 'system.slice' }), ['/usr/bin/systemd-run',
      ['--scope', '--quiet', '--collect', '--unit=crius-conmon-c1.scope', '--slice=system.slice', '/usr/bin/conmon', '-c', 'c1']]);
    assert.deepEqual(conmonCommand('/usr/bin/conmon', ['-c', 'c1'], 'c1'), ['/usr/bin/conmon', ['-c', 'c1']]);
  });
});
