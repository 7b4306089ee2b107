import assert from 'node:assert/strict';
import { CriusError } from '../../../../src/common/errors.js';

/** fn throws INVALID_ARGUMENT whose message matches pattern (which should name the field). */
export function invalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CriusError, String(err));
    assert.equal(err.code, 'INVALID_ARGUMENT', err.message);
    assert.match(err.message, pattern);
    return true;
  });
}
