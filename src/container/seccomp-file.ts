// Reads the Localhost seccomp profile a CRI SecurityProfile names (localhost_ref: an absolute path on the
// node, as the kubelet resolves it); spec/ turns the parsed JSON into the OCI seccomp section.
//
// The path comes from the CRI client, so it may name anything on the node: a FIFO (a plain read would
// park one of libuv's four file-I/O threads forever, and with it every RPC that touches a file),
// /dev/zero (an endless read), a device whose open has side effects, or a secret such as /etc/shadow.
// Hence: stat first (no open of anything but a regular file), open O_NONBLOCK|O_NOCTTY, check the opened
// file again with fstat (the path may have been swapped in between), read at most the configured cap,
// and never put the file's bytes into an error message.
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { invalidArgument, notFound } from '../common/errors.js';

export interface SeccompProfileRef {
  profile_type?: string | null;
  localhost_ref?: string | null;
}

/** Default of [limits] max_seccomp_profile_bytes: the largest profile file crius reads (1 MiB). */
const DEFAULT_SECCOMP_PROFILE_BYTES = 1024 * 1024;

/** What kind of file a stat describes, for messages ("a FIFO", "a character device", ...). */
export function fileKind(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/**
 * undefined unless the profile is Localhost; the file's JSON otherwise. `field` is the request field
 * that named it (e.g. "config.linux.security_context.seccomp.localhost_ref"); maxBytes the cap.
 */
export async function loadLocalhostSeccomp(
  profile: SeccompProfileRef | null | undefined,
  field: string,
  maxBytes = DEFAULT_SECCOMP_PROFILE_BYTES,
): Promise<unknown> {
  if (profile?.profile_type !== 'Localhost') return undefined;
  const ref = profile.localhost_ref ?? '';
  if (!ref.startsWith('/') || ref.includes('\0')) throw invalidArgument(`${field} "${printable(ref)}" must be an absolute path on the node`);
  const shown = printable(ref);
  const fix = `a seccomp profile must be a regular JSON file of at most ${maxBytes} bytes ([limits] max_seccomp_profile_bytes)`;
  let before: Stats;
  try {
    before = await stat(ref);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(`${field}: seccomp profile ${shown} does not exist on this node`);
    throw invalidArgument(`${field}: cannot read seccomp profile ${shown}: ${code ?? 'error'}`);
  }
  if (!before.isFile()) throw invalidArgument(`${field}: ${shown} is ${fileKind(before)}; ${fix}`);
  if (before.size > maxBytes) throw invalidArgument(`${field}: ${shown} has ${before.size} bytes; ${fix}`);
  let data: Buffer;
  const fh = await open(ref, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY).catch((err: NodeJS.ErrnoException) => {
    throw invalidArgument(`${field}: cannot open seccomp profile ${shown}: ${err.code ?? 'error'}`);
  });
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.ino !== before.ino || st.dev !== before.dev) throw invalidArgument(`${field}: ${shown} changed while it was being opened (it is now ${fileKind(st)}); ${fix}`);
    // One byte beyond the cap tells a file that grew since the stat from one that fits.
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) throw invalidArgument(`${field}: ${shown} grew while it was being read; ${fix}`);
    }
    data = buf.subarray(0, n);
  } finally {
    await fh.close();
  }
  try {
    return JSON.parse(data.toString('utf8')) as unknown;
  } catch {
    // Not the parser's message: it quotes the file's first bytes (which, for /etc/shadow, are a secret).
    throw invalidArgument(`${field}: ${shown} is not valid JSON; ${fix}`);
  }
}

/** The path as it may appear in a message: control characters escaped. */
function printable(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}
