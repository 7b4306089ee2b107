// The daemon's own Prometheus metrics (prom-client, a registry of our own: nothing global): CRI RPC
// counts and latencies per method and code, pods and containers by state (read at scrape time), image
// pulls (bytes and durations), OCI runtime call latencies per handler and operation, plus Node's process
// metrics. Served by metrics-server.ts.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

interface RpcObservation {
  /** Full gRPC method, e.g. runtime.v1.RuntimeService/RunPodSandbox. */
  method: string;
  /** gRPC code name, e.g. OK, NOT_FOUND. */
  code: string;
  durationMs: number;
}

interface StateCounts {
  pods(): Promise<Record<string, number>> | Record<string, number>;
  containers(): Promise<Record<string, number>> | Record<string, number>;
}

export interface DaemonMetrics {
  /** Undefined when metrics are off ([metrics] port = 0): see metrics-off.ts. */
  registry: Registry | undefined;
  observeRpc(o: RpcObservation): void;
  observeOci(handler: string, op: string, seconds: number, ok: boolean): void;
  observePull(o: { bytes: number; seconds: number; ok: boolean }): void;
}

// RPCs range from sub-millisecond (Version) to minutes (PullImage of a big image).
const RPC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const OCI_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const PULL_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export function createDaemonMetrics(states: StateCounts): DaemonMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'crius_' });
  const rpcs = new Counter({ name: 'crius_cri_requests_total', help: 'CRI RPCs served, by method and gRPC code.', labelNames: ['method', 'code'], registers: [registry] });
  const rpcLatency = new Histogram({ name: 'crius_cri_request_duration_seconds', help: 'CRI RPC latency, by method and gRPC code.', labelNames: ['method', 'code'], buckets: RPC_BUCKETS, registers: [registry] });
  const oci = new Histogram({ name: 'crius_oci_runtime_duration_seconds', help: 'OCI runtime calls (through conmon for create), by handler, operation and outcome.', labelNames: ['handler', 'operation', 'result'], buckets: OCI_BUCKETS, registers: [registry] });
  const pullBytes = new Counter({ name: 'crius_image_pull_bytes_total', help: 'Bytes of images pulled that were not present before (compressed blobs + config).', registers: [registry] });
  const pulls = new Histogram({ name: 'crius_image_pull_duration_seconds', help: 'PullImage durations, by outcome.', labelNames: ['result'], buckets: PULL_BUCKETS, registers: [registry] });
  // Scrape-time gauges: the store is the source of truth, so no counter can drift from it.
  new Gauge({
    name: 'crius_pods', help: 'Pod sandboxes by state.', labelNames: ['state'], registers: [registry],
    async collect() {
      this.reset();
      for (const [state, n] of Object.entries(await states.pods())) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'crius_containers', help: 'Containers by state.', labelNames: ['state'], registers: [registry],
    async collect() {
      this.reset();
      for (const [state, n] of Object.entries(await states.containers())) this.set({ state }, n);
    },
  });
  return {
    registry,
    observeRpc: (o) => {
      const short = o.method.slice(o.method.lastIndexOf('/') + 1);
      rpcs.inc({ method: short, code: o.code });
      rpcLatency.observe({ method: short, code: o.code }, o.durationMs / 1000);
    },
    observeOci: (handler, op, seconds, ok) => oci.observe({ handler, operation: op, result: ok ? 'ok' : 'error' }, seconds),
    observePull: (o) => {
      if (o.ok && o.bytes > 0) pullBytes.inc(o.bytes);
      pulls.observe({ result: o.ok ? 'ok' : 'error' }, o.seconds);
    },
  };
}

/** Counts by state, every known state present (0s included) so series do not vanish. Pure. */
export function countBy<T>(items: T[], state: (x: T) => string, known: string[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(known.map((k) => [k, 0]));
  for (const x of items) out[state(x)] = (out[state(x)] ?? 0) + 1;
  return out;
}
