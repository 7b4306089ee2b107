// Each configured OCI runtime handler, judged from its own `features` report (crun's features contract),
// not from version strings: idmapped mounts (linux.mountExtensions.idmap), recursive read-only mounts
// (rro) and the user namespace. A user-namespaced pod needs at least one handler that can do all of it.
import { handlerCriFeatures, usernsUnsupportedReason, type HandlerInfo } from '../oci/features.js';
import type { KernelFacts } from '../common/kernel.js';
import { fail, ok, warn, type CheckResult } from './check.js';

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');

export function checkHandler(info: HandlerInfo, kernel: KernelFacts, isDefault: boolean): CheckResult {
  const name = `handler ${info.name}${isDefault ? ' (default)' : ''}`;
  const where = `${info.path}${info.version ? ` (${info.version})` : ''}`;
  if (!info.features) {
    return fail(name, `${where}: ${info.reason ?? 'no features report'}`,
      `install crun >= 1.9 or runc >= 1.2 at ${info.path}, or point [runtimes.${info.name}] path at one`);
  }
  const f = info.features;
  const cri = handlerCriFeatures(info, kernel);
  const idmap = f.linux?.mountExtensions?.idmap?.enabled === true;
  const userNs = f.linux?.namespaces?.includes('user') === true;
  const detail = `${where}: idmap ${yesNo(idmap)}, rro ${yesNo(cri.recursive_read_only_mounts)}, user ns ${yesNo(userNs)}` +
    ` -> user_namespaces ${yesNo(cri.user_namespaces)}`;
  const why = usernsUnsupportedReason(info, kernel);
  if (why !== undefined) {
    return warn(name, `${detail}; ${why}`, `this handler cannot run pods with hostUsers: false; use crun >= 1.9 or runc >= 1.2 at ${info.path}`);
  }
  if (!cri.recursive_read_only_mounts) {
    return warn(name, `${detail}; recursive read-only mounts unavailable (needs "rro" in mountOptions and Linux >= 5.12)`,
      'upgrade the runtime (crun >= 1.9 or runc >= 1.2) if pods ask for recursiveReadOnly mounts');
  }
  return ok(name, detail);
}

/** Whether some handler can run user-namespaced pods, and whether it is the default one. */
export function checkUsernsHandlers(infos: readonly HandlerInfo[], defaultName: string, kernel: KernelFacts): CheckResult {
  const name = 'handlers for user namespaces';
  const able = infos.filter((i) => handlerCriFeatures(i, kernel).user_namespaces).map((i) => i.name);
  if (able.length === 0) {
    return fail(name, `no configured handler (${infos.map((i) => i.name).join(', ') || 'none'}) supports user namespaces`,
      'install crun >= 1.9 or runc >= 1.2 and configure it under [runtimes]', true);
  }
  if (!able.includes(defaultName)) {
    return warn(name, `the default handler ${defaultName} cannot run user-namespaced pods; ${able.join(', ')} can`,
      `set default_runtime = "${able[0]}" or give user-namespaced pods a RuntimeClass with handler ${able[0]}`, true);
  }
  return ok(name, `${able.join(', ')} (default ${defaultName})`, true);
}
