// What crius keeps on disk is private to root (issue 13 item 2): container env, where Kubernetes puts
// secrets, is in the database and in every bundle's config.json; exit files, attach sockets and the
// runtime's own state say what runs. Files are 0600; directories are 0700, except the ones on the way to a
// pod's root filesystem or its bind-mounted files, which a user-namespaced pod's host IDs must traverse:
// those are 0711 (searchable, not listable), so other users can neither list IDs nor read what is inside.
// Applied at every start, so installs made by older versions (0644 database, 0711 exit dir) are fixed too.
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../common/logger.js';
import { TRAVERSAL_FIX, UNRELATED_ID, describeBlock, describeDir, firstBlockingDir, statPathChain } from '../userns/path-traversal.js';

/** Directory modes under the root and state dirs, relative to them. */
const ROOT_DIR_MODES: ReadonlyArray<[string, number]> = [
  ['', 0o711],
  ['containers', 0o711], // image VOLUME dirs, bind-mounted into (possibly user-namespaced) containers
  ['images', 0o700],
  ['cni', 0o700],
];
const STATE_DIR_MODES: ReadonlyArray<[string, number]> = [
  ['', 0o711],
  ['pods', 0o711], // each pod's infra rootfs, hostname, hosts, resolv.conf, shm
  ['containers', 0o711], // bundles: the rootfs inside each; config.json itself is 0600
  ['idmap-tmp', 0o711],
  ['exits', 0o700],
  ['persist', 0o700],
  ['a', 0o700], // conmon's attach sockets: whoever connects gets the container's stdio
  ['exec', 0o700],
  ['runtime', 0o700],
];

function setMode(path: string, mode: number, fixed: string[]): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink() || (st.mode & 0o7777) === mode) return;
  chmodSync(path, mode);
  fixed.push(`${path} ${(st.mode & 0o777).toString(8)}->${mode.toString(8)}`);
}

/** Creates or tightens crius's directories and the files that hold secrets; returns what it changed. */
function securePrivateState(rootDir: string, stateDir: string): string[] {
  const fixed: string[] = [];
  for (const [base, table] of [[rootDir, ROOT_DIR_MODES], [stateDir, STATE_DIR_MODES]] as const) {
    for (const [rel, mode] of table) {
      const p = join(base, rel);
      mkdirSync(p, { recursive: true, mode });
      setMode(p, mode, fixed);
    }
  }
  for (const f of ['crius.db', 'crius.db-wal', 'crius.db-shm']) {
    const p = join(rootDir, f);
    if (existsSync(p)) setMode(p, 0o600, fixed);
  }
  // Bundles of containers and of pods' infra containers, as written by any earlier version.
  const bundles = [
    ...listDirs(join(stateDir, 'containers')),
    ...listDirs(join(stateDir, 'pods')).map((d) => join(d, 'infra')),
  ];
  for (const b of bundles) {
    const spec = join(b, 'config.json');
    if (existsSync(spec)) setMode(spec, 0o600, fixed);
  }
  return fixed;
}

function listDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

/** Which directory above the state dir's pod and container dirs host uid/gid cannot search, or null. */
export function podTraversalProblem(stateDir: string, uid: number, gid: number): string | null {
  for (const sub of ['pods', 'containers']) {
    const block = firstBlockingDir(statPathChain(join(stateDir, sub)), uid, gid);
    if (block) return describeBlock(block);
  }
  return null;
}

/**
 * Why user-namespaced pods cannot start with this state dir, or null. Their host IDs are not known before
 * a pod comes, so this asks what an ID that owns nothing may do (`other` search permission).
 */
export function stateDirTraversalProblem(stateDir: string): string | null {
  for (const sub of ['pods', 'containers']) {
    const block = firstBlockingDir(statPathChain(join(stateDir, sub)), UNRELATED_ID, UNRELATED_ID);
    if (block) return `${describeDir(block.dir)} is not searchable by other users, so the host IDs of user-namespaced pods cannot reach their root filesystems under ${stateDir}`;
  }
  return null;
}

export function applyPrivateState(rootDir: string, stateDir: string, logger: Logger): void {
  const fixed = securePrivateState(rootDir, stateDir);
  if (fixed.length > 0) logger.warn('made crius state private (files 0600, directories 0700/0711)', { changed: fixed });
  const problem = stateDirTraversalProblem(stateDir);
  if (problem) {
    logger.warn('user-namespaced pods cannot start: their host IDs cannot reach their root filesystems', { problem, fix: TRAVERSAL_FIX });
  }
}
