// The daemon's metrics when [metrics] port = 0 (the default): no endpoint, so nothing is counted, and
// prom-client (tens of milliseconds to load, megabytes retained) is never imported. metrics.ts is loaded
// only when a port is set.
import type { DaemonMetrics } from './metrics.js';

export const METRICS_OFF: DaemonMetrics = {
  registry: undefined,
  observeRpc: () => undefined,
  observeOci: () => undefined,
  observePull: () => undefined,
};
