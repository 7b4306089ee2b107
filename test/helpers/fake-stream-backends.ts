// Fake exec/attach/port-forward backends for streaming tests. The exec fake interprets a tiny command set:
//   echo ARGS...   prints ARGS joined by spaces + "\n" (stdout), "err\n" on stderr if requested
//   exit N         exits N
//   cat            copies stdin to stdout until stdin EOF
//   big N          prints N bytes ('x'), honouring backpressure
//   resize N       prints "WxH\n" for the first N resizes, then exits 0
//   hang           waits for the abort signal (client disconnect) and records it
import { once } from 'node:events';
import net from 'node:net';
import type { Duplex, Writable } from 'node:stream';
import type { AttachParams, ExecParams, PortForwardParams, StreamBackends } from '../../src/stream/backend.js';

export interface FakeRecord {
  execs: ExecParams[];
  cancelled: number;
  running: number;
}

async function writeAll(w: Writable, data: Buffer | string): Promise<void> {
  if (w.write(data)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => { w.off('drain', done); w.off('close', done); resolve(); };
    w.on('drain', done);
    w.on('close', done);
  });
}

export function fakeBackends(ports: Record<number, number> = {}): { backends: StreamBackends; record: FakeRecord } {
  const record: FakeRecord = { execs: [], cancelled: 0, running: 0 };
  const backends: StreamBackends = {
    exec: {
      async exec(p: ExecParams) {
        record.execs.push(p);
        record.running++;
        try {
          const [cmd, ...args] = p.cmd;
          switch (cmd) {
            case 'echo':
              if (p.stdout) await writeAll(p.stdout, `${args.join(' ')}\n`);
              if (p.stderr) await writeAll(p.stderr, 'err\n');
              return { exitCode: 0 };
            case 'exit':
              return { exitCode: Number(args[0]) };
            case 'cat':
              if (p.stdin) for await (const chunk of p.stdin) if (p.stdout) await writeAll(p.stdout, chunk as Buffer);
              return { exitCode: 0 };
            case 'big': {
              let left = Number(args[0]);
              const chunk = Buffer.alloc(64 * 1024, 'x');
              while (left > 0 && !p.signal.aborted) {
                const n = Math.min(left, chunk.length);
                await writeAll(p.stdout!, chunk.subarray(0, n));
                left -= n;
              }
              return { exitCode: 0 };
            }
            case 'resize': {
              let n = Number(args[0]);
              if (p.resize) {
                for await (const r of p.resize) {
                  await writeAll(p.stdout!, `${r.width}x${r.height}\n`);
                  if (--n === 0) break;
                }
              }
              return { exitCode: 0 };
            }
            case 'hang':
              await new Promise<void>((resolve) => {
                if (p.signal.aborted) resolve();
                p.signal.addEventListener('abort', () => resolve(), { once: true });
              });
              record.cancelled++;
              return { exitCode: 137 };
            default:
              throw new Error(`executable file not found: ${cmd ?? ''}`);
          }
        } finally {
          record.running--;
        }
      },
    },
    attach: {
      async attach(p: AttachParams) {
        if (p.stdout) await writeAll(p.stdout, `attached to ${p.containerId}\n`);
        if (p.stdin && p.stdout) for await (const chunk of p.stdin) await writeAll(p.stdout, chunk as Buffer);
      },
    },
    portForward: {
      async dial(p: PortForwardParams): Promise<Duplex> {
        const real = ports[p.port];
        if (real === undefined) throw new Error(`dial tcp 127.0.0.1:${p.port}: connect: connection refused`);
        const s = net.connect(real, '127.0.0.1');
        await once(s, 'connect');
        return s;
      },
    },
  };
  return { backends, record };
}
