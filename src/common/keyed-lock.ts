// One lock per key (a pod ID, a container ID, a CNI attachment), taken shared or exclusive, first come
// first served. Why in-process and keyed: the daemon is one Node process, so ordering the async steps of
// calls on the same object is all that is needed; keys nobody holds cost nothing (their entry is dropped).
//
// Lock order (docs/ARCHITECTURE.md, "Lock order"): a pod's lock before any of its containers' locks, and
// at most one pod lock at a time. Container calls hold their pod's lock shared (so a pod's Stop/Remove,
// which hold it exclusive, wait for creates and starts in flight and no call sees a half-removed pod),
// then their container's lock exclusive.

type Mode = 'shared' | 'exclusive';

interface Waiter { mode: Mode; wake: () => void }

interface Entry {
  /** >0: that many shared holders; -1: one exclusive holder; 0: free. */
  held: number;
  queue: Waiter[];
}

export class KeyedLock {
  private readonly entries = new Map<string, Entry>();

  /** Runs fn while holding key exclusively. */
  exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.with(key, 'exclusive', fn);
  }

  /** Runs fn while holding key shared with other shared holders (no exclusive holder meanwhile). */
  shared<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.with(key, 'shared', fn);
  }

  /** Whether anyone holds or waits for key (for tests and diagnostics). */
  busy(key: string): boolean {
    return this.entries.has(key);
  }

  private async with<T>(key: string, mode: Mode, fn: () => Promise<T>): Promise<T> {
    await this.acquire(key, mode);
    try {
      return await fn();
    } finally {
      this.release(key);
    }
  }

  private acquire(key: string, mode: Mode): Promise<void> {
    let e = this.entries.get(key);
    if (!e) {
      e = { held: 0, queue: [] };
      this.entries.set(key, e);
    }
    // FIFO: a shared request queues behind a waiting exclusive one, so writers are not starved.
    if (e.queue.length === 0 && (e.held === 0 || (mode === 'shared' && e.held > 0))) {
      e.held = mode === 'exclusive' ? -1 : e.held + 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => e!.queue.push({ mode, wake: resolve }));
  }

  private release(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.held = e.held === -1 ? 0 : e.held - 1;
    while (e.queue.length > 0) {
      const next = e.queue[0]!;
      if (next.mode === 'exclusive') {
        if (e.held !== 0) break;
        e.queue.shift();
        e.held = -1;
        next.wake();
        break;
      }
      if (e.held === -1) break;
      e.queue.shift();
      e.held++;
      next.wake();
    }
    if (e.held === 0 && e.queue.length === 0) this.entries.delete(key);
  }
}

/** The lock keys of the lifecycle objects (one namespace: a pod and a container never share a key). */
export const podLockKey = (podId: string): string => `pod:${podId}`;
export const containerLockKey = (id: string): string => `container:${id}`;
