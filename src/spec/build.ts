// The two specs crius writes: an application container's, and the pause (infra) process's for pods
// whose containers share a PID namespace (PID mode POD needs an init to hold the namespace).
// Each is defaultSpec() plus the options below, applied in order; the order matters where one option
// reads what an earlier one wrote (seccomp reads the final capabilities, the ID check reads the user,
// idmaps attach to mounts already placed, sorting comes last).
import { applyOpts, ensureProcess, makeContext, securityContext, type SpecContext, type SpecOpt } from './context.js';
import { defaultSpec } from './defaults.js';
import { withAnnotations } from './annotations.js';
import { withDevices } from './devices.js';
import { withImageVolumes, withMountOrder, withMounts, withSandboxFiles } from './mounts.js';
import { withHostname, withNamespaces } from './namespaces.js';
import type { Spec } from './oci-types.js';
import { withEnv, withProcessArgs, withTerminal, withWorkingDir } from './process.js';
import { setOomScoreAdj, withCgroupsPath, withResources, withSysctls } from './resources.js';
import {
  withApparmor,
  withCapabilities,
  withMaskedPaths,
  withNoNewPrivileges,
  withPrivileged,
  withReadonlyPaths,
  withReadonlyRootfs,
  withSeccomp,
} from './security.js';
import type { ContainerConfigInput, ContainerSpecInput, SandboxSpecInput } from './types.js';
import { withUser } from './user.js';
import { withIdmappedMounts, withMappedIdsCheck, withUserNamespace, withUsernsSysfs } from './userns.js';

export interface BuiltSpec {
  spec: Spec;
  /** Adjustments made instead of failing (clamped oom_score_adj, skipped hugepages, ...): log them. */
  warnings: string[];
}

/** root.path is the container's rootfs mount point (absolute: the bundle dir is elsewhere). */
const withRootfs: SpecOpt = (spec, ctx) => {
  spec.root = { path: ctx.runtime.rootfs, readonly: spec.root?.readonly ?? false };
};

const CONTAINER_OPTS: readonly SpecOpt[] = [
  withRootfs,
  withProcessArgs,
  withEnv,
  withWorkingDir,
  withTerminal,
  withNamespaces,
  withHostname,
  withUserNamespace,
  withUser,
  withMappedIdsCheck,
  withMounts,
  withSandboxFiles,
  withImageVolumes,
  withIdmappedMounts,
  withUsernsSysfs,
  withReadonlyRootfs,
  withMaskedPaths,
  withReadonlyPaths,
  withCapabilities,
  withPrivileged,
  withNoNewPrivileges,
  withSeccomp,
  withApparmor,
  withDevices,
  withResources,
  // No withSysctls: the pod's sysctls live in its shared namespaces and are applied once, when pod/
  // pins them (and by the pause spec); containerd and CRI-O do not repeat them per container either.
  withCgroupsPath,
  withAnnotations,
  withMountOrder,
];

export function buildContainerSpec(input: ContainerSpecInput): BuiltSpec {
  const ctx = makeContext({
    kind: 'container',
    container: input.container,
    sandbox: input.sandbox,
    image: input.image,
    passwd: input.passwd,
    group: input.group,
    runtime: input.runtime,
  });
  const spec = applyOpts(defaultSpec(), ctx, CONTAINER_OPTS);
  return { spec, warnings: ctx.warnings };
}

/** containerd's defaultSandboxOOMAdj: the pause process should be the last thing the OOM killer picks. */
const SANDBOX_OOM_SCORE_ADJ = -998;

/** The pause process needs no capabilities and writes nothing: drop everything it does not need. */
const withSandboxHardening: SpecOpt = (spec, ctx) => {
  const p = ensureProcess(spec);
  p.noNewPrivileges = true;
  if (securityContext(ctx).privileged !== true) p.capabilities = { bounding: [], effective: [], permitted: [] };
  spec.root = { path: ctx.runtime.rootfs, readonly: true };
  setOomScoreAdj(spec, ctx, SANDBOX_OOM_SCORE_ADJ, 'sandbox');
};

const SANDBOX_OPTS: readonly SpecOpt[] = [
  withRootfs,
  withProcessArgs,
  withEnv,
  withWorkingDir,
  withNamespaces,
  withHostname,
  withUserNamespace,
  withUser,
  withMappedIdsCheck,
  withSandboxFiles,
  withIdmappedMounts,
  withUsernsSysfs,
  withMaskedPaths,
  withReadonlyPaths,
  withCapabilities,
  withPrivileged,
  withSeccomp,
  withApparmor,
  withSysctls,
  withCgroupsPath,
  withAnnotations,
  withSandboxHardening,
  withMountOrder,
];

/** The sandbox's own security context seen as a container config, so the same options apply. */
function sandboxAsContainer(input: SandboxSpecInput): ContainerConfigInput {
  const sc = input.sandbox.linux?.security_context ?? {};
  const cfg: ContainerConfigInput = {
    metadata: { name: input.sandbox.metadata?.name ?? 'sandbox' },
    linux: {
      security_context: {
        namespace_options: sc.namespace_options ?? null,
        run_as_user: sc.run_as_user ?? null,
        run_as_group: sc.run_as_group ?? null,
        supplemental_groups: sc.supplemental_groups ?? [],
        supplemental_groups_policy: sc.supplemental_groups_policy ?? 'Merge',
        privileged: sc.privileged === true,
        seccomp: sc.seccomp ?? null,
        apparmor: sc.apparmor ?? null,
      },
    },
  };
  if (input.runtime.pauseArgs && input.runtime.pauseArgs.length > 0) cfg.command = [...input.runtime.pauseArgs];
  return cfg;
}

export function buildSandboxSpec(input: SandboxSpecInput): BuiltSpec {
  const ctx: SpecContext = makeContext({
    kind: 'sandbox',
    container: sandboxAsContainer(input),
    sandbox: input.sandbox,
    image: input.image,
    passwd: input.passwd,
    group: input.group,
    runtime: input.runtime,
  });
  const spec = applyOpts(defaultSpec(), ctx, SANDBOX_OPTS);
  return { spec, warnings: ctx.warnings };
}
