// A streaming client for tests that speaks what client-go (kubectl, crictl, the kubelet proxy) speaks:
// HTTP upgrade to SPDY/3.1, then remotecommand or portforward streams. Built on crius's own framer in
// client mode, so it tests the protocol logic, not byte-for-byte Go compatibility (crictl does that).
import http from 'node:http';
import type { Socket } from 'node:net';
import { SpdyConnection, type SpdyStream } from '../../src/stream/spdy/connection.js';

type UpgradeResult =
  | { upgraded: true; conn: SpdyConnection; protocol: string; socket: Socket }
  | { upgraded: false; status: number; headers: http.IncomingHttpHeaders; body: string };

export function spdyUpgrade(url: string, protocols: string[], method = 'POST'): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method,
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocols },
    });
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      const conn = new SpdyConnection(socket, { isServer: false });
      conn.feed(head);
      resolve({ upgraded: true, conn, protocol: String(res.headers['x-stream-protocol-version'] ?? ''), socket });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ upgraded: false, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Everything the stream delivers; with countOnly an empty buffer whose `counted` property holds the byte count. */
export function readAll(s: SpdyStream, countOnly = false): Promise<Buffer & { counted?: number }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let done = false;
    const finish = (): void => { if (!done) { done = true; resolve(countOnly ? Object.assign(Buffer.alloc(0), { counted: n }) : Buffer.concat(chunks)); } };
    s.on('data', (c: Buffer) => { if (countOnly) n += c.length; else chunks.push(c); });
    s.on('end', finish);
    s.on('close', finish);
    s.on('error', finish);
  });
}

interface ExecClientOptions {
  protocols?: string[];
  tty?: boolean;
  stdin?: Buffer | null;
  /** Keep stdin open (no FIN) until this promise settles. */
  holdStdinUntil?: Promise<unknown>;
  stdout?: boolean;
  stderr?: boolean;
  resizes?: Array<{ Width: number; Height: number }>;
  /** Count stdout bytes instead of keeping them (benchmarks): stdout is then empty, stdoutBytes counts. */
  countOnly?: boolean;
}

interface ExecClientResult {
  protocol: string;
  stdout: Buffer;
  stdoutBytes: number;
  stderr: Buffer;
  /** The raw error-stream bytes (v4: the metav1.Status JSON). */
  error: string;
}

/** Runs one remotecommand session the way client-go's v4 executor does: streams error, stdin, stdout, stderr, resize. */
export async function spdyExec(url: string, o: ExecClientOptions = {}): Promise<ExecClientResult> {
  const up = await spdyUpgrade(url, o.protocols ?? ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io']);
  if (!up.upgraded) throw new Error(`upgrade refused: ${up.status} ${up.body}`);
  const { conn } = up;
  conn.on('error', () => {});
  const errorStream = await conn.openStream({ streamtype: 'error' });
  const errorP = readAll(errorStream);
  errorStream.end();
  let stdinStream: SpdyStream | undefined;
  if (o.stdin !== undefined && o.stdin !== null) stdinStream = await conn.openStream({ streamtype: 'stdin' });
  const stdoutStream = o.stdout !== false ? await conn.openStream({ streamtype: 'stdout' }) : undefined;
  const stderrStream = o.stderr && !o.tty ? await conn.openStream({ streamtype: 'stderr' }) : undefined;
  const resizeStream = o.tty ? await conn.openStream({ streamtype: 'resize' }) : undefined;
  for (const s of [stdoutStream, stderrStream]) s?.end();
  const outP = stdoutStream ? readAll(stdoutStream, o.countOnly) : Promise.resolve(Buffer.alloc(0));
  const errP = stderrStream ? readAll(stderrStream) : Promise.resolve(Buffer.alloc(0));
  if (resizeStream) {
    resizeStream.resume();
    for (const r of o.resizes ?? []) resizeStream.write(JSON.stringify(r));
  }
  if (stdinStream) {
    stdinStream.resume();
    stdinStream.write(o.stdin!);
    if (o.holdStdinUntil) await o.holdStdinUntil.catch(() => undefined);
    stdinStream.end();
  }
  const [stdout, stderr, error] = await Promise.all([outP, errP, errorP]);
  conn.close();
  return { protocol: up.protocol, stdout, stdoutBytes: (stdout as { counted?: number }).counted ?? stdout.length, stderr, error: error.toString() };
}

/** The exit code client-go would derive from a v4 status (0 on Success). */
export function exitCodeOf(status: string): number | 'error' {
  if (status === '') return 0;
  const s = JSON.parse(status) as { status?: string; reason?: string; details?: { causes?: Array<{ reason?: string; message?: string }> } };
  if (s.status === 'Success') return 0;
  if (s.reason === 'NonZeroExitCode') {
    const c = s.details?.causes?.find((x) => x.reason === 'ExitCode');
    return Number(c?.message);
  }
  return 'error';
}
