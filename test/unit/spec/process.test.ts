import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import { defaultSpec } from '../../../src/spec/defaults.js';
import { mergeEnv, withEnv, withProcessArgs, withTerminal, withWorkingDir } from '../../../src/spec/process.js';
import { ctxOf, type CtxOver } from '../../helpers/spec-context.js';

function args(container: CtxOver['container'], image: CtxOver['image']): string[] | undefined {
  const s = defaultSpec();
  withProcessArgs(s, ctxOf({ container, image }));
  return s.process?.args;
}

test('withProcessArgs follows the kubelet rules for command/args vs Entrypoint/Cmd', () => {
  const image = { Entrypoint: ['/ep'], Cmd: ['cmd1'] };
  assert.deepEqual(args({}, image), ['/ep', 'cmd1'], 'neither: Entrypoint + Cmd');
  assert.deepEqual(args({ args: ['a'] }, image), ['/ep', 'a'], 'args only: Entrypoint + args');
  assert.deepEqual(args({ command: ['/c'] }, image), ['/c'], 'command: replaces Entrypoint and drops Cmd');
  assert.deepEqual(args({ command: ['/c'], args: ['x'] }, image), ['/c', 'x']);
  assert.deepEqual(args({}, { Entrypoint: [''], Cmd: ['/bin/sh'] }), ['/bin/sh'], 'ENTRYPOINT [""] means none');
  assert.deepEqual(args({}, { Cmd: ['/bin/sh', '-c', 'x'] }), ['/bin/sh', '-c', 'x']);
});

test('withProcessArgs refuses an empty command with InvalidArgument', () => {
  assert.throws(() => args({ metadata: { name: 'c1' } }, {}), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT' && /no command specified/.test(e.message) && /"c1"/.test(e.message));
});

test('withEnv: default PATH, HOSTNAME, image env, CRI envs win', () => {
  const s = defaultSpec();
  withEnv(s, ctxOf({ image: { Env: ['PATH=/img/bin', 'A=image', 'B=image'] }, container: { envs: [{ key: 'A', value: 'cri' }, { key: 'C', value: 'x=y' }] } }));
  assert.deepEqual(s.process?.env, ['PATH=/img/bin', 'HOSTNAME=p1-host', 'A=cri', 'B=image', 'C=x=y']);
});

test('withEnv adds TERM=xterm for a tty unless set', () => {
  const s = defaultSpec();
  withEnv(s, ctxOf({ container: { tty: true }, image: {} }));
  assert.ok(s.process?.env?.includes('TERM=xterm'));
  assert.ok(s.process?.env?.some((e) => e.startsWith('PATH=/usr/local/sbin')));
  const t = defaultSpec();
  withEnv(t, ctxOf({ container: { tty: true, envs: [{ key: 'TERM', value: 'vt100' }] }, image: {} }));
  assert.deepEqual(t.process?.env?.filter((e) => e.startsWith('TERM=')), ['TERM=vt100']);
});

test('mergeEnv replaces in place and appends new keys', () => {
  assert.deepEqual(mergeEnv(['A=1', 'B=2'], ['B=3', 'C=4']), ['A=1', 'B=3', 'C=4']);
});

test('withWorkingDir: CRI, then image, then /; relative is refused', () => {
  const s = defaultSpec();
  withWorkingDir(s, ctxOf({ image: { WorkingDir: '/app' } }));
  assert.equal(s.process?.cwd, '/app');
  withWorkingDir(s, ctxOf({ container: { working_dir: '/w' }, image: { WorkingDir: '/app' } }));
  assert.equal(s.process?.cwd, '/w');
  withWorkingDir(s, ctxOf({ image: {} }));
  assert.equal(s.process?.cwd, '/');
  assert.throws(() => withWorkingDir(s, ctxOf({ container: { working_dir: 'rel' } })), /not an absolute path/);
});

test('withTerminal follows tty', () => {
  const s = defaultSpec();
  withTerminal(s, ctxOf({ container: { tty: true } }));
  assert.equal(s.process?.terminal, true);
  withTerminal(s, ctxOf({ container: {} }));
  assert.equal(s.process?.terminal, false);
});

test('withEnv decodes CRI env values that arrive as bytes', () => {
  const s = defaultSpec();
  withEnv(s, ctxOf({ image: {}, container: { envs: [{ key: 'B', value: Buffer.from('héllo') }, { key: 'U', value: new Uint8Array([0x78]) }] } }));
  assert.ok(s.process!.env!.includes('B=héllo'));
  assert.ok(s.process!.env!.includes('U=x'));
});
