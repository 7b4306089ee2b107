// The real PortForwardBackend: connect to localhost:PORT inside the pod's network namespace, as CRI-O
// does with ns.WithNetNSPath + net.Dial (internal/oci/runtime_oci_linux.go). Node cannot setns(), so
// native/crius-relay joins the namespace and relays the TCP connection over its stdio (one short-lived
// process per forwarded connection). Host-network pods dial localhost directly.
// The pod closing its side first (a web server answering and closing) is the normal end of a forwarded
// connection, never an error: the relay then exits, what the client still sends is discarded, and nothing
// may reach the error stream (client-go tears the whole port-forward down on any error-stream text).
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';
import { Duplex, type Readable } from 'node:stream';
import type { PortForwardBackend, PortForwardParams } from './backend.js';
import { tail } from './child-process-util.js';

interface NetnsPortForwardConfig {
  /** Path of native/build/crius-relay. */
  relayHelper: string;
  /** The pod's pinned netns path, or null for a host-network pod. Rejects with NOT_FOUND for unknown pods. */
  netnsPath(podSandboxId: string): Promise<string | null>;
}

export function createNetnsPortForwardBackend(cfg: NetnsPortForwardConfig): PortForwardBackend {
  return {
    async dial(p: PortForwardParams): Promise<Duplex> {
      const netns = await cfg.netnsPath(p.podSandboxId);
      if (netns === null) {
        // allowHalfOpen: the pod's FIN ends only the pod->client direction, as with the relay.
        const s = net.connect({ host: 'localhost', port: p.port, signal: p.signal, allowHalfOpen: true });
        await once(s, 'connect');
        return s;
      }
      const child = spawn(cfg.relayHelper, ['tcp', netns, String(p.port)], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
      // Created now: 'close' can fire in the same tick as 'exit', before a later once() would listen.
      const closed = once(child, 'close').catch(() => undefined);
      const diag = tail(child.stderr);
      const ready = child.stdio[3] as Readable;
      const ok = await new Promise<boolean>((resolve) => {
        ready.once('data', () => resolve(true));
        child.once('exit', () => resolve(false));
        child.once('error', () => resolve(false));
      });
      if (!ok) {
        await closed;
        throw new Error(diag() || `${cfg.relayHelper} failed to connect to port ${p.port}`);
      }
      ready.resume();
      const onAbort = (): void => { child.kill('SIGKILL'); };
      p.signal.addEventListener('abort', onAbort, { once: true });
      child.once('close', () => p.signal.removeEventListener('abort', onAbort));
      return new RelayConnection(child);
    },
  };
}

/**
 * The relay's stdio as one byte stream. Unlike Duplex.from({readable, writable}), which fails with
 * "Premature close" when the relay exits while the client may still write, the relay exiting is an end:
 * stdout's EOF ends the readable side, and writes after the relay is gone are dropped.
 */
class RelayConnection extends Duplex {
  constructor(private readonly child: ChildProcess) {
    super({ allowHalfOpen: true });
    const out = child.stdout!;
    out.on('data', (c: Buffer) => { if (!this.push(c)) out.pause(); });
    out.once('end', () => this.push(null));
    out.on('error', () => this.push(null));
    child.stdin!.on('error', () => { /* the relay exited: later input has nowhere to go */ });
  }

  override _read(): void {
    this.child.stdout!.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const stdin = this.child.stdin!;
    if (stdin.destroyed || !stdin.writable) { cb(); return; }
    stdin.write(chunk, () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    const stdin = this.child.stdin!;
    if (stdin.destroyed || !stdin.writable) { cb(); return; }
    stdin.end(() => cb());
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.child.stdin!.destroy();
    this.child.stdout!.destroy();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    cb(err);
  }
}
