// Typed calls into native/build/crius-idmap, the small C helper for the mount API syscalls Node cannot
// make (open_tree, mount_setattr, move_mount, fsopen/fsconfig/fsmount, NS_GET_USERNS). Each call prints
// one JSON line; a failed syscall comes back as {ok:false, syscall, errno, ...} with exit status 1.
import { nativeBuildPath } from '../common/install-root.js';
import { internal } from '../common/errors.js';
import { ExecError, run, type Runner } from '../common/exec.js';

/** Where `make -C native` puts the helper ($CRIUS_IDMAP_HELPER overrides). */
export function defaultIdmapHelperPath(): string {
  if (process.env.CRIUS_IDMAP_HELPER) return process.env.CRIUS_IDMAP_HELPER;
  return nativeBuildPath('crius-idmap');
}

export interface IdmapHelper {
  bin: string;
  runner: Runner;
}

export function idmapHelper(opts: { bin?: string; runner?: Runner } = {}): IdmapHelper {
  return { bin: opts.bin ?? defaultIdmapHelperPath(), runner: opts.runner ?? run };
}

/** A syscall the helper reports as failed. */
export interface SyscallFailure {
  ok: false;
  syscall: string;
  errno: string;
  errno_num: number;
  message: string;
  path?: string;
  /** With method auto: how the fd-based attempt failed before the tmpdir fallback. */
  fd_method?: { syscall: string; errno: string; path: string };
}

type HelperResult<T> = ({ ok: true } & T) | SyscallFailure;

/** Thrown when the helper reports a failed syscall; carries the parsed report. */
export class SyscallError extends Error {
  readonly failure: SyscallFailure;
  constructor(what: string, failure: SyscallFailure) {
    super(`${what}: ${failure.syscall}${failure.path ? ` on ${failure.path}` : ''} failed: ${failure.errno} (${failure.message})`);
    this.name = 'SyscallError';
    this.failure = failure;
  }
}

async function call<T>(h: IdmapHelper, args: string[]): Promise<HelperResult<T>> {
  let stdout: string;
  try {
    ({ stdout } = await h.runner(h.bin, args, { okCodes: [0, 1], timeoutMs: 60_000 }));
  } catch (err) {
    if (err instanceof ExecError && err.notFound) {
      throw internal(`the native helper ${h.bin} is missing: build it with \`make -C native\` (npm run build:native)`, err);
    }
    throw internal(`${h.bin} ${args[0] ?? ''} failed: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  const line = stdout.trim().split('\n').pop() ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw internal(`${h.bin} ${args[0] ?? ''} printed no JSON result: ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  if (typeof parsed !== 'object' || parsed === null || !('ok' in parsed)) {
    throw internal(`${h.bin} ${args[0] ?? ''} printed an unexpected result: ${line.slice(0, 200)}`);
  }
  if ('usage' in parsed) throw internal(`${h.bin} rejected its arguments (${String((parsed as { usage: unknown }).usage)}): a crius bug`);
  return parsed as HelperResult<T>;
}

function orThrow<T>(what: string, r: HelperResult<T>): T {
  if (!r.ok) throw new SyscallError(what, r);
  return r;
}

/** Really tries an idmapped clone of the mount at `path` (detached, so nothing is left mounted). */
export function probeIdmap(h: IdmapHelper, path: string, usernsFile: string): Promise<HelperResult<{ path: string }>> {
  return call(h, ['probe', path, usernsFile]);
}

interface IdmappedBindOptions {
  src: string;
  dst: string;
  usernsFile: string;
  readOnly?: boolean;
  recursive?: boolean;
}

/** An idmapped bind mount of src at dst (dst must exist). Throws SyscallError on failure. */
export async function idmappedBind(h: IdmapHelper, o: IdmappedBindOptions): Promise<void> {
  const args = ['mount'];
  if (o.readOnly) args.push('--ro');
  if (o.recursive) args.push('--recursive');
  args.push(o.src, o.dst, o.usernsFile);
  orThrow(`idmapped bind of ${o.src} at ${o.dst}`, await call(h, args));
}

export type OverlayMethod = 'auto' | 'fd' | 'tmpdir';

interface OverlayMountOptions {
  /** Lower dirs in overlayfs order: topmost first. */
  lowers: readonly string[];
  upper?: string;
  work?: string;
  target: string;
  /** Idmap every lower read-only through this user namespace. */
  usernsFile?: string;
  method?: OverlayMethod;
  /** Where the tmpdir method attaches its temporary idmapped mount (default /tmp). */
  tmpDir?: string;
  /** Extra overlay options, "key" or "key=value". */
  options?: readonly string[];
}

/** Mounts overlayfs at target; returns which method the helper used. Throws SyscallError on failure. */
export async function mountOverlay(h: IdmapHelper, o: OverlayMountOptions): Promise<{ method: 'fd' | 'tmpdir' }> {
  if (o.lowers.some((l) => l.includes(':'))) {
    throw internal(`a lower dir path contains ':' (${o.lowers.find((l) => l.includes(':'))}), which overlayfs cannot take`);
  }
  const args = ['overlay', '--lower', o.lowers.join(':')];
  if (o.usernsFile) args.push('--userns', o.usernsFile);
  if (o.upper) args.push('--upper', o.upper);
  if (o.work) args.push('--work', o.work);
  if (o.method) args.push('--method', o.method);
  if (o.tmpDir) args.push('--tmpdir', o.tmpDir);
  for (const opt of o.options ?? []) args.push('-o', opt);
  args.push(o.target);
  const r = orThrow(`overlay mount at ${o.target}`, await call<{ method: 'fd' | 'tmpdir' }>(h, args));
  return { method: r.method };
}

/** Inode of the namespace at nsFile and of the user namespace owning it (NS_GET_USERNS). */
export async function nsOwner(h: IdmapHelper, nsFile: string): Promise<{ nsIno: number; ownerUsernsIno: number }> {
  const r = orThrow(`owner of namespace ${nsFile}`,
    await call<{ ns_ino: number; owner_userns_ino: number }>(h, ['ns-owner', nsFile]));
  return { nsIno: r.ns_ino, ownerUsernsIno: r.owner_userns_ino };
}
