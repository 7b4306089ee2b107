// Container lifecycle events for GetContainerEvents (the kubelet's evented PLEG, KEP-3386). Emitting
// never blocks and never fails: each subscriber has a bounded queue; one that falls further behind than
// its queue allows is cut off (its stream ends with RESOURCE_EXHAUSTED and the kubelet falls back to
// relisting), so a slow or stuck client cannot grow the daemon's memory or delay a lifecycle call.
// The pod sandbox's own lifecycle is reported the same way, with the sandbox ID as container_id
// (containerd does the same; the evented PLEG needs it to see a pod's sandbox come and go).
import type { Pod } from '../pod/types.js';

export type ContainerEventType = 'created' | 'started' | 'stopped' | 'deleted';

export interface ContainerEvent {
  /** The container's ID, or the pod's for a sandbox event. */
  containerId: string;
  podId: string;
  type: ContainerEventType;
  /** Unix nanoseconds. */
  at: bigint;
  /** The pod as it was when the event happened, for when it is gone by delivery (sandbox deleted). */
  podSnapshot?: Pod;
}

export interface EventSink {
  emit(e: ContainerEvent): void;
}

interface Subscription {
  /** The next event; rejects once the subscriber overran its queue; resolves undefined once closed. */
  next(): Promise<ContainerEvent | undefined>;
  close(): void;
  /** True once this subscriber fell too far behind and was cut off (its queued events are dropped). */
  readonly overrun: boolean;
}

export class SubscriberOverrun extends Error {
  constructor(limit: number) {
    super(`the event subscriber fell more than ${limit} events behind and was disconnected; resubscribe and relist`);
  }
}

class Sub implements Subscription {
  private readonly queue: ContainerEvent[] = [];
  private waiter: ((e: ContainerEvent | undefined) => void) | undefined;
  private failer: ((err: Error) => void) | undefined;
  private closed = false;
  overrun = false;

  constructor(private readonly limit: number, private readonly onClose: (s: Sub) => void) {}

  push(e: ContainerEvent): void {
    if (this.closed) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      this.failer = undefined;
      w(e);
      return;
    }
    if (this.queue.length >= this.limit) {
      this.overrun = true;
      this.queue.length = 0;
      this.close();
      return;
    }
    this.queue.push(e);
  }

  next(): Promise<ContainerEvent | undefined> {
    const e = this.queue.shift();
    if (e) return Promise.resolve(e);
    if (this.overrun) return Promise.reject(new SubscriberOverrun(this.limit));
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => { this.waiter = resolve; this.failer = reject; });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
    const w = this.waiter;
    const f = this.failer;
    this.waiter = undefined;
    this.failer = undefined;
    if (this.overrun && f) f(new SubscriberOverrun(this.limit));
    else if (w) w(undefined);
  }
}

export class ContainerEvents implements EventSink {
  private readonly subs = new Set<Sub>();

  constructor(private readonly queueLimit = 1000) {}

  emit(e: ContainerEvent): void {
    for (const s of [...this.subs]) s.push(e);
  }

  subscribe(limit = this.queueLimit): Subscription {
    const s = new Sub(limit, (x) => this.subs.delete(x));
    this.subs.add(s);
    return s;
  }

  subscribers(): number {
    return this.subs.size;
  }
}
