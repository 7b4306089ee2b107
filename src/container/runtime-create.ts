// The one path from a CRI config to a container in the OCI runtime, shared by application containers
// (ContainerService.create) and a pod's infra (pause) container (pod/infra.ts), in two steps:
//   1. checkedSpec, before anything exists: read the Localhost seccomp profile, build the spec (a pure
//      builder from spec/build.ts), log what the builder adjusted, refuse what the handler cannot do
//      (idmapped mounts on a runtime that would silently ignore them) and, when given a probe, volumes
//      whose filesystem cannot be idmapped. A refusal here leaves nothing to undo.
//   2. createInRuntime, once the caller has prepared the bundle and rootfs: write config.json (0600: it
//      holds the environment) and create the container under conmon.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuiltSpec } from '../spec/build.js';
import { checkIdmapSupport, type IdmapHandler } from '../spec/idmap-check.js';
import type { Spec } from '../spec/oci-types.js';
import { loadLocalhostSeccomp, type SeccompProfileRef } from './seccomp-file.js';
import type { CreateOptions, OciPort, VolumeProbePort } from './ports.js';

interface SpecRequest {
  /** The security context's seccomp profile; a Localhost one is read from the node. */
  seccomp: SeccompProfileRef | null | undefined;
  /** The request field that names it, for messages. */
  seccompField: string;
  /** [limits] max_seccomp_profile_bytes. */
  seccompProfileBytes?: number | undefined;
  /** The handler the container runs under, with its parsed `features`. */
  handler: IdmapHandler;
  /** Builds the spec (spec/build.ts), given the Localhost seccomp profile read (undefined if none). */
  build(seccompLocalhost: unknown): BuiltSpec;
  /** Told each adjustment the builder made instead of failing (clamped oom_score_adj, ...). */
  warn(message: string): void;
  /** Checks that idmapped bind sources can be idmapped (absent: not checked). */
  volumes?: VolumeProbePort | undefined;
}

/** Step 1: the spec, built and checked against the handler and the host; nothing is created. */
export async function checkedSpec(r: SpecRequest): Promise<Spec> {
  const seccompLocalhost = await loadLocalhostSeccomp(r.seccomp, r.seccompField, r.seccompProfileBytes);
  const built = r.build(seccompLocalhost);
  for (const w of built.warnings) r.warn(w);
  checkIdmapSupport(built.spec, r.handler);
  if (r.volumes) {
    for (const m of built.spec.mounts ?? []) {
      if ((m.uidMappings?.length ?? 0) === 0 && (m.gidMappings?.length ?? 0) === 0) continue;
      if (m.type !== 'bind' && !(m.options ?? []).includes('bind') && !(m.options ?? []).includes('rbind')) continue;
      if (!m.source) continue;
      await r.volumes.checkVolume({ containerPath: m.destination, hostPath: m.source });
    }
  }
  return built.spec;
}

/** Step 2: config.json into the (existing) bundle, then the runtime's create under conmon. */
export async function createInRuntime(oci: Pick<OciPort, 'create'>, handler: string, spec: Spec, o: CreateOptions): ReturnType<OciPort['create']> {
  await writeFile(join(o.bundle, 'config.json'), JSON.stringify(spec), { mode: 0o600 });
  return oci.create(handler, o);
}
