// Namespaces: containers join the pod's pinned network, IPC and UTS namespaces by path; host (NODE)
// modes leave the namespace out so the process stays in the host's; PID per the CRI mode.
import { invalidArgument } from '../common/errors.js';
import { containerName, ensureLinux, securityContext, type SpecContext, type SpecOpt } from './context.js';
import type { LinuxNamespace, LinuxNamespaceType } from './oci-types.js';
import type { NamespaceMode, NamespaceOption } from './types.js';

/** The container's namespace options (the kubelet sends them on both configs), else the sandbox's. */
export function namespaceOptions(ctx: SpecContext): NamespaceOption {
  return securityContext(ctx).namespace_options ?? ctx.sandbox.linux?.security_context?.namespace_options ?? {};
}

function setNamespace(list: LinuxNamespace[], type: LinuxNamespaceType, path: string | undefined): LinuxNamespace[] {
  const rest = list.filter((n) => n.type !== type);
  rest.push(path ? { type, path } : { type });
  return rest;
}

function podNamespace(ctx: SpecContext, type: LinuxNamespaceType, mode: NamespaceMode, path: string | undefined, list: LinuxNamespace[]): LinuxNamespace[] {
  if (mode === 'NODE') return list.filter((n) => n.type !== type);
  if (mode !== 'POD') {
    throw invalidArgument(`container "${containerName(ctx)}": ${type} namespace mode ${mode} is not supported; only POD and NODE are (CRI NamespaceOption)`);
  }
  // The sandbox spec may create the namespace; a container must join the pod's.
  // No pinned path: the pod was run with this namespace in NODE mode. A client error (the container must
  // use its pod's modes), not crius's: INVALID_ARGUMENT rather than INTERNAL.
  if (!path && ctx.kind === 'container') {
    throw invalidArgument(`container "${containerName(ctx)}": ${type} namespace mode is POD, but its pod has no ${type} namespace of its own (the pod was run with mode NODE); send the pod's namespace modes`);
  }
  return setNamespace(list, type, path);
}

/**
 * network, ipc, uts: the pod's pinned paths (or host for NODE; UTS follows the network mode, as the
 * kubelet ties the host's hostname to hostNetwork). pid: POD joins the pod's PID namespace (the pause
 * process's), CONTAINER gets a new one, NODE none, TARGET joins the target container's (path given by
 * the caller in namespaces.pid). mount is always new. cgroup only when the caller asks.
 */
export const withNamespaces: SpecOpt = (spec, ctx) => {
  const linux = ensureLinux(spec);
  const ns = ctx.runtime.namespaces;
  const o = namespaceOptions(ctx);
  const net = o.network ?? 'POD';
  let list = setNamespace(linux.namespaces ?? [], 'mount', undefined);
  list = podNamespace(ctx, 'network', net, ns.net, list);
  list = podNamespace(ctx, 'ipc', o.ipc ?? 'POD', ns.ipc, list);
  list = podNamespace(ctx, 'uts', net === 'NODE' ? 'NODE' : 'POD', ns.uts, list);
  const pid = o.pid ?? 'POD';
  switch (pid) {
    case 'NODE':
      list = list.filter((n) => n.type !== 'pid');
      break;
    case 'CONTAINER':
      list = setNamespace(list, 'pid', undefined);
      break;
    case 'POD':
      if (ctx.kind === 'container' && !ns.pid) {
        throw invalidArgument(`container "${containerName(ctx)}": PID mode is POD (the default), but its pod shares no PID namespace (the pod was run with PID mode CONTAINER or NODE); send the pod's PID mode`);
      }
      list = setNamespace(list, 'pid', ns.pid);
      break;
    case 'TARGET':
      if (!ns.pid) throw invalidArgument(`container "${containerName(ctx)}": PID mode TARGET but target container "${o.target_id ?? ''}" has no PID namespace to join`);
      list = setNamespace(list, 'pid', ns.pid);
      break;
  }
  if (ctx.runtime.cgroupNamespace) list = setNamespace(list, 'cgroup', undefined);
  linux.namespaces = list;
};

/**
 * The hostname is set by whoever creates the UTS namespace. When the spec creates it (no pinned path)
 * it goes in spec.hostname; when the pod pinned it, pod/ already set it there, and sethostname from a
 * container in a user namespace that does not own that UTS namespace would fail with EPERM.
 */
export const withHostname: SpecOpt = (spec, ctx) => {
  delete spec.hostname;
  const uts = spec.linux?.namespaces?.find((n) => n.type === 'uts');
  if (uts && !uts.path && ctx.sandbox.hostname) spec.hostname = ctx.sandbox.hostname;
};
