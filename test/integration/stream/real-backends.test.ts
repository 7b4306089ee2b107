// The real exec, attach and port-forward backends behind the streaming server, against a busybox container
// run by crun under conmon and a network namespace made for the test; the client is the test SPDY client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { StreamServer } from '../../../src/stream/server.js';
import { createConmonAttachBackend } from '../../../src/stream/attach-conmon.js';
import { silentLogger } from '../../../src/common/logger.js';
import {
  RELAY_HELPER, makeTestNetns, realStreamBackends, pidsWithCmdline, startPodServer, startStreamContainer, streamContainerUnavailable, type StreamContainer,
} from '../../helpers/stream-container.js';
import { exitCodeOf, readAll, spdyExec, spdyUpgrade } from '../../helpers/spdy-client.js';

const skip = streamContainerUnavailable();
let ctr: StreamContainer | undefined;
let server: StreamServer | undefined;
let cleanupNetns: (() => Promise<void>) | undefined;
let netns = '';
let podServer: ChildProcess | undefined;

before(async () => {
  if (skip) return;
  ctr = await startStreamContainer(['sh', '-c', 'echo started; while read l; do echo "got:$l"; echo "err:$l" >&2; done; echo bye']);
  const ns = await makeTestNetns();
  netns = ns.path;
  cleanupNetns = ns.cleanup;
  podServer = await startPodServer(netns, 8080);
  const c = ctr;
  server = await StreamServer.start({
    logger: silentLogger,
    backends: realStreamBackends(c, () => netns),
  });
});

after(async () => {
  await server?.close();
  await ctr?.cleanup();
  podServer?.kill('SIGKILL');
  await cleanupNetns?.();
});

const execUrl = (cmd: string[], o: { tty?: boolean; stdin?: boolean; stderr?: boolean } = {}): string =>
  server!.getExecUrl({ container_id: ctr!.id, cmd, tty: o.tty ?? false, stdin: o.stdin ?? false, stdout: true, stderr: o.stderr ?? false });

test('exec without tty: output, stderr and exit codes 0 and 3', { skip: skip ?? false }, async () => {
  const ok = await spdyExec(execUrl(['sh', '-c', 'echo out; echo err >&2; id -u'], { stderr: true }), { stderr: true });
  assert.equal(ok.stdout.toString(), 'out\n0\n');
  assert.equal(ok.stderr.toString(), 'err\n');
  assert.equal(exitCodeOf(ok.error), 0);
  const three = await spdyExec(execUrl(['sh', '-c', 'exit 3']));
  assert.equal(exitCodeOf(three.error), 3);
});

test('exec: stdin echo through cat, and 10 MB of output', { skip: skip ?? false }, async () => {
  const input = Buffer.from('abc\n'.repeat(50_000));
  const r = await spdyExec(execUrl(['cat'], { stdin: true }), { stdin: input });
  assert.deepEqual(r.stdout, input);
  const big = await spdyExec(execUrl(['head', '-c', String(10 * 1024 * 1024), '/dev/zero']));
  assert.equal(big.stdout.length, 10 * 1024 * 1024);
  assert.equal(exitCodeOf(big.error), 0);
});

test('exec with tty: the terminal follows resizes, and the exit code comes through', { skip: skip ?? false }, async () => {
  // The shell polls its terminal size (at most 10 s) instead of the test guessing when the resize lands.
  const waitForSize = 'i=0; while [ "$(stty size)" != "33 101" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; stty size; exit 7';
  const r = await spdyExec(execUrl(['sh', '-c', waitForSize], { tty: true }), {
    tty: true, resizes: [{ Width: 101, Height: 33 }],
  });
  const text = r.stdout.toString().replace(/\r/g, '');
  assert.match(text, /33 101\n$/);
  assert.equal(exitCodeOf(r.error), 7);
});

test('exec: a client that disconnects mid-stream leaves no process behind', { skip: skip ?? false }, async () => {
  const up = await spdyUpgrade(execUrl(['sleep', '4242']), ['v4.channel.k8s.io']);
  assert.ok(up.upgraded);
  if (!up.upgraded) return;
  up.conn.on('error', () => {});
  await up.conn.openStream({ streamtype: 'error' });
  await up.conn.openStream({ streamtype: 'stdout' });
  for (let i = 0; i < 100 && (await pidsWithCmdline(['sleep', '4242'])).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await pidsWithCmdline(['sleep', '4242'])).length, 1);
  up.socket.destroy();
  for (let i = 0; i < 100 && (await pidsWithCmdline(['sleep', '4242'])).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await pidsWithCmdline(['sleep', '4242']), []);
});

test('port-forward into the pod netns: two parallel connections, and a closed port on the error stream', { skip: skip ?? false }, async () => {
  const up = await spdyUpgrade(server!.getPortForwardUrl({ pod_sandbox_id: 'p1' }), ['portforward.k8s.io']);
  assert.ok(up.upgraded);
  if (!up.upgraded) return;
  const one = async (port: number, id: number, payload: string): Promise<{ data: string; error: string }> => {
    const err = await up.conn.openStream({ streamtype: 'error', port: String(port), requestid: String(id) });
    const errP = readAll(err);
    err.end();
    const data = await up.conn.openStream({ streamtype: 'data', port: String(port), requestid: String(id) });
    const dataP = readAll(data);
    data.end(payload);
    const [d, e] = await Promise.all([dataP, errP]);
    return { data: d.toString(), error: e.toString() };
  };
  const [a, b] = await Promise.all([one(8080, 0, 'a'), one(8080, 1, 'b')]);
  assert.deepEqual([a, b], [{ data: 'pong:a', error: '' }, { data: 'pong:b', error: '' }]);
  const closed = await one(8081, 2, 'x');
  assert.match(closed.error, /connection refused/i);
  up.conn.close();
});

test('attach to the running container via conmon: stdout, stderr, stdin', { skip: skip ?? false }, async () => {
  const url = server!.getAttachUrl({ container_id: ctr!.id, tty: false, stdin: true, stdout: true, stderr: true });
  const r = await spdyExec(url, { stdin: Buffer.from('hello\n'), stderr: true });
  // No replay of earlier output ("started"); the stdin EOF ends the container's read loop (StdinOnce).
  assert.equal(r.stdout.toString(), 'got:hello\nbye\n');
  assert.equal(r.stderr.toString(), 'err:hello\n');
  assert.equal(exitCodeOf(r.error), 0);
});

test('attach with tty: resize through conmon\'s ctl fifo reaches the container terminal', { skip: skip ?? false }, async () => {
  const tty = await startStreamContainer(['sh', '-c', 'while read l; do stty size; done'], { terminal: true });
  const s = await StreamServer.start({
    logger: silentLogger,
    backends: {
      exec: { exec: async () => ({ exitCode: 0 }) },
      attach: createConmonAttachBackend({ relayHelper: RELAY_HELPER, locate: async () => ({ attachSocket: tty.attachSocket, ctlFifo: tty.ctlFifo }) }),
      portForward: { dial: async () => { throw new Error('unused'); } },
    },
  });
  try {
    const up = await spdyUpgrade(s.getAttachUrl({ container_id: tty.id, tty: true, stdin: true, stdout: true, stderr: false }), ['v4.channel.k8s.io']);
    assert.ok(up.upgraded);
    if (!up.upgraded) return;
    up.conn.on('error', () => {});
    await up.conn.openStream({ streamtype: 'error' });
    const stdin = await up.conn.openStream({ streamtype: 'stdin' });
    const stdout = await up.conn.openStream({ streamtype: 'stdout' });
    const resize = await up.conn.openStream({ streamtype: 'resize' });
    let out = '';
    const saw = new Promise<void>((resolve) => stdout.on('data', (b: Buffer) => { out += b.toString(); if (out.includes('33 101')) resolve(); }));
    resize.write(JSON.stringify({ Width: 101, Height: 33 }));
    // Each line makes the shell print its terminal size; keep asking until the resize has landed.
    let seen = false;
    void saw.then(() => { seen = true; });
    for (let i = 0; i < 100 && !seen; i++) {
      stdin.write('x\n');
      await Promise.race([saw, new Promise((r) => setTimeout(r, 100))]);
    }
    assert.match(out.replace(/\r/g, ''), /33 101\n/);
    up.socket.destroy();
  } finally {
    await s.close();
    await tty.cleanup();
  }
});
