// Pure checks on tar entry names: the first line of the layer-unpack safety rules. A layer entry must
// stay inside the layer dir, so absolute names and `..` components are refused outright (the kernel
// never sees them); symlinked parents are checked against the filesystem during unpack.

type TarPathResult = { ok: true; parts: string[] } | { ok: false; reason: string };

/** Splits an entry name into clean components (`./a//b/` -> ['a','b']); [] is the layer root. */
export function splitEntryName(name: string): TarPathResult {
  if (name.includes('\0')) return { ok: false, reason: 'the name contains a NUL byte' };
  if (name.startsWith('/')) return { ok: false, reason: 'absolute path' };
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { ok: false, reason: '".." component' };
  return { ok: true, parts };
}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_WHITEOUT = '.wh..wh..opq';

type WhiteoutKind =
  | { kind: 'none' }
  | { kind: 'opaque' }
  /** AUFS-era metadata (`.wh..wh.plnk`, `.wh..wh.aufs`): ignored, as containerd and Docker do. */
  | { kind: 'meta' }
  | { kind: 'file'; target: string }
  | { kind: 'invalid'; reason: string };

/** Classifies an entry's base name per the OCI image-spec layer whiteout rules. */
export function whiteoutOf(base: string): WhiteoutKind {
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: 'none' };
  if (base === OPAQUE_WHITEOUT) return { kind: 'opaque' };
  if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return { kind: 'meta' };
  const target = base.slice(WHITEOUT_PREFIX.length);
  if (target === '' || target === '.' || target === '..') return { kind: 'invalid', reason: `whiteout "${base}" names "${target}", which is outside the directory` };
  return { kind: 'file', target };
}

/** xattrs a layer may set. trusted.overlay.* is refused: a layer could otherwise forge overlay whiteouts or redirects. */
export function xattrAllowed(name: string): boolean {
  return name.startsWith('user.') || name === 'security.capability';
}
