// tar-stream decodes every PAX record value as UTF-8, which corrupts binary xattr values such as
// security.capability (SCHILY.xattr.*). This swaps in a decoder that keeps SCHILY.xattr.* values as
// latin1 strings (one char per byte, so Buffer.from(v, 'latin1') gives the exact bytes back) and
// decodes every other record as UTF-8 like the original. tar-stream's extractor looks the function up
// on its headers module at each call, so patching that module object is enough.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const XATTR_PREFIX = 'SCHILY.xattr.';
let installed = false;

function decodePax(buf: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  let rest = buf;
  while (rest.length > 0) {
    let i = 0;
    while (i < rest.length && rest[i] !== 0x20) i++;
    const len = parseInt(rest.subarray(0, i).toString('ascii'), 10);
    if (!len || len > rest.length) return result;
    const record = rest.subarray(i + 1, len - 1);
    const eq = record.indexOf(0x3d);
    if (eq === -1) return result;
    const key = record.subarray(0, eq).toString('utf8');
    result[key] = record.subarray(eq + 1).toString(key.startsWith(XATTR_PREFIX) ? 'latin1' : 'utf8');
    rest = rest.subarray(len);
  }
  return result;
}

/** Installs the byte-exact PAX decoder into tar-stream (idempotent). */
export function installBinaryPaxDecoder(): void {
  if (installed) return;
  const require = createRequire(import.meta.url);
  const headers = require(join(dirname(require.resolve('tar-stream')), 'headers.js')) as { decodePax: unknown };
  headers.decodePax = decodePax;
  installed = true;
}

/** The exact bytes of a SCHILY.xattr.* value decoded by installBinaryPaxDecoder. */
export function xattrValueBytes(v: string): Buffer {
  return Buffer.from(v, 'latin1');
}
