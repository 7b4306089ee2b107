// UpdatePodSandboxResources: the pod's new totals (resources, plus overhead from its RuntimeClass) written
// to the pod's cgroup parent. Memory and CPU limits are the sums; shares add up too.
import { failedPrecondition, invalidArgument, wrap } from '../common/errors.js';
import type { Pod } from '../pod/types.js';
import type { PodLimits } from '../cgroup/pod-resources.js';
import { podLimitsFromCri } from '../cgroup/pod-resources.js';
import { checkResources, type HostCpuset } from './validate/resources.js';

type CriRes = Parameters<typeof podLimitsFromCri>[0];

interface PodResourcesDeps {
  /** The pod's identity, state and cgroup parent: all this handler reads of it. */
  pods: { get(id: string): Pick<Pod, 'id' | 'name' | 'namespace' | 'state'> & { runtime: Pick<Pod['runtime'], 'cgroupParent'> } };
  apply(podCgroup: string, limits: PodLimits): Promise<unknown>;
  /** The node's highest CPU and memory node, for cpuset checks; absent = not checked. */
  host?: HostCpuset;
}

/** resources + overhead: limits add up; an unlimited side (unset) keeps the sum unlimited. Pure. */
export function podTotals(resources: CriRes | null | undefined, overhead: CriRes | null | undefined): PodLimits {
  const r = podLimitsFromCri(resources ?? {});
  if (!overhead) return r;
  const o = podLimitsFromCri(overhead);
  const out: PodLimits = { ...r };
  if (r.cpuShares !== undefined && o.cpuShares !== undefined) out.cpuShares = r.cpuShares + o.cpuShares;
  if (r.memoryLimit !== undefined && o.memoryLimit !== undefined) out.memoryLimit = r.memoryLimit + o.memoryLimit;
  if (r.cpuQuota !== undefined && r.cpuQuota > 0 && o.cpuQuota !== undefined && o.cpuQuota > 0) {
    // Quotas are per period: bring the overhead's to the pod's period before adding.
    const period = r.cpuPeriod ?? 100000;
    out.cpuQuota = r.cpuQuota + Math.round((o.cpuQuota * period) / (o.cpuPeriod ?? 100000));
  }
  return out;
}

export function makePodResourcesHandlers(d: PodResourcesDeps) {
  return {
    UpdatePodSandboxResources: async (req: { pod_sandbox_id?: string | null; resources?: CriRes | null; overhead?: CriRes | null }): Promise<object> => {
      if (!req.pod_sandbox_id) throw invalidArgument('UpdatePodSandboxResources: pod_sandbox_id is empty');
      // Kernel-refused values are refused here, naming the field, not as EINVAL from the cgroup write.
      const host = d.host ?? { maxCpu: Number.MAX_SAFE_INTEGER, maxMem: Number.MAX_SAFE_INTEGER };
      checkResources(req.resources as never, 'resources', host);
      checkResources(req.overhead as never, 'overhead', host);
      const pod = d.pods.get(req.pod_sandbox_id);
      const what = `update resources of pod "${pod.namespace}/${pod.name}" (${pod.id})`;
      if (pod.state !== 'ready') throw failedPrecondition(`${what}: the pod is ${pod.state}`);
      try {
        await d.apply(pod.runtime.cgroupParent, podTotals(req.resources, req.overhead));
      } catch (err) {
        throw wrap(what, err);
      }
      return {};
    },
  };
}
