import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SingleFlight } from '../../../src/common/single-flight.js';

test('single flight: concurrent callers share one run; a later call runs again', async () => {
  const sf = new SingleFlight<number>();
  let runs = 0;
  const work = async (): Promise<number> => { runs++; await new Promise((r) => setTimeout(r, 5)); return runs; };
  const out = await Promise.all([sf.do('k', work), sf.do('k', work), sf.do('k', work)]);
  assert.deepEqual(out, [1, 1, 1]);
  assert.equal(await sf.do('k', work), 2);
  assert.equal(sf.size, 0);
  await assert.rejects(sf.do('e', async () => { throw new Error('boom'); }), /boom/);
  assert.equal(sf.size, 0);
});

test('single flight: a caller that gives up leaves at once; the shared work is cancelled only when every caller has gone', async () => {
  const sf = new SingleFlight<string>();
  let workSignal: AbortSignal | undefined;
  let finish!: (v: string) => void;
  const work = (signal: AbortSignal): Promise<string> => {
    workSignal = signal;
    return new Promise<string>((resolve, reject) => {
      finish = resolve;
      signal.addEventListener('abort', () => reject(new Error('work aborted')), { once: true });
    });
  };
  const a = new AbortController();
  const b = new AbortController();
  const pa = sf.do('k', work, a.signal);
  const pb = sf.do('k', work, b.signal);
  const pc = sf.do('k', work); // no signal: never leaves early
  a.abort();
  await assert.rejects(pa, (e: { code?: string }) => e.code === 'CANCELLED');
  assert.equal(workSignal!.aborted, false, 'b and c still wait');
  b.abort();
  await assert.rejects(pb, (e: { code?: string }) => e.code === 'CANCELLED');
  assert.equal(workSignal!.aborted, false, 'c still waits');
  finish('done');
  assert.equal(await pc, 'done');

  // Every caller gone: the work's signal aborts, and a newcomer starts a fresh run instead of joining it.
  const x = new AbortController();
  const px = sf.do('j', work, x.signal);
  const first = workSignal!;
  x.abort();
  await assert.rejects(px, (e: { code?: string }) => e.code === 'CANCELLED');
  assert.equal(first.aborted, true);
  const py = sf.do('j', work);
  assert.notEqual(workSignal, first);
  finish('again');
  assert.equal(await py, 'again');
  assert.equal(sf.size, 0);
  await assert.rejects(sf.do('z', work, AbortSignal.abort()), (e: { code?: string }) => e.code === 'CANCELLED');
});
