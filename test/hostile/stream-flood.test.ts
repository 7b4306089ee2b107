// A hostile streaming client (issue 13 item 3): it floods stdin into an exec whose process never reads it
// (`sleep 600`), over SPDY and over WebSocket, for up to 1 GiB. The daemon must buffer only a bounded amount
// per stream (it stops reading the client's socket instead), so its RSS stays flat; it keeps answering CRI
// calls meanwhile, and once the client goes, the exec'd process is killed and nothing is held.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { WebSocket } from 'ws';
import { containerConfig, podConfig, removePod, runContainer, startCriNode, type CriNode } from '../helpers/cri-fixture.js';
import { waitFor } from '../helpers/daemon.js';
import { spdyExec, spdyUpgrade } from '../helpers/spdy-client.js';
import { RELAY_HELPER } from '../helpers/stream-container.js';

const GiB = 1024 * 1024 * 1024;
/** How long the attack may go on; not an assertion, only a cap on a flood the daemon throttles. */
const ATTACK_MS = 15_000;
/** The bound on the daemon's growth, whatever the client sends. */
const MAX_GROWTH = 20 * 1024 * 1024;

let node: CriNode;
let podId = '';
let containerId = '';

before(async () => {
  node = await startCriNode({ tag: 'hf', subnet: 117 });
  const pod = podConfig(node);
  ({ podId, containerId } = await runContainer(node, pod, containerConfig(node, 'sleeper', ['sleep', '3600'])));
  // A pod-side server that accepts one connection and never reads from it.
  const { container_id: listener } = await node.call<{ container_id: string }>('CreateContainer', {
    pod_sandbox_id: podId, config: containerConfig(node, 'listener', ['nc', '-l', '-p', '8080', '-e', 'sleep', '600']), sandbox_config: pod,
  });
  await node.call('StartContainer', { container_id: listener });
  // Warm up the streaming path so the baseline includes its code and buffers.
  const { url } = await node.call<{ url: string }>('Exec', { container_id: containerId, cmd: ['cat'], stdin: true, stdout: true });
  await spdyExec(url, { stdin: Buffer.alloc(4 * 1024 * 1024, 0x61), stdout: true, countOnly: true });
});

after(async () => {
  if (podId) await removePod(node, podId).catch(() => undefined);
  await node?.cleanup();
});

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;

function running(cmdline: string): boolean {
  for (const e of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(e)) continue;
    try { if (readFileSync(`/proc/${e}/cmdline`, 'utf8').startsWith(cmdline)) return true; } catch { /* gone */ }
  }
  return false;
}
const sleepersRunning = (): boolean => running('sleep\x00600\x00');

function settle(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Writes up to 1 GiB with `write` until the deadline; `write` resolves when the transport takes more. */
async function flood(write: (chunk: Buffer) => Promise<void>): Promise<number> {
  const chunk = Buffer.alloc(256 * 1024, 0x78);
  const deadline = Date.now() + ATTACK_MS;
  let sent = 0;
  while (sent < GiB && Date.now() < deadline) {
    const left = deadline - Date.now();
    const ok = await Promise.race([write(chunk).then(() => true), settle(left).then(() => false)]);
    if (!ok) break;
    sent += chunk.length;
  }
  return sent;
}

async function measure(t: { diagnostic(s: string): void }, label: string, attack: () => Promise<{ sent: number; stop: () => void }>, gone: () => boolean = () => !sleepersRunning()): Promise<void> {
  const pid = node.daemon.proc.pid!;
  const before = rss(pid);
  const { sent, stop } = await attack();
  const during = rss(pid);
  // The daemon still serves CRI while a stream is throttled.
  const v = await node.call<{ runtime_name: string }>('Version', {});
  assert.equal(v.runtime_name, 'crius');
  stop();
  await waitFor(gone, 20_000, 'the session\'s processes to be gone after the client left');
  await settle(500);
  const afterEnd = rss(pid);
  t.diagnostic(`${label}: client pushed ${mb(sent)}; daemon RSS ${mb(before)} -> ${mb(during)} during (+${mb(during - before)}), ${mb(afterEnd)} after the client left`);
  assert.ok(during - before < MAX_GROWTH, `${label}: daemon RSS grew by ${mb(during - before)} while the client pushed ${mb(sent)} (bound ${mb(MAX_GROWTH)})`);
  assert.ok(afterEnd - before < MAX_GROWTH, `${label}: daemon RSS still ${mb(afterEnd - before)} above the baseline after the stream ended`);
}

test('SPDY: 1 GiB of stdin into a process that never reads it', async (t) => {
  await measure(t, 'SPDY', async () => {
    const { url } = await node.call<{ url: string }>('Exec', { container_id: containerId, cmd: ['sleep', '600'], stdin: true, stdout: true });
    const up = await spdyUpgrade(url, ['v4.channel.k8s.io']);
    if (!up.upgraded) throw new Error(`upgrade refused: ${up.status}`);
    up.conn.on('error', () => {});
    (await up.conn.openStream({ streamtype: 'error' })).resume();
    const stdin = await up.conn.openStream({ streamtype: 'stdin' });
    (await up.conn.openStream({ streamtype: 'stdout' })).resume();
    stdin.on('error', () => {});
    const sent = await flood(async (c) => { if (!stdin.write(c)) await once(stdin, 'drain'); });
    return { sent, stop: () => up.socket.destroy() };
  });
});

test('WebSocket (v5.channel.k8s.io): 1 GiB of stdin into a process that never reads it', async (t) => {
  await measure(t, 'WebSocket', async () => {
    const { url } = await node.call<{ url: string }>('Exec', { container_id: containerId, cmd: ['sleep', '600'], stdin: true, stdout: true });
    const ws = new WebSocket(url.replace(/^http/, 'ws'), ['v5.channel.k8s.io']);
    ws.on('error', () => {});
    await once(ws, 'open');
    ws.on('message', () => {});
    const sent = await flood((c) => new Promise<void>((resolve) => {
      ws.send(Buffer.concat([Buffer.from([0]), c]), () => resolve());
    }));
    return { sent, stop: () => ws.terminate() };
  });
});

test('port-forward over SPDY: 1 GiB into a pod connection that is never read', async (t) => {
  const { url } = await node.call<{ url: string }>('PortForward', { pod_sandbox_id: podId, port: [8080] });
  const up = await spdyUpgrade(url, ['portforward.k8s.io']);
  if (!up.upgraded) throw new Error(`upgrade refused: ${up.status}`);
  up.conn.on('error', () => {});
  // nc may not listen yet right after StartContainer: a refused dial shows on the error stream.
  let data: Awaited<ReturnType<typeof up.conn.openStream>> | undefined;
  for (let i = 0; i < 50 && !data; i++) {
    const err = await up.conn.openStream({ streamtype: 'error', port: '8080', requestid: String(i) });
    let errText = '';
    err.on('data', (b: Buffer) => { errText += b.toString(); });
    err.end();
    const d = await up.conn.openStream({ streamtype: 'data', port: '8080', requestid: String(i) });
    d.on('error', () => {});
    await settle(300);
    if (errText === '') data = d; else await settle(200);
  }
  assert.ok(data, 'the pod\'s listener accepted a connection');
  const relays = (): boolean => running(`${RELAY_HELPER}\x00tcp\x00`);
  assert.equal(relays(), true);
  await measure(t, 'port-forward', async () => {
    const s = data!;
    const sent = await flood(async (c) => { if (!s.write(c)) await once(s, 'drain'); });
    return { sent, stop: () => up.socket.destroy() };
  }, () => !relays());
});

test('flow control resumes: 64 MiB of stdin into `busybox wc -c` arrive whole over SPDY and WebSocket', async () => {
  const size = 64 * 1024 * 1024;
  const input = Buffer.alloc(size, 0x79);
  const { url } = await node.call<{ url: string }>('Exec', { container_id: containerId, cmd: ['busybox', 'wc', '-c'], stdin: true, stdout: true });
  const r = await spdyExec(url, { stdin: input, stdout: true });
  assert.equal(r.stdout.toString().trim(), String(size), r.error);

  const { url: wsUrl } = await node.call<{ url: string }>('Exec', { container_id: containerId, cmd: ['busybox', 'wc', '-c'], stdin: true, stdout: true });
  const ws = new WebSocket(wsUrl.replace(/^http/, 'ws'), ['v5.channel.k8s.io']);
  let out = '';
  ws.on('message', (m: Buffer) => { if (m[0] === 1) out += m.subarray(1).toString(); });
  const closed = once(ws, 'close');
  await once(ws, 'open');
  for (let off = 0; off < size; off += 32 * 1024) {
    await new Promise<void>((resolve) => ws.send(Buffer.concat([Buffer.from([0]), input.subarray(off, off + 32 * 1024)]), () => resolve()));
  }
  ws.send(Buffer.from([255, 0])); // v5: close stdin
  await closed;
  assert.equal(out.trim(), String(size));
});
