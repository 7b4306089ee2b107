// GetContainerEvents: one server stream per subscriber (the kubelet's evented PLEG). Each subscriber reads
// from its own bounded queue (container/events.ts) and honours gRPC flow control: while the client does
// not read, events pile up in that queue only; past its limit the stream ends with RESOURCE_EXHAUSTED.
// The statuses sent are read when the event is delivered (what the kubelet would get from a relist then).
import { CriusError } from '../common/errors.js';
import type { ContainerEvent, ContainerEvents } from '../container/events.js';
import { SubscriberOverrun } from '../container/events.js';
import type { Container } from '../container/types.js';
import type { Pod } from '../pod/types.js';
import type { ContainerEventResponse } from '../generated/runtime/v1/ContainerEventResponse.js';
import { toCriContainerStatus } from './container-handlers.js';
import { toCriPodStatus } from './pod-handlers.js';
import type { ResponseStream } from './rpc-table.js';

interface EventsSources {
  events: ContainerEvents;
  pods: { tryGet(id: string): Pod | undefined };
  containers: { list(podId?: string): Promise<Container[]> };
  /** Per-subscriber queue limit (events). */
  queueLimit?: number;
}

const TYPE = {
  created: 'CONTAINER_CREATED_EVENT',
  started: 'CONTAINER_STARTED_EVENT',
  stopped: 'CONTAINER_STOPPED_EVENT',
  deleted: 'CONTAINER_DELETED_EVENT',
} as const;

async function toResponse(src: EventsSources, e: ContainerEvent): Promise<ContainerEventResponse> {
  const pod = src.pods.tryGet(e.podId) ?? e.podSnapshot;
  const containers = pod ? await src.containers.list(pod.id) : [];
  return {
    container_id: e.containerId,
    container_event_type: TYPE[e.type],
    created_at: String(e.at),
    pod_sandbox_status: pod ? toCriPodStatus(pod) : null,
    containers_statuses: containers.map(toCriContainerStatus),
  };
}

export function makeEventsHandler(src: EventsSources) {
  return async (_req: object, call: ResponseStream<ContainerEventResponse>): Promise<void> => {
    const sub = src.events.subscribe(src.queueLimit);
    // Response headers now, not with the first event: a client (a test, a tool) can tell when its
    // subscription exists, i.e. from when on no event will be missed.
    call.sendHeaders();
    let cancelled = false;
    const stop = (): void => { cancelled = true; sub.close(); };
    call.on('cancelled', stop);
    try {
      for (;;) {
        const e = await sub.next();
        if (!e || cancelled) return;
        const res = await toResponse(src, e);
        if (cancelled) return;
        if (!call.write(res)) {
          // Flow control: wait until the client reads; events meanwhile queue (bounded) in `sub`.
          await new Promise<void>((resolve) => {
            const done = (): void => { call.off('drain', done); call.off('cancelled', done); resolve(); };
            call.on('drain', done);
            call.on('cancelled', done);
          });
        }
      }
    } catch (err) {
      if (err instanceof SubscriberOverrun) throw new CriusError('RESOURCE_EXHAUSTED', `GetContainerEvents: ${err.message}`);
      throw err;
    } finally {
      call.off('cancelled', stop);
      sub.close();
    }
  };
}
