// Measures for the daemon's metrics: the OCI runtime calls of the oci adapter
// (crius_oci_runtime_duration_seconds; the handler-taking methods are wrapped in place, so every caller,
// containers, infra and exec, is measured) and PullImage (withPullMetrics).
import type { OciAdapter } from './adapters/oci.js';
import type { DaemonMetrics } from './metrics.js';
import type { ImageRpc } from '../cri/rpc-table.js';
import type { ImageStore } from '../image/image-store.js';

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

/**
 * PullImage counted for the metrics (crius_image_pull_*): its duration and outcome, and the bytes of an
 * image that was not present before the pull (a pull of a present image downloads nothing).
 */
export function withPullMetrics(pull: ImageRpc<'PullImage'>, images: Pick<ImageStore, 'findId' | 'info'>, metrics: DaemonMetrics): ImageRpc<'PullImage'> {
  return async (req, ctx) => {
    const t0 = performance.now();
    let before: string | undefined;
    try {
      before = images.findId(req.image?.image ?? '');
    } catch { /* a bad reference: PullImage itself says what is wrong */ }
    try {
      const res = await pull(req, ctx);
      metrics.observePull({ ok: true, seconds: (performance.now() - t0) / 1000, bytes: before === undefined ? images.info(res.image_ref ?? '')?.size ?? 0 : 0 });
      return res;
    } catch (err) {
      metrics.observePull({ ok: false, seconds: (performance.now() - t0) / 1000, bytes: 0 });
      throw err;
    }
  };
}
