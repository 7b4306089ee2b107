// Pod volumes materialised on the host as the kubelet would (pkg/volume: hostpath, emptydir, configmap,
// secret), under one directory per pod: <stateDir>/run-volumes/<pod-uid>/ (parents 0711 so the pod's
// unprivileged host root can traverse to its mounts; contents are reached through idmapped mounts).
// configMap volumes are directories, secret and Memory emptyDir volumes are tmpfs (never on disk), all
// files written root-owned with the volume's mode (default 0644): inside a user-namespaced pod they read as
// 0:0 through the idmapped mount, as KEP-127 intends.
import { mountsUnder, readMountInfo, type MountInfoEntry } from '../common/mountinfo.js';
import { chmodSync, existsSync, lstatSync, mkdirSync, rmSync, statSync, writeFileSync, chownSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { run, type Runner } from '../common/exec.js';
import { failedPrecondition, invalidArgument } from '../common/errors.js';
import type { DataSource, KeyToPath, Pod, Volume } from './manifest/types.js';

interface PreparedVolume {
  name: string;
  kind: 'hostPath' | 'emptyDir' | 'emptyDir(Memory)' | 'configMap' | 'secret';
  hostPath: string;
  /** Whether crius mounted a tmpfs there (unmounted on removal). */
  tmpfs: boolean;
}

export interface PreparedVolumes {
  dir: string;
  volumes: PreparedVolume[];
  byName: Map<string, string>;
  /** Host file for a container's termination message (kubelet: one per container). */
  terminationLog(container: string): string;
}

const runVolumesRoot = (stateDir: string): string => join(stateDir, 'run-volumes');

function mkdirs(path: string, mode: number): void {
  if (existsSync(path)) return;
  mkdirs(dirname(path), mode);
  mkdirSync(path, { mode });
  chmodSync(path, mode); // mkdir's mode is filtered by the umask
}

function checkHostPathType(v: Volume, path: string): void {
  const type = v.hostPath?.type ?? '';
  const st = existsSync(path) ? statSync(path) : undefined;
  const where = `volume "${v.name}" (hostPath ${path})`;
  switch (type) {
    case 'DirectoryOrCreate':
      if (!st) mkdirs(path, 0o755);
      else if (!st.isDirectory()) throw failedPrecondition(`${where}: type DirectoryOrCreate but it exists and is not a directory`);
      return;
    case 'FileOrCreate':
      if (!st) { mkdirs(dirname(path), 0o755); writeFileSync(path, '', { mode: 0o644 }); }
      else if (!st.isFile()) throw failedPrecondition(`${where}: type FileOrCreate but it exists and is not a file`);
      return;
    case '':
      if (!st) throw failedPrecondition(`${where}: does not exist (set type: DirectoryOrCreate to create it)`);
      return;
  }
  const ok: Record<string, boolean | undefined> = {
    Directory: st?.isDirectory(), File: st?.isFile(), Socket: st?.isSocket(), CharDevice: st?.isCharacterDevice(), BlockDevice: st?.isBlockDevice(),
  };
  if (!ok[type]) throw failedPrecondition(`${where}: type ${type} but ${st ? 'it is something else' : 'it does not exist'}`);
}

function writeProjected(dir: string, v: Volume, source: DataSource | undefined): void {
  const ref = v.configMap ?? v.secret!;
  const items: KeyToPath[] | undefined = ref.items;
  const defaultMode = ref.defaultMode ?? 0o644;
  if (!source) return;
  const files: Array<{ path: string; data: Buffer; mode: number }> = items
    ? items.map((it) => {
      const data = source.data.get(it.key);
      if (!data) throw invalidArgument(`volume "${v.name}": key "${it.key}" is not in ${source.kind} "${source.name}" (has: ${[...source.data.keys()].join(', ')})`);
      return { path: it.path, data, mode: it.mode ?? defaultMode };
    })
    : [...source.data].map(([k, data]) => ({ path: k, data, mode: defaultMode }));
  for (const f of files) {
    const target = resolve(dir, f.path);
    if (!target.startsWith(dir + '/')) throw invalidArgument(`volume "${v.name}": item path "${f.path}" leaves the volume`);
    mkdirs(dirname(target), 0o755);
    writeFileSync(target, f.data, { mode: f.mode });
    chmodSync(target, f.mode);
    chownSync(target, 0, 0);
  }
}

async function mountTmpfs(path: string, sizeBytes: number | undefined, runner: Runner): Promise<void> {
  const opts = ['mode=0755', 'nosuid', 'nodev', ...(sizeBytes ? [`size=${sizeBytes}`] : [])].join(',');
  await runner('mount', ['-t', 'tmpfs', '-o', opts, 'crius-volume', path]);
}

interface PrepareInput {
  stateDir: string;
  pod: Pod;
  podUid: string;
  lookup: (kind: 'ConfigMap' | 'Secret', name: string) => DataSource | undefined;
  runner?: Runner;
  /** emptyDir sizeLimit, parsed (bytes), by volume name. */
  sizeLimits?: Map<string, number>;
}

/** Creates every volume of the pod; on failure removes what it made and rethrows. */
export async function prepareVolumes(i: PrepareInput): Promise<PreparedVolumes> {
  const runner = i.runner ?? run;
  const root = runVolumesRoot(i.stateDir);
  mkdirs(root, 0o711);
  const dir = join(root, i.podUid);
  mkdirs(dir, 0o711);
  const volumes: PreparedVolume[] = [];
  const byName = new Map<string, string>();
  try {
    for (const v of i.pod.spec.volumes ?? []) {
      let pv: PreparedVolume;
      if (v.hostPath) {
        checkHostPathType(v, v.hostPath.path);
        pv = { name: v.name, kind: 'hostPath', hostPath: v.hostPath.path, tmpfs: false };
      } else if (v.configMap || v.secret) {
        const kind = v.configMap ? 'ConfigMap' : 'Secret';
        const name = v.configMap ? v.configMap.name : v.secret!.secretName;
        const source = i.lookup(kind, name);
        if (!source && !(v.configMap ?? v.secret)!.optional) {
          throw failedPrecondition(`volume "${v.name}": ${kind} "${name}" not found: put it in the same YAML stream (---) or give it with --${kind === 'ConfigMap' ? 'configmap' : 'secret'} ${name}=PATH or --from-literal ${kind === 'ConfigMap' ? 'configmap' : 'secret'}/${name}/KEY=VALUE`);
        }
        const path = join(dir, v.configMap ? 'configmap' : 'secret', v.name);
        mkdirs(path, 0o755);
        // Secrets live in memory only (kubelet: secret volumes are tmpfs).
        if (v.secret) await mountTmpfs(path, undefined, runner);
        writeProjected(path, v, source);
        pv = { name: v.name, kind: v.configMap ? 'configMap' : 'secret', hostPath: path, tmpfs: !!v.secret };
      } else {
        const memory = v.emptyDir?.medium === 'Memory';
        const path = join(dir, 'empty-dir', v.name);
        mkdirs(path, 0o755);
        if (memory) await mountTmpfs(path, i.sizeLimits?.get(v.name), runner);
        // kubelet: emptyDir is world-writable (0777) so any user of the pod can use it.
        chmodSync(path, 0o777);
        pv = { name: v.name, kind: memory ? 'emptyDir(Memory)' : 'emptyDir', hostPath: path, tmpfs: memory };
      }
      volumes.push(pv);
      byName.set(v.name, pv.hostPath);
    }
    const containers = [...(i.pod.spec.initContainers ?? []), ...i.pod.spec.containers];
    for (const c of containers) {
      const f = join(dir, 'containers', c.name, 'termination-log');
      mkdirs(dirname(f), 0o711);
      writeFileSync(f, '');
      chmodSync(f, 0o666);
    }
  } catch (err) {
    await removeVolumes(dir, runner).catch(() => undefined);
    throw err;
  }
  return { dir, volumes, byName, terminationLog: (c) => join(dir, 'containers', c, 'termination-log') };
}

/** Mount points at or below dir, deepest first (from /proc/self/mountinfo). */
export function mountsUnderDeepestFirst(dir: string, mounts: readonly MountInfoEntry[] = readMountInfo()): string[] {
  return [...new Set(mountsUnder(dir, mounts))].sort((a, b) => b.length - a.length);
}

/** Unmounts and deletes a pod's volume dir; refuses paths outside a run-volumes directory. */
export async function removeVolumes(dir: string, runner: Runner = run): Promise<void> {
  if (!/\/run-volumes\/[^/]+$/.test(dir)) throw invalidArgument(`refusing to remove "${dir}": not a crius run volume directory`);
  for (const m of mountsUnderDeepestFirst(dir)) await runner('umount', [m]).catch(() => runner('umount', ['-l', m]));
  if (existsSync(dir) && lstatSync(dir).isDirectory()) rmSync(dir, { recursive: true, force: true });
}
