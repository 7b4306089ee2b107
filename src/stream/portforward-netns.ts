// The real PortForwardBackend: connect to localhost:PORT inside the pod's network namespace, as CRI-O
// does with ns.WithNetNSPath + net.Dial (internal/oci/runtime_oci_linux.go). Node cannot setns(), so
// native/crius-relay joins the namespace and relays the TCP connection over its stdio (one short-lived
// process per forwarded connection). Host-network pods dial localhost directly.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';
import { Duplex, type Readable } from 'node:stream';
import type { PortForwardBackend, PortForwardParams } from './backend.js';
import { tail } from './child-process-util.js';

export interface NetnsPortForwardConfig {
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
        const s = net.connect({ host: 'localhost', port: p.port, signal: p.signal });
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
      child.stdin.on('error', () => {});
      const duplex = Duplex.from({ readable: child.stdout, writable: child.stdin });
      duplex.once('close', () => child.kill('SIGKILL'));
      return duplex;
    },
  };
}
