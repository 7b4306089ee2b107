// The rootfs of a pod's infra (pause) container, needed only for PID mode POD: one static binary,
// native/build/crius-pause, copied in (not bind-mounted, so the pod never sees a host path). The spec
// for it comes from spec/build.ts (sandbox kind); the other containers join /proc/<pause pid>/ns/pid.
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';

export const PAUSE_IN_ROOTFS = '/pause';

/** Creates `<bundle>/rootfs` holding only /pause; returns the rootfs path. */
export async function preparePauseRootfs(bundle: string, pauseBinary: string): Promise<string> {
  const rootfs = path.join(bundle, 'rootfs');
  // The bundle holds config.json (0600): searchable for the pod's host IDs on the way to rootfs, not listable.
  await mkdir(bundle, { recursive: true, mode: 0o711 });
  await chmod(bundle, 0o711);
  for (const d of ['proc', 'dev', 'sys']) await mkdir(path.join(rootfs, d), { recursive: true });
  await copyFile(pauseBinary, path.join(rootfs, PAUSE_IN_ROOTFS.slice(1)));
  return rootfs;
}

/** The PID namespace the pod's containers join once the pause process runs. */
export const pidNamespaceOf = (pausePid: number): string => `/proc/${pausePid}/ns/pid`;
