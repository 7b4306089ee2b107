// `crius exec -it`: the CRI Exec RPC hands back a one-time URL of the daemon's streaming server; we speak
// the kubelet/kubectl WebSocket protocol v5.channel.k8s.io to it (one channel byte per message: 0 stdin,
// 1 stdout, 2 stderr, 3 error/status, 4 resize; [255, 0] closes stdin).
import WebSocket from 'ws';

interface ExecStreamOptions { url: string; tty: boolean; stdin: boolean }

interface K8sStatus { status?: string; message?: string; details?: { causes?: { reason?: string; message?: string }[] } }

function exitCodeFromStatus(s: K8sStatus): number {
  if (s.status === 'Success') return 0;
  const c = s.details?.causes?.find((x) => x.reason === 'ExitCode');
  return c?.message ? Number(c.message) : 1;
}

export function execStream(o: ExecStreamOptions): Promise<number> {
  const url = o.url.replace(/^http/, 'ws');
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['v5.channel.k8s.io', 'v4.channel.k8s.io']);
    let code: number | undefined;
    const stdin = process.stdin;
    const restore = (): void => {
      if (o.tty && stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      process.stdout.off('resize', resize);
    };
    const resize = (): void => {
      if (ws.readyState !== WebSocket.OPEN || !process.stdout.columns) return;
      ws.send(Buffer.concat([Buffer.from([4]), Buffer.from(JSON.stringify({ Width: process.stdout.columns, Height: process.stdout.rows }))]));
    };
    ws.on('open', () => {
      if (o.tty) { resize(); process.stdout.on('resize', resize); }
      if (o.stdin) {
        if (o.tty && stdin.isTTY) stdin.setRawMode(true);
        stdin.on('data', (b: Buffer) => { if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat([Buffer.from([0]), b])); });
        stdin.on('end', () => { if (ws.readyState === WebSocket.OPEN && ws.protocol === 'v5.channel.k8s.io') ws.send(Buffer.from([255, 0])); });
        stdin.resume();
      }
    });
    ws.on('message', (data: Buffer) => {
      const ch = data[0];
      const payload = data.subarray(1);
      if (ch === 1) process.stdout.write(payload);
      else if (ch === 2) process.stderr.write(payload);
      else if (ch === 3 && payload.length > 0) {
        try { code = exitCodeFromStatus(JSON.parse(payload.toString('utf8')) as K8sStatus); } catch { process.stderr.write(payload); code = 1; }
      }
    });
    ws.on('close', () => { restore(); resolve(code ?? 0); });
    ws.on('error', (err) => { restore(); reject(err); });
  });
}
