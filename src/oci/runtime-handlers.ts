// Which configured OCI runtime handler ([[runtimes]] in the config) a name means. The one lookup: the pod's
// handler at RunPodSandbox, a handler's `features` for the spec checks, and the OciRuntime that runs it.
import { notFound } from '../common/errors.js';

/**
 * The configured handler `name` names; "" means `defaultName` when one is given (RunPodSandbox's
 * runtime_handler is "" for the default, as the CRI says). NOT_FOUND names the handler and the configured
 * ones, so the fix (a RuntimeClass's handler, or the config) is plain.
 */
export function runtimeHandler<T extends { name: string }>(configured: readonly T[], name: string, defaultName?: string): T {
  const wanted = name === '' && defaultName !== undefined ? defaultName : name;
  const found = configured.find((h) => h.name === wanted);
  if (!found) throw notFound(`runtime handler "${name}" is not configured (configured: ${configured.map((h) => `"${h.name}"`).join(', ') || 'none'})`);
  return found;
}
