// The OCI runtime check before any container with idmapped mounts is created (issue 5 item 4).
// runc silently ignores config.json fields it does not know, so a runc without idmap support would
// create the container with plain binds and the pod would write files with shifted host IDs that are
// garbage later; containerd added validateRuntimeFeatures for exactly this. crius fails loudly instead,
// with what is missing and the fix. Pure: the caller passes the handler's parsed `features`.
import { failedPrecondition } from '../common/errors.js';
import type { RuntimeFeatures } from '../oci/features-types.js';
import type { Spec } from './oci-types.js';
import type { HandlerCapabilities } from './types.js';

/** What the check needs to know about a handler (a subset of oci/features.ts HandlerInfo). */
export interface IdmapHandler {
  name: string;
  path: string;
  version?: string;
  features?: RuntimeFeatures;
  /** Why features are absent (e.g. `features` failed), when they are. */
  reason?: string;
}

const IDMAP_OPTIONS = new Set(['idmap', 'ridmap']);

/** Destinations of the mounts that ask for an idmap: mappings on the mount, or an idmap/ridmap option (runtime-spec 1.2). */
export function idmappedMountDestinations(spec: Spec): string[] {
  return (spec.mounts ?? [])
    .filter((m) => (m.uidMappings?.length ?? 0) > 0 || (m.gidMappings?.length ?? 0) > 0 || (m.options ?? []).some((o) => IDMAP_OPTIONS.has(o)))
    .map((m) => m.destination);
}

export function specUsesIdmap(spec: Spec): boolean {
  return idmappedMountDestinations(spec).length > 0;
}

function describe(h: IdmapHandler): string {
  return `runtime handler "${h.name}" (${h.path}${h.version ? `, ${h.version}` : ''})`;
}

const FIX = 'use crun >= 1.9 or runc >= 1.2 for this handler (or run the pod without hostUsers: false)';

/**
 * Throws FAILED_PRECONDITION when the spec has idmapped mounts and the handler's features do not
 * report `linux.mountExtensions.idmap.enabled: true` (containerd's two messages, plus the handler's
 * path, version and the fix), or when the spec has a user namespace the handler does not list.
 */
export function checkIdmapSupport(spec: Spec, handler: IdmapHandler): void {
  const dests = idmappedMountDestinations(spec);
  const usesUserns = (spec.linux?.namespaces ?? []).some((n) => n.type === 'user');
  if (dests.length === 0 && !usesUserns) return;
  const who = describe(handler);
  const f = handler.features;
  if (!f) {
    // Without features nothing can be confirmed; only idmapped mounts are refused then, as user
    // namespaces themselves predate `features` (runc 1.0).
    if (dests.length === 0) return;
    throw failedPrecondition(
      `${who} cannot do idmapped mounts, needed for ${dests.join(', ')}: the handler reports no features${handler.reason ? ` (${handler.reason})` : ''}, so \`linux.mountExtensions.idmap\` cannot be confirmed; ${FIX}`,
    );
  }
  if (usesUserns && !(f.linux?.namespaces ?? []).includes('user')) {
    throw failedPrecondition(`${who} cannot run this container: it needs a user namespace but "user" is missing from \`linux.namespaces\` in the handler's \`features\` output; ${FIX}`);
  }
  if (dests.length === 0) return;
  const idmap = f.linux?.mountExtensions?.idmap;
  if (!idmap) {
    throw failedPrecondition(
      `${who} cannot do idmapped mounts, needed for ${dests.join(', ')}: missing \`linux.mountExtensions.idmap\` entry in the handler's \`features\` output; ${FIX}`,
    );
  }
  if (idmap.enabled !== true) {
    throw failedPrecondition(
      `${who} cannot do idmapped mounts, needed for ${dests.join(', ')}: entry \`linux.mountExtensions.idmap.enabled\` in the handler's \`features\` output is present but ${idmap.enabled === false ? 'false' : 'not true'}; ${FIX}`,
    );
  }
}

/**
 * What the spec builder may ask of a handler, from its `features`. idmap of bind mounts is
 * `mountExtensions.idmap.enabled`. Idmap of other filesystems (tmpfs) is not in `features`: runc up to
 * 1.3 at least refuses it ("id-mapped mounts are only supported for bind-mounts") while crun does it,
 * so it is granted only to a runtime that identifies itself as crun (its `run.oci.crun.version`
 * annotation). rro needs the "rro" mount option; `kernelRro` is whether the kernel has mount_setattr
 * (Linux >= 5.12), which the caller knows.
 */
export function handlerCapabilities(name: string, features: RuntimeFeatures | undefined, kernelRro = true): HandlerCapabilities {
  const idmapBind = features?.linux?.mountExtensions?.idmap?.enabled === true;
  const isCrun = features?.annotations?.['run.oci.crun.version'] !== undefined;
  return {
    name,
    idmapBind,
    idmapTmpfs: idmapBind && isCrun,
    rro: kernelRro && (features?.mountOptions ?? []).includes('rro'),
  };
}
