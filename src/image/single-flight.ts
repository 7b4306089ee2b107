// In-process single-flight: concurrent callers asking for the same key share one run of the work,
// so two pulls of the same image (or two images sharing a layer) download and unpack it once.
export class SingleFlight<T> {
  private readonly inflight = new Map<string, Promise<T>>();

  do(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return running;
    const p = (async () => {
      try {
        return await work();
      } finally {
        this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, p);
    return p;
  }

  get size(): number {
    return this.inflight.size;
  }
}

/**
 * Shared/exclusive lock: pulls hold it shared, removal and garbage collection exclusive, so GC never
 * deletes a blob or layer a running pull has just decided to reuse.
 */
export class SharedLock {
  private shared = 0;
  private exclusive = false;
  private readonly waiters: Array<{ kind: 'shared' | 'exclusive'; go: () => void }> = [];

  async withShared<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire('shared');
    try { return await fn(); } finally { this.release('shared'); }
  }

  async withExclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire('exclusive');
    try { return await fn(); } finally { this.release('exclusive'); }
  }

  private acquire(kind: 'shared' | 'exclusive'): Promise<void> {
    if (this.canGrant(kind) && this.waiters.length === 0) { this.grant(kind); return Promise.resolve(); }
    return new Promise((resolve) => this.waiters.push({ kind, go: () => { this.grant(kind); resolve(); } }));
  }

  private canGrant(kind: 'shared' | 'exclusive'): boolean {
    return kind === 'shared' ? !this.exclusive : !this.exclusive && this.shared === 0;
  }

  private grant(kind: 'shared' | 'exclusive'): void {
    if (kind === 'shared') this.shared++;
    else this.exclusive = true;
  }

  private release(kind: 'shared' | 'exclusive'): void {
    if (kind === 'shared') this.shared--;
    else this.exclusive = false;
    while (this.waiters.length > 0 && this.canGrant(this.waiters[0]!.kind)) {
      this.waiters.shift()!.go();
    }
  }
}
