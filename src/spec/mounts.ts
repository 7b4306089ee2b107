// Bind mounts: the kubelet's CRI mounts, the files the sandbox made (/etc/hostname, /etc/hosts,
// /etc/resolv.conf, /dev/shm) and the image's VOLUME dirs. Idmaps are added by withIdmappedMounts
// (userns.ts), which recognises each mount by destination and source.
import { posix } from 'node:path';
import { failedPrecondition, internal, invalidArgument } from '../common/errors.js';
import { containerName, securityContext, type SpecContext, type SpecOpt } from './context.js';
import type { Mount, Spec } from './oci-types.js';
import type { CriMount, ImageConfig, MountPropagation } from './types.js';

const ETC_HOSTNAME = '/etc/hostname';
const ETC_HOSTS = '/etc/hosts';
const ETC_RESOLV_CONF = '/etc/resolv.conf';
export const DEV_SHM = '/dev/shm';

/** An absolute, normalised container path ("/a/b"), or InvalidArgument naming the field. */
export function cleanContainerPath(p: string, what: string): string {
  if (!p.startsWith('/')) throw invalidArgument(`${what}: container path "${p}" is not absolute; use a path starting with /`);
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function propagationOption(p: MountPropagation | undefined): string {
  switch (p) {
    case 'PROPAGATION_HOST_TO_CONTAINER':
      return 'rslave';
    case 'PROPAGATION_BIDIRECTIONAL':
      return 'rshared';
    default:
      return 'rprivate';
  }
}

/**
 * One CRI mount as an OCI bind: ["rbind", <rprivate|rslave|rshared>, "ro"|"rro"|"rw"] (containerd's
 * options). recursive_read_only (cri-api v0.30) needs readonly, PRIVATE propagation and a handler
 * that reports "rro" (mount_setattr, Linux >= 5.12); the errors are containerd's.
 */
export function criMountToOci(m: CriMount, ctx: SpecContext): Mount {
  const dest = cleanContainerPath(m.container_path, `container "${containerName(ctx)}" mount`);
  if (m.image?.image) return imageVolumeMount(m, dest, ctx);
  if (!m.host_path) throw invalidArgument(`container "${containerName(ctx)}": mount at "${dest}" has no host_path; set the host path to bind`);
  const options = ['rbind', propagationOption(m.propagation)];
  if (m.recursive_read_only) {
    if (!m.readonly) throw invalidArgument(`container "${containerName(ctx)}": recursive read-only mount conflicts with RW mount (hostPath="${m.host_path}"); set readonly too`);
    if ((m.propagation ?? 'PROPAGATION_PRIVATE') !== 'PROPAGATION_PRIVATE') {
      throw invalidArgument(`container "${containerName(ctx)}": recursive read-only mount needs private propagation, got "${m.propagation}" (hostPath="${m.host_path}")`);
    }
    if (!ctx.runtime.handler.rro) {
      throw failedPrecondition(
        `container "${containerName(ctx)}": runtime handler "${ctx.runtime.handler.name}" does not support recursive read-only mounts (hostPath="${m.host_path}"); it must list "rro" in its features on Linux >= 5.12`,
      );
    }
    options.push('rro');
  } else {
    options.push(m.readonly ? 'ro' : 'rw');
  }
  return { destination: dest, type: 'bind', source: m.host_path, options };
}

/**
 * image_sub_path as a clean relative path ("" for the image's root), or InvalidArgument: it may not be
 * absolute or climb out of the image.
 */
export function cleanImageSubPath(sub: string | undefined, what: string): string {
  if (!sub) return '';
  const n = posix.normalize(sub);
  if (sub.startsWith('/') || n === '..' || n.startsWith('../')) throw invalidArgument(`${what}: image_sub_path "${sub}" must be a relative path inside the image`);
  return n === '.' ? '' : n.replace(/\/$/, '');
}

/**
 * An image volume (KEP-4639): a bind of the image mounted on the host (caller mounted it, see
 * imageMountDirs), read-only, noexec as the kubelet requires, nosuid, nodev. With image_sub_path the
 * source is refined to the resolved path once the image is mounted (the caller resolves symlinks inside
 * the image); here it is the lexical join.
 */
function imageVolumeMount(m: CriMount, dest: string, ctx: SpecContext): Mount {
  const what = `container "${containerName(ctx)}": image volume "${m.image?.image}" at "${dest}"`;
  const dir = ctx.runtime.imageMountDirs?.[dest];
  if (!dir) throw internal(`${what}: the image is not mounted (a crius bug)`);
  const sub = cleanImageSubPath(m.image_sub_path, what);
  return { destination: dest, type: 'bind', source: sub ? posix.join(dir, sub) : dir, options: ['rbind', 'rprivate', 'ro', 'nosuid', 'nodev', 'noexec'] };
}

function removeAt(spec: Spec, dest: string): void {
  spec.mounts = (spec.mounts ?? []).filter((x) => x.destination !== dest);
}

function criDestinations(ctx: SpecContext): Set<string> {
  return new Set((ctx.container.mounts ?? []).map((m) => cleanContainerPath(m.container_path, `container "${containerName(ctx)}" mount`)));
}

/**
 * The CRI mounts (replacing any earlier mount at the same destination) and the rootfs propagation
 * they need: rshared if any is bidirectional, else rslave if any receives host mounts. (Whether the
 * host source is itself a shared mount is for the caller to check: that takes I/O.)
 */
export const withMounts: SpecOpt = (spec, ctx) => {
  const seen = new Set<string>();
  for (const m of ctx.container.mounts ?? []) {
    const oci = criMountToOci(m, ctx);
    if (seen.has(oci.destination)) throw invalidArgument(`container "${containerName(ctx)}": two mounts at "${oci.destination}"; keep one`);
    seen.add(oci.destination);
    removeAt(spec, oci.destination);
    (spec.mounts ??= []).push(oci);
  }
  const props = (ctx.container.mounts ?? []).map((m) => m.propagation);
  if (props.includes('PROPAGATION_BIDIRECTIONAL')) (spec.linux ??= {}).rootfsPropagation = 'rshared';
  else if (props.includes('PROPAGATION_HOST_TO_CONTAINER')) (spec.linux ??= {}).rootfsPropagation = 'rslave';
};

/** The runtime-made bind mounts of the sandbox's files that this container gets, by destination. */
export function sandboxFileMounts(ctx: SpecContext): Mount[] {
  const f = ctx.runtime.sandboxFiles ?? {};
  const ro = securityContext(ctx).readonly_rootfs === true ? 'ro' : 'rw';
  const out: Mount[] = [];
  const file = (destination: string, source: string | undefined): void => {
    if (source) out.push({ destination, type: 'bind', source, options: ['rbind', 'rprivate', ro] });
  };
  file(ETC_HOSTNAME, f.hostname);
  file(ETC_HOSTS, f.hosts);
  file(ETC_RESOLV_CONF, f.resolvConf);
  // The pod's shared tmpfs. nosuid,nodev,noexec: the source has them, and in a user namespace a bind
  // that tries to drop locked flags fails with EPERM (containerd sandbox_run_linux.go).
  if (f.shm) out.push({ destination: DEV_SHM, type: 'bind', source: f.shm, options: ['rbind', 'rprivate', 'nosuid', 'nodev', 'noexec', 'rw'] });
  return out;
}

/**
 * /etc/hostname, /etc/hosts, /etc/resolv.conf and /dev/shm from the sandbox, read-only when the rootfs
 * is; skipped where the kubelet mounts that path itself (containerd does the same).
 */
export const withSandboxFiles: SpecOpt = (spec, ctx) => {
  const cri = criDestinations(ctx);
  for (const m of sandboxFileMounts(ctx)) {
    if (cri.has(m.destination)) continue;
    removeAt(spec, m.destination);
    (spec.mounts ??= []).push(m);
  }
};

/** Image VOLUME paths that need a runtime-made dir (those the kubelet does not already mount). */
export function imageVolumesToCreate(image: ImageConfig, criMounts: readonly CriMount[]): string[] {
  const cri = new Set(criMounts.map((m) => cleanContainerPath(m.container_path, 'mount')));
  return Object.keys(image.Volumes ?? {})
    .map((v) => cleanContainerPath(v, 'image VOLUME'))
    .filter((v) => !cri.has(v))
    .sort();
}

/** Binds of the runtime-made dirs for the image's VOLUMEs (caller made them; see imageVolumesToCreate). */
export const withImageVolumes: SpecOpt = (spec, ctx) => {
  const dirs = ctx.runtime.imageVolumeDirs ?? {};
  for (const dest of imageVolumesToCreate(ctx.image, ctx.container.mounts ?? [])) {
    const source = dirs[dest];
    if (!source) {
      ctx.warnings.push(`container "${containerName(ctx)}": image VOLUME ${dest} has no runtime-made directory; it stays part of the rootfs`);
      continue;
    }
    removeAt(spec, dest);
    (spec.mounts ??= []).push({ destination: dest, type: 'bind', source, options: ['rbind', 'rprivate', 'rw'] });
  }
};

function depth(p: string): number {
  return p === '/' ? 0 : p.split('/').length - 1;
}

/** Parents before children: a stable sort by path depth (containerd orderedMounts). */
export const withMountOrder: SpecOpt = (spec) => {
  const indexed = (spec.mounts ?? []).map((m, i) => ({ m, i }));
  indexed.sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i);
  spec.mounts = indexed.map((x) => x.m);
};

/** Whether a mount is a bind (type "bind" or a bind/rbind option). */
export function isBindMount(m: Mount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}
