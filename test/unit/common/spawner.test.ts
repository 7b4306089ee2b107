// run() through native/crius-spawner behaves as run() spawning from this process: output, input, cwd and
// env, exit codes and okCodes, not-found, timeouts, cancellation, signals, the output cap, many commands at
// once; and when the spawner dies, the commands it ran fail naming it and later ones run from here.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ExecError, run, useSpawner } from '../../../src/common/exec.js';
import { decodeAnswer, encodeSpawn, Spawner } from '../../../src/common/spawner.js';
import { nativeBuildPath } from '../../../src/common/install-root.js';

const fails = async (p: Promise<unknown>): Promise<ExecError> => {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ExecError, String(e));
    return e;
  }
  assert.fail('expected a failure');
};

describe('run() through crius-spawner', () => {
  let s: Spawner;
  const died: string[] = [];
  before(() => {
    s = new Spawner(nativeBuildPath('crius-spawner'), (why) => died.push(why));
    useSpawner(s);
  });
  after(() => {
    useSpawner(undefined);
    s.close();
  });

  it('passes args, stdin, cwd and env, and returns stdout and stderr', async () => {
    assert.deepEqual(await run('/bin/echo', ['a b', 'c']), { stdout: 'a b c\n', stderr: '', code: 0 });
    assert.equal((await run('cat', [], { input: Buffer.from('in\u00e9') })).stdout, 'in\u00e9');
    const r = await run('sh', ['-c', 'pwd; echo $FOO; echo e >&2'], { cwd: '/tmp', env: { FOO: 'bar', PATH: '/usr/bin:/bin' } });
    assert.deepEqual(r, { stdout: '/tmp\nbar\n', stderr: 'e\n', code: 0 });
    assert.equal((await run('wc', ['-c'], { input: 'y'.repeat(3_000_000) })).stdout.trim(), '3000000', 'more input than a pipe holds');
    assert.equal((await run('sh', ['-c', 'head -c 5000000 /dev/zero']))!.stdout.length, 5_000_000);
  });

  it('fails as run() does: exit status, not found, timeout, cancel, signal, output cap', async () => {
    assert.equal((await run('sh', ['-c', 'exit 2'], { okCodes: [0, 2] })).code, 2);
    const e1 = await fails(run('sh', ['-c', 'echo why >&2; exit 3']));
    assert.equal(e1.code, 3);
    assert.match(e1.message, /exit status 3: why/);
    const e2 = await fails(run('/nonexistent/x', []));
    assert.equal(e2.notFound, true);
    const e3 = await fails(run('sleep', ['5'], { timeoutMs: 50 }));
    assert.equal(e3.timedOut, true);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    assert.match((await fails(run('sleep', ['5'], { signal: ac.signal }))).message, /cancelled/);
    assert.equal((await fails(run('sh', ['-c', 'kill -TERM $$']))).signal, 'SIGTERM');
    assert.match((await fails(run('head', ['-c', '100000', '/dev/zero'], { maxOutputBytes: 1000 }))).message, /printed more than 1000 bytes/);
  });

  it('runs many commands at once, each answered with its own output; past its 256 slots, from here', async () => {
    const rs = await Promise.all(Array.from({ length: 300 }, (_, i) => run('sh', ['-c', `sleep 0.3; echo ${i}`])));
    assert.deepEqual(rs.map((r) => r.stdout.trim()), Array.from({ length: 300 }, (_, i) => String(i)));
  });

  it('ExecSync mode: the exit is reported while a background child holds the pipes; cut() ends the wait; truncate keeps it running', async () => {
    const c = s.run({ file: 'sh', args: ['-c', 'echo a; (sleep 5; echo late) & exit 3'], env: process.env, maxOutputBytes: 1 << 20, truncate: true });
    assert.deepEqual(await c.exited, { code: 3, signal: null });
    let settled = false;
    void c.done.then(() => { settled = true; });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(settled, false, 'the background sleep still holds stdout');
    c.cut();
    const o = await c.done;
    assert.ok(o.kind === 'exited');
    assert.deepEqual([o.code, o.stdout.toString(), o.cut, o.overflow], [3, 'a\n', true, false]);
    const t = await s.run({ file: 'sh', args: ['-c', 'head -c 5000 /dev/zero; head -c 3000 /dev/zero >&2; exit 0'], env: process.env, maxOutputBytes: 100, truncate: true }).done;
    assert.ok(t.kind === 'exited');
    assert.deepEqual([t.code, t.stdout.length, t.stderr.length, t.overflow, t.cut], [0, 100, 100, true, false]);
  });

  it('a dead spawner fails its running commands by name; later ones run from this process', async () => {
    const doomed = new Spawner(nativeBuildPath('crius-spawner'), (why) => died.push(why));
    useSpawner(doomed);
    const running = run('sleep', ['5']);
    await new Promise((r) => setTimeout(r, 50));
    process.kill(doomed.pid, 'SIGKILL');
    assert.match((await fails(running)).message, /crius-spawner exited/);
    assert.equal(doomed.alive, false);
    assert.deepEqual((await run('/bin/echo', ['here'])).stdout, 'here\n');
    assert.equal(died.length, 1);
    useSpawner(s);
  });
});

describe('spawner frames (pure)', () => {
  it('a spawn request carries file, cwd, argv, env and input; NUL bytes are refused', () => {
    const b = encodeSpawn(7, { file: '/bin/x', args: ['a'], env: { K: 'v', U: undefined }, input: 'in', maxOutputBytes: 10 });
    assert.equal(b.toString('latin1', 0, 1), 'S');
    assert.equal(b.readUInt32LE(1), 7);
    assert.equal(b.readUInt32LE(5), 10);
    assert.equal(b[9], 2, 'flags: no truncate, report the exit');
    assert.ok(b.includes(Buffer.from('/bin/x\0\0')) && b.includes(Buffer.from('K=v\0')) && !b.includes(Buffer.from('U=')));
    assert.equal(b.subarray(-2).toString(), 'in');
    assert.throws(() => encodeSpawn(1, { file: '/bin/x', args: ['a\0b'], env: {}, maxOutputBytes: 1 }), /NUL/);
  });

  it('answers: an exit with output and a failure to start', () => {
    const e = Buffer.concat([Buffer.from('E'), u32(9), i32(-1), i32(9), Buffer.from([1]), u32(2), Buffer.from('ok'), u32(1), Buffer.from('x')]);
    assert.deepEqual(decodeAnswer(e), { id: 9, outcome: { kind: 'exited', code: null, signal: 'SIGKILL', stdout: Buffer.from('ok'), stderr: Buffer.from('x'), overflow: true, cut: false } });
    assert.deepEqual(decodeAnswer(Buffer.concat([Buffer.from('X'), u32(4), i32(2), i32(0)])), { id: 4, exit: { code: 2, signal: null } });
    assert.deepEqual(decodeAnswer(Buffer.concat([Buffer.from('F'), u32(3), i32(2)])), { id: 3, outcome: { kind: 'failed', errno: 'ENOENT' } });
  });
});

function u32(n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; }
function i32(n: number): Buffer { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; }
