// CRI devices: device nodes created in the container and allowed in the device cgroup.
import { invalidArgument, notFound } from '../common/errors.js';
import { containerName, ensureLinux, securityContext, type SpecOpt } from './context.js';
import { cleanContainerPath } from './mounts.js';
import type { LinuxDeviceCgroup } from './oci-types.js';

/**
 * Each CRI device becomes a linux.devices node (type, major, minor and mode from the caller's stat of
 * host_path) plus a device cgroup rule with its permissions ("r", "w", "m"). Privileged containers
 * already get every host device (withPrivileged).
 */
export const withDevices: SpecOpt = (spec, ctx) => {
  if (securityContext(ctx).privileged) return;
  const devices = ctx.container.devices ?? [];
  if (devices.length === 0) return;
  const linux = ensureLinux(spec);
  const nodes = linux.devices ?? [];
  const rules: LinuxDeviceCgroup[] = linux.resources?.devices ?? [];
  for (const d of devices) {
    const info = ctx.runtime.deviceNodes?.[d.host_path];
    if (!info) throw notFound(`container "${containerName(ctx)}": device "${d.host_path}" is not a device node on this host; check the device's host path`);
    const perms = d.permissions || 'rwm';
    if (!/^[rwm]+$/.test(perms)) throw invalidArgument(`container "${containerName(ctx)}": device "${d.host_path}" has permissions "${d.permissions}"; use any of r, w, m`);
    const path = cleanContainerPath(d.container_path || d.host_path, `container "${containerName(ctx)}" device`);
    nodes.push({ path, type: info.type, major: info.major, minor: info.minor, fileMode: info.fileMode, uid: info.uid, gid: info.gid });
    rules.push({ allow: true, type: info.type, major: info.major, minor: info.minor, access: perms });
  }
  linux.devices = nodes;
  linux.resources = { ...(linux.resources ?? {}), devices: rules };
};
