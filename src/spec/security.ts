// Security options: capabilities, privileged, read-only rootfs, masked and read-only paths,
// no_new_privs, seccomp and AppArmor, with the CRI's semantics for each field.
import { failedPrecondition, invalidArgument } from '../common/errors.js';
import { containerName, ensureLinux, ensureProcess, securityContext, type SpecContext, type SpecOpt } from './context.js';
import { ALL_CAPABILITIES } from './defaults.js';
import { runtimeDefaultSeccomp } from './seccomp-default.js';
import { seccompFromProfileJson } from './seccomp-profile.js';

const KNOWN_CAPS = new Set(ALL_CAPABILITIES);

/** "net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" -> "CAP_NET_ADMIN" (the CRI sends names without CAP_). */
function normalizeCapability(name: string, ctx: SpecContext): string {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!KNOWN_CAPS.has(full)) throw invalidArgument(`container "${containerName(ctx)}": unknown capability "${name}"; use a name from capabilities(7) such as NET_ADMIN`);
  return full;
}

/** The capabilities crius itself holds (a privileged container cannot get more). */
function grantable(ctx: SpecContext): readonly string[] {
  return ctx.runtime.ownCapabilities ?? ALL_CAPABILITIES;
}

function isPrivileged(ctx: SpecContext): boolean {
  return securityContext(ctx).privileged === true;
}

/**
 * Bounding, effective and permitted sets from the defaults with the CRI's add/drop applied.
 * "ALL" in add means every capability and "ALL" in drop means none; those apply first so that
 * add [ALL] + drop [CHOWN] means everything but CHOWN (containerd's order). Privileged = all.
 * Ambient capabilities also go into inheritable, which the kernel requires for them to stick.
 */
export const withCapabilities: SpecOpt = (spec, ctx) => {
  const p = ensureProcess(spec);
  const own = grantable(ctx);
  let caps: string[];
  if (isPrivileged(ctx)) {
    caps = [...own];
  } else {
    const c = securityContext(ctx).capabilities ?? {};
    const add = c.add_capabilities ?? [];
    const drop = c.drop_capabilities ?? [];
    const isAll = (s: string): boolean => s.trim().toUpperCase() === 'ALL';
    caps = [...(p.capabilities?.bounding ?? [])];
    if (add.some(isAll)) caps = [...own];
    if (drop.some(isAll)) caps = [];
    for (const a of add.filter((s) => !isAll(s))) {
      const cap = normalizeCapability(a, ctx);
      if (!own.includes(cap)) {
        throw failedPrecondition(
          `container "${containerName(ctx)}": capability ${cap} was requested but crius itself does not hold it on this host, so the OCI runtime cannot grant it; remove it from add_capabilities`,
        );
      }
      if (!caps.includes(cap)) caps.push(cap);
    }
    const dropped = new Set(drop.filter((s) => !isAll(s)).map((d) => normalizeCapability(d, ctx)));
    caps = caps.filter((cap) => !dropped.has(cap));
  }
  const ambient = (securityContext(ctx).capabilities?.add_ambient_capabilities ?? []).map((a) => normalizeCapability(a, ctx));
  p.capabilities = { bounding: [...caps], effective: [...caps], permitted: [...caps] };
  if (ambient.length > 0) {
    for (const a of ambient) {
      if (!caps.includes(a)) throw invalidArgument(`container "${containerName(ctx)}": ambient capability ${a} is not in the container's capability set; add it to add_capabilities too`);
    }
    p.capabilities.inheritable = [...ambient];
    p.capabilities.ambient = [...ambient];
  }
};

/**
 * Privileged: every host device, device cgroup open, no masked or read-only paths, /sys and
 * /sys/fs/cgroup writable. Capabilities, seccomp and AppArmor handle privileged in their own options.
 * The CRI only allows it in a privileged sandbox (containerd: "no privileged container allowed in sandbox").
 */
export const withPrivileged: SpecOpt = (spec, ctx) => {
  if (!isPrivileged(ctx)) return;
  if (ctx.kind === 'container' && ctx.sandbox.linux?.security_context?.privileged !== true) {
    throw invalidArgument(`container "${containerName(ctx)}" is privileged but its pod sandbox is not; set privileged in the sandbox's security context too`);
  }
  const linux = ensureLinux(spec);
  linux.maskedPaths = [];
  linux.readonlyPaths = [];
  for (const m of spec.mounts ?? []) {
    if (m.destination === '/sys' || m.destination === '/sys/fs/cgroup') {
      m.options = (m.options ?? []).filter((o) => o !== 'ro' && o !== 'rro').concat('rw');
    }
  }
  linux.devices = Object.entries(ctx.runtime.hostDevices ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([path, d]) => ({ path, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid }));
  linux.resources ??= {};
  linux.resources.devices = [{ allow: true, access: 'rwm' }];
};

export const withReadonlyRootfs: SpecOpt = (spec, ctx) => {
  spec.root ??= { path: ctx.runtime.rootfs };
  spec.root.readonly = securityContext(ctx).readonly_rootfs === true;
};

/** The CRI's masked_paths replace the defaults when given; an empty list keeps the defaults. */
export const withMaskedPaths: SpecOpt = (spec, ctx) => {
  const paths = securityContext(ctx).masked_paths ?? [];
  if (paths.length > 0) ensureLinux(spec).maskedPaths = [...paths];
};

export const withReadonlyPaths: SpecOpt = (spec, ctx) => {
  const paths = securityContext(ctx).readonly_paths ?? [];
  if (paths.length > 0) ensureLinux(spec).readonlyPaths = [...paths];
};

export const withNoNewPrivileges: SpecOpt = (spec, ctx) => {
  ensureProcess(spec).noNewPrivileges = securityContext(ctx).no_new_privs === true;
};

/**
 * Seccomp per the CRI SecurityProfile: absent or Unconfined = none (the CRI's meaning of an empty
 * profile; the kubelet always sends one), RuntimeDefault = crius's profile for the final capability
 * set (so run withCapabilities first), Localhost = the profile the caller read from localhost_ref.
 * Privileged containers run unconfined (containerd, CRI-O).
 */
export const withSeccomp: SpecOpt = (spec, ctx) => {
  const linux = ensureLinux(spec);
  delete linux.seccomp;
  const profile = securityContext(ctx).seccomp;
  if (!profile || profile.profile_type === 'Unconfined' || isPrivileged(ctx)) return;
  if (ctx.runtime.seccompEnabled === false) {
    ctx.warnings.push(`container "${containerName(ctx)}": seccomp profile ${profile.profile_type ?? 'RuntimeDefault'} not applied: the runtime or kernel has no seccomp`);
    return;
  }
  if (profile.profile_type === 'Localhost') {
    if (ctx.runtime.seccompLocalhost === undefined) {
      throw invalidArgument(`container "${containerName(ctx)}": seccomp profile Localhost "${profile.localhost_ref ?? ''}" was not loaded; the file must exist on the node and hold an OCI or Docker seccomp JSON profile`);
    }
    linux.seccomp = seccompFromProfileJson(ctx.runtime.seccompLocalhost, {
      ref: profile.localhost_ref ?? '',
      capabilities: spec.process?.capabilities?.bounding ?? [],
      arch: ctx.runtime.arch ?? 'x64',
      kernelRelease: ctx.runtime.kernelRelease,
    });
    return;
  }
  const caps = spec.process?.capabilities?.bounding ?? [];
  linux.seccomp = runtimeDefaultSeccomp(caps, ctx.runtime.arch ?? 'x64');
};

/**
 * AppArmor, only where the host has it enabled. Absent means RuntimeDefault (kubernetes#51746, as
 * containerd), which is the configured default profile; Localhost is the named profile
 * ("localhost/" prefix removed); Unconfined and privileged containers get none.
 */
/**
 * The deprecated `apparmor_profile` string (older kubelets): "runtime/default", "unconfined",
 * "localhost/<name>"; empty means unset. Pure.
 */
function fromDeprecatedField(v: string | null | undefined): { profile_type: 'RuntimeDefault' | 'Unconfined' | 'Localhost'; localhost_ref?: string } | undefined {
  const s = (v ?? '').trim();
  if (s === '') return undefined;
  if (s === 'runtime/default') return { profile_type: 'RuntimeDefault' };
  if (s === 'unconfined') return { profile_type: 'Unconfined' };
  if (s.startsWith('localhost/')) return { profile_type: 'Localhost', localhost_ref: s.slice('localhost/'.length) };
  throw invalidArgument(`apparmor_profile "${s}" is not "runtime/default", "unconfined" or "localhost/<profile>"`);
}

export const withApparmor: SpecOpt = (spec, ctx) => {
  const p = ensureProcess(spec);
  delete p.apparmorProfile;
  const profile = securityContext(ctx).apparmor ?? fromDeprecatedField(securityContext(ctx).apparmor_profile) ?? { profile_type: 'RuntimeDefault' as const };
  const aa = ctx.runtime.apparmor;
  const type = profile.profile_type ?? 'RuntimeDefault';
  if (type === 'Unconfined') return;
  if (!aa?.enabled) {
    if (type === 'Localhost') {
      throw failedPrecondition(`container "${containerName(ctx)}": AppArmor profile "${profile.localhost_ref ?? ''}" requested but AppArmor is not enabled on this host; use Unconfined or enable AppArmor`);
    }
    return;
  }
  if (isPrivileged(ctx) && securityContext(ctx).apparmor == null) return;
  if (type === 'Localhost') {
    const name = (profile.localhost_ref ?? '').replace(/^localhost\//, '');
    if (name === '') throw invalidArgument(`container "${containerName(ctx)}": AppArmor Localhost profile without localhost_ref; name the loaded profile`);
    // The runtime would fail at exec with an opaque "write to /proc/self/attr/apparmor/exec: No such file".
    if (aa.loaded && !aa.loaded(name)) {
      throw failedPrecondition(`container "${containerName(ctx)}": AppArmor profile "${name}" is not loaded on this host; load it first (apparmor_parser -r /etc/apparmor.d/${name})`);
    }
    p.apparmorProfile = name;
    return;
  }
  if (aa.defaultProfile) p.apparmorProfile = aa.defaultProfile;
  else ctx.warnings.push(`container "${containerName(ctx)}": AppArmor RuntimeDefault requested but no default profile is configured; running without one`);
};
