// The CRI's int64 fields arrive as decimal strings (proto-loader's longs: String) or, from hand-built
// requests and tests, as numbers. One parse for all of them: a safe JavaScript integer or a clear
// INVALID_ARGUMENT naming the field. Values beyond 2^53 (none a kubelet sends for the fields crius reads)
// are refused rather than rounded.
import { invalidArgument } from './errors.js';

/** The field's value, or undefined when unset (absent, null or ""). Pure. */
export function parseInt64(v: string | number | null | undefined, field: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw invalidArgument(`${field} ${String(v)} is not an integer in the supported range`);
  return n;
}
