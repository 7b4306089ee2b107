// What every spec option sees: the inputs plus a list of warnings the caller logs. An option is a
// small function `(spec, ctx) => void` that does one thing (containerd pkg/oci SpecOpts).
import type { Spec } from './oci-types.js';
import type { ContainerConfigInput, ImageConfig, LinuxContainerSecurityContext, RuntimeContext, SandboxConfigInput } from './types.js';

export interface SpecContext {
  readonly kind: 'container' | 'sandbox';
  /** For the sandbox (pause) spec, a container config derived from the sandbox's own. */
  readonly container: ContainerConfigInput;
  readonly sandbox: SandboxConfigInput;
  readonly image: ImageConfig;
  readonly passwd?: string;
  readonly group?: string;
  readonly runtime: RuntimeContext;
  /** Things that were adjusted rather than refused (clamped oom_score_adj, skipped hugepages, ...). */
  readonly warnings: string[];
}

export type SpecOpt = (spec: Spec, ctx: SpecContext) => void;

export function applyOpts(spec: Spec, ctx: SpecContext, opts: readonly SpecOpt[]): Spec {
  for (const opt of opts) opt(spec, ctx);
  return spec;
}

/** The container's security context, or an empty one. */
export function securityContext(ctx: SpecContext): LinuxContainerSecurityContext {
  return ctx.container.linux?.security_context ?? {};
}

export function containerName(ctx: SpecContext): string {
  return ctx.container.metadata?.name ?? ctx.sandbox.metadata?.name ?? '(unnamed)';
}

/** A fresh context; `warnings` starts empty. */
export function makeContext(fields: Omit<SpecContext, 'warnings'>): SpecContext {
  return { ...fields, warnings: [] };
}

export function ensureLinux(spec: Spec): NonNullable<Spec['linux']> {
  spec.linux ??= {};
  return spec.linux;
}

export function ensureProcess(spec: Spec): NonNullable<Spec['process']> {
  spec.process ??= { user: { uid: 0, gid: 0 }, cwd: '/' };
  return spec.process;
}
