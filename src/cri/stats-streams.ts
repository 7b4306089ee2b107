// StreamContainerStats, StreamPodSandboxStats, StreamPodSandboxMetrics (CRI list streaming, feature gate
// CRIListStreaming): the List* answer sent in batches of at most BATCH items, each item exactly once, no
// empty batch, then the stream closes. Keeps each message far below the 16 MiB gRPC limit on big nodes.
import type { ResponseStream } from './rpc-table.js';

const BATCH = 100;

async function writeBatches(call: ResponseStream<object>, field: string, items: unknown[]): Promise<void> {
  for (let i = 0; i < items.length && !call.cancelled; i += BATCH) {
    if (!call.write({ [field]: items.slice(i, i + BATCH) })) {
      await new Promise<void>((resolve) => {
        const done = (): void => { call.off('drain', done); call.off('cancelled', done); resolve(); };
        call.on('drain', done);
        call.on('cancelled', done);
      });
    }
  }
}

interface ListHandlers {
  ListContainerStats(req: object): Promise<{ stats: unknown[] }>;
  ListPodSandboxStats(req: object): Promise<{ stats: unknown[] }>;
  ListPodSandboxMetrics(req: object): Promise<{ pod_metrics: unknown[] }>;
}

export function makeStatsStreamHandlers(list: ListHandlers) {
  return {
    StreamContainerStats: async (req: { filter?: object | null }, call: ResponseStream<object>): Promise<void> => {
      await writeBatches(call, 'container_stats', (await list.ListContainerStats({ filter: req.filter ?? null })).stats);
    },
    StreamPodSandboxStats: async (req: { filter?: object | null }, call: ResponseStream<object>): Promise<void> => {
      await writeBatches(call, 'pod_sandbox_stats', (await list.ListPodSandboxStats({ filter: req.filter ?? null })).stats);
    },
    StreamPodSandboxMetrics: async (_req: object, call: ResponseStream<object>): Promise<void> => {
      await writeBatches(call, 'pod_sandbox_metrics', (await list.ListPodSandboxMetrics({})).pod_metrics);
    },
  };
}
