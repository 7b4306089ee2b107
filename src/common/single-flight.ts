// In-process single-flight: concurrent callers asking for the same key share one run of the work,
// so two pulls of the same image (or two images sharing a layer) download and unpack it once.
// Cancellation is per caller: a caller whose signal aborts stops waiting at once, but the shared work is
// cancelled (through the signal it was given) only when every caller has gone, so one client's short
// deadline never fails another client's pull.
import { CriusError } from './errors.js';

interface Flight<T> {
  promise: Promise<T>;
  ctl: AbortController;
  /** Callers still waiting; callers without a signal never leave early. */
  waiters: number;
}

export class SingleFlight<T> {
  private readonly inflight = new Map<string, Flight<T>>();

  do(key: string, work: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(cancelled(signal));
    let flight = this.inflight.get(key);
    // A flight whose every caller left is being torn down: a newcomer starts afresh.
    if (!flight || flight.ctl.signal.aborted) {
      const ctl = new AbortController();
      let promise: Promise<T>;
      try {
        promise = work(ctl.signal);
      } catch (err) {
        promise = Promise.reject(err);
      }
      const f: Flight<T> = { ctl, waiters: 0, promise };
      this.inflight.set(key, f);
      // Registered before any caller's reaction, so the flight is gone by the time a caller sees the
      // outcome; handling the rejection here also keeps callers that left early from leaving it unhandled.
      const land = (): void => { if (this.inflight.get(key) === f) this.inflight.delete(key); };
      promise.then(land, land);
      flight = f;
    }
    return this.join(flight, signal);
  }

  private join(flight: Flight<T>, signal: AbortSignal | undefined): Promise<T> {
    flight.waiters++;
    if (!signal) return flight.promise;
    return new Promise<T>((resolve, reject) => {
      let left = false;
      const leave = (): void => {
        if (left) return;
        left = true;
        reject(cancelled(signal));
        if (--flight.waiters === 0) flight.ctl.abort(new CriusError('CANCELLED', 'every caller waiting for this work has gone'));
      };
      signal.addEventListener('abort', leave, { once: true });
      flight.promise.then(
        (v) => { if (!left) { left = true; signal.removeEventListener('abort', leave); resolve(v); } },
        (e: unknown) => { if (!left) { left = true; signal.removeEventListener('abort', leave); reject(e); } },
      );
    });
  }

  get size(): number {
    return this.inflight.size;
  }
}

function cancelled(signal: AbortSignal): CriusError {
  const r: unknown = signal.reason;
  return r instanceof CriusError ? r : new CriusError('CANCELLED', 'cancelled by the caller');
}
