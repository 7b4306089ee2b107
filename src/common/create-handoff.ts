// Name reservations for RunPodSandbox and CreateContainer, and the hand-off of a create that outlived
// its caller (the same idea as CRI-O's resourcestore). The kubelet gives each create a deadline and, when
// it passes, cancels and retries with the same name. The create goes on (undoing half of it on a cancel
// would only make the retry slower and racier); when it finishes and its caller is gone, the object is
// kept for the retry, which gets the same ID instead of a second object or an endless "name in use".
// An object nobody asks for within the grace period is removed.
import { alreadyExists, CriusError } from './errors.js';

interface Entry {
  /** Settles once the create under this name finished (either way). */
  done: Promise<void>;
  /** The signal of the call that started it: aborted = its caller cancelled or its deadline passed. */
  signal?: AbortSignal;
  /** Set when the create finished after its caller left: the ID waiting for a retry. */
  orphan?: string;
  timer?: NodeJS.Timeout;
}

interface CreateHandoffOptions {
  /** How long a finished create waits for its caller's retry before it is abandoned. */
  graceMs: number;
  /** Removes an object nobody claimed (idempotent; errors are the callee's to log). */
  abandon(id: string): Promise<void>;
  /** Whether the object still exists (it may have been removed by ID meanwhile). */
  exists(id: string): boolean;
}

export class CreateHandoff {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly o: CreateHandoffOptions) {}

  /**
   * Runs create under the name `key` (what the object is called in messages: `what`). While it runs, the
   * name is reserved: another create of it is ALREADY_EXISTS naming the holder, unless the holder's caller
   * already left, in which case this one waits for it and takes its result. Returns the object's ID.
   */
  async run(key: string, what: string, signal: AbortSignal | undefined, create: () => Promise<string>): Promise<string> {
    for (;;) {
      const e = this.entries.get(key);
      if (!e) break;
      if (e.orphan !== undefined) {
        const id = e.orphan;
        this.drop(key, e);
        if (this.o.exists(id)) return id;
        continue;
      }
      if (!e.signal?.aborted) {
        throw alreadyExists(`${what}: the name is reserved by a create still in progress; retry when it has finished`);
      }
      // The first caller left: this retry waits for its create (bounded by its own deadline) and takes it.
      await Promise.race([e.done, aborted(signal, what)]);
    }
    let settle!: () => void;
    const entry: Entry = { done: new Promise<void>((r) => { settle = r; }), signal };
    this.entries.set(key, entry);
    try {
      const id = await create();
      if (signal?.aborted) {
        entry.orphan = id;
        entry.timer = setTimeout(() => {
          if (this.entries.get(key) !== entry) return;
          this.entries.delete(key);
          void this.o.abandon(id);
        }, this.o.graceMs);
        entry.timer.unref();
      } else {
        this.entries.delete(key);
      }
      return id;
    } catch (err) {
      this.entries.delete(key);
      throw err;
    } finally {
      settle();
    }
  }

  /** IDs kept for a retry (for diagnostics and tests). */
  orphans(): string[] {
    return [...this.entries.values()].flatMap((e) => (e.orphan === undefined ? [] : [e.orphan]));
  }

  private drop(key: string, e: Entry): void {
    if (e.timer) clearTimeout(e.timer);
    this.entries.delete(key);
  }
}

function aborted(signal: AbortSignal | undefined, what: string): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (!signal) return;
    const fail = (): void => reject(new CriusError('CANCELLED', `${what}: cancelled while waiting for an earlier create of the same name`));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}
