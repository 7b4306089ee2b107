// The production idmap probe: the native helper's `probe` against a user namespace pinned for the
// purpose (any mapping works; containerd's supportsIDMap uses 0:65536:65536 too).
import { join } from 'node:path';
import { run, type Runner } from '../common/exec.js';
import { idmapHelper, probeIdmap, type IdmapHelper } from './idmap-helper.js';
import type { IdmapProbeFn } from './idmap-support.js';
import { createUsernsFile, removeUsernsFile } from './userns-file.js';

export interface NativeIdmapProbe {
  probe: IdmapProbeFn;
  /** The pinned user namespace the probe uses; also usable for other throwaway idmapped mounts. */
  usernsFile: string;
  close(): Promise<void>;
}

const PROBE_RANGE = { containerId: 0, hostId: 65536, length: 65536 };

/** Pins a probe user namespace at `${dir}/idmap-probe.userns` (replacing a stale one) and returns the probe. */
export async function openNativeIdmapProbe(
  dir: string, opts: { helper?: IdmapHelper; runner?: Runner } = {},
): Promise<NativeIdmapProbe> {
  const runner = opts.runner ?? run;
  const helper = opts.helper ?? idmapHelper({ runner });
  const usernsFile = join(dir, 'idmap-probe.userns');
  await removeUsernsFile(usernsFile, runner);
  await createUsernsFile(usernsFile, { uid: PROBE_RANGE, gid: PROBE_RANGE }, runner);
  return {
    usernsFile,
    probe: async (path) => {
      const r = await probeIdmap(helper, path, usernsFile);
      return r.ok ? { ok: true } : r;
    },
    close: () => removeUsernsFile(usernsFile, runner),
  };
}

/**
 * The daemon's probe: pins its user namespace at the first probe, not at start-up (a helper spawn that
 * start-up need not wait for), while a pin a crashed daemon left is removed at once, as before. Concurrent
 * first probes share one pinning; a failed pinning fails that probe (idmap-support does not cache it) and
 * the next probe tries again. close() removes the pin if one was made.
 */
export async function openLazyNativeIdmapProbe(dir: string, opts: { helper?: IdmapHelper; runner?: Runner } = {}): Promise<NativeIdmapProbe> {
  const runner = opts.runner ?? run;
  const usernsFile = join(dir, 'idmap-probe.userns');
  await removeUsernsFile(usernsFile, runner);
  let opened: Promise<NativeIdmapProbe> | undefined;
  const open = (): Promise<NativeIdmapProbe> => {
    opened ??= openNativeIdmapProbe(dir, opts).catch((err: unknown) => { opened = undefined; throw err; });
    return opened;
  };
  return {
    usernsFile,
    probe: async (path) => (await open()).probe(path),
    close: async () => {
      const p = opened;
      opened = undefined;
      if (p) await p.then((o) => o.close(), () => undefined);
    },
  };
}
