// Times the OCI runtime calls of the oci adapter for the daemon's metrics (crius_oci_runtime_duration_seconds):
// wraps the handler-taking methods in place, so every caller (containers, infra, exec) is measured.
import type { OciAdapter } from './adapters/oci.js';
import type { DaemonMetrics } from './metrics.js';

const TIMED = ['create', 'start', 'kill', 'delete', 'update', 'execSync'] as const;

export function instrumentOci(oci: OciAdapter, metrics: DaemonMetrics): void {
  const timed = <A extends unknown[], R>(op: (typeof TIMED)[number], f: (handler: string, ...rest: A) => Promise<R>) =>
    async (handler: string, ...rest: A): Promise<R> => {
      const t0 = performance.now();
      let ok = false;
      try {
        const r = await f.call(oci, handler, ...rest);
        ok = true;
        return r;
      } finally {
        metrics.observeOci(handler, op, (performance.now() - t0) / 1000, ok);
      }
    };
  oci.create = timed('create', oci.create);
  oci.start = timed('start', oci.start);
  oci.kill = timed('kill', oci.kill);
  oci.delete = timed('delete', oci.delete);
  oci.update = timed('update', oci.update);
  oci.execSync = timed('execSync', oci.execSync);
}
