// OCI annotations: crius's own io.kubernetes.cri.* keys (the names containerd uses, which tools such as
// gVisor and Kata read) plus CRI annotations the operator allowed. Pod annotations are NOT passed
// through wholesale: OCI runtimes act on some (crun `run.oci.*`, runc `org.systemd.property.*`,
// `org.criu.config`), which would let any pod author configure the runtime.
import type { SpecOpt } from './context.js';

const ANNOTATION_CONTAINER_TYPE = 'io.kubernetes.cri.container-type';
const ANNOTATION_SANDBOX_ID = 'io.kubernetes.cri.sandbox-id';
const ANNOTATION_SANDBOX_NAME = 'io.kubernetes.cri.sandbox-name';
const ANNOTATION_SANDBOX_NAMESPACE = 'io.kubernetes.cri.sandbox-namespace';
const ANNOTATION_SANDBOX_UID = 'io.kubernetes.cri.sandbox-uid';
const ANNOTATION_CONTAINER_NAME = 'io.kubernetes.cri.container-name';
const ANNOTATION_IMAGE_NAME = 'io.kubernetes.cri.image-name';

/** Prefixes that runtimes interpret (crun and runc `features` potentiallyUnsafeConfigAnnotations). */
const UNSAFE_ANNOTATION_PREFIXES: readonly string[] = ['run.oci.', 'org.systemd.property.', 'org.criu.config', 'bundle', 'module.wasm.image/variant', 'io.kubernetes.cri.'];

export const withAnnotations: SpecOpt = (spec, ctx) => {
  const out: Record<string, string> = {};
  const allow = ctx.runtime.annotationAllowlist ?? [];
  const source = { ...(ctx.sandbox.annotations ?? {}), ...(ctx.kind === 'container' ? (ctx.container.annotations ?? {}) : {}) };
  for (const [k, v] of Object.entries(source)) {
    if (!allow.some((p) => k.startsWith(p))) continue;
    if (UNSAFE_ANNOTATION_PREFIXES.some((p) => k.startsWith(p))) continue;
    out[k] = v;
  }
  out[ANNOTATION_CONTAINER_TYPE] = ctx.kind;
  const ids = ctx.runtime.ids;
  if (ids) out[ANNOTATION_SANDBOX_ID] = ids.sandboxId;
  const md = ctx.sandbox.metadata;
  if (md) {
    out[ANNOTATION_SANDBOX_NAME] = md.name;
    out[ANNOTATION_SANDBOX_NAMESPACE] = md.namespace;
    out[ANNOTATION_SANDBOX_UID] = md.uid;
  }
  if (ctx.kind === 'container' && ctx.container.metadata) out[ANNOTATION_CONTAINER_NAME] = ctx.container.metadata.name;
  if (ids?.imageName) out[ANNOTATION_IMAGE_NAME] = ids.imageName;
  spec.annotations = out;
};
