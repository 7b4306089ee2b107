// Names or ID prefixes -> CRI objects, as people type them: `web`, `default/web`, `3f2a`, `web/httpd`.
import { invalidArgument, notFound } from '../common/errors.js';
import type { CriClient } from './client.js';

export interface PodItem {
  id: string;
  metadata: { name: string; namespace: string; uid: string; attempt: number };
  state: string;
  created_at: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtime_handler: string;
}

interface ContainerItem {
  id: string;
  pod_sandbox_id: string;
  metadata: { name: string; attempt: number };
  image: { image: string } | null;
  image_ref: string;
  state: string;
  created_at: string;
  labels: Record<string, string>;
}

export async function listPods(c: CriClient): Promise<PodItem[]> {
  return (await c.call<{ items: PodItem[] }>('runtime', 'ListPodSandbox', {}, 10_000)).items;
}

export async function listContainers(c: CriClient, podId?: string): Promise<ContainerItem[]> {
  const req = podId ? { filter: { pod_sandbox_id: podId } } : {};
  return (await c.call<{ containers: ContainerItem[] }>('runtime', 'ListContainers', req, 10_000)).containers;
}

function matchPods(pods: PodItem[], ref: string): PodItem[] {
  const [ns, name] = ref.includes('/') ? ref.split('/', 2) as [string, string] : [undefined, ref];
  const byName = pods.filter((p) => p.metadata.name === name && (ns === undefined || p.metadata.namespace === ns));
  if (byName.length > 0) return byName;
  return ns === undefined ? pods.filter((p) => p.id.startsWith(ref)) : [];
}

export async function findPod(c: CriClient, ref: string): Promise<PodItem> {
  if (!ref) throw invalidArgument('name a pod (its name, namespace/name or an ID prefix)');
  const found = matchPods(await listPods(c), ref);
  if (found.length === 1) return found[0]!;
  if (found.length === 0) throw notFound(`no pod "${ref}" (crius pods lists them)`);
  throw invalidArgument(`"${ref}" matches ${found.length} pods (${found.map((p) => `${p.metadata.namespace}/${p.metadata.name} ${p.id.slice(0, 13)}`).join(', ')}): use namespace/name or a longer ID prefix`);
}

/**
 * POD[/CONTAINER] or a container ID prefix. Without a container name: the pod's first app container
 * (the oldest one not started by an init step), as kubectl picks the default container.
 */
export async function findContainer(c: CriClient, ref: string): Promise<{ pod?: PodItem; container: ContainerItem }> {
  const pods = await listPods(c);
  const parts = ref.split('/');
  const tries: Array<[string, string | undefined]> = [[ref, undefined]];
  if (parts.length >= 2) tries.push([parts.slice(0, -1).join('/'), parts[parts.length - 1]]);
  for (const [podRef, ctrName] of tries.reverse()) {
    const ps = matchPods(pods, podRef);
    if (ps.length > 1) throw invalidArgument(`"${podRef}" matches ${ps.length} pods: use namespace/name or an ID prefix`);
    if (ps.length === 0) continue;
    const pod = ps[0]!;
    const ctrs = (await listContainers(c, pod.id)).sort((a, b) => Number(BigInt(a.created_at) - BigInt(b.created_at)));
    if (ctrName !== undefined) {
      const m = ctrs.filter((x) => x.metadata.name === ctrName).sort((a, b) => b.metadata.attempt - a.metadata.attempt);
      if (m.length === 0) throw notFound(`pod "${pod.metadata.name}" has no container "${ctrName}" (has: ${ctrs.map((x) => x.metadata.name).join(', ') || 'none'})`);
      return { pod, container: m[0]! };
    }
    const initNames = new Set((pod.annotations['io.crius.run/init-containers'] ?? '').split(',').filter(Boolean));
    const app = ctrs.filter((x) => !initNames.has(x.metadata.name));
    const first = app[0] ?? ctrs[0];
    if (!first) throw notFound(`pod "${pod.metadata.name}" has no containers`);
    return { pod, container: first };
  }
  const byId = (await listContainers(c)).filter((x) => x.id.startsWith(ref));
  if (byId.length === 1) return { pod: pods.find((p) => p.id === byId[0]!.pod_sandbox_id), container: byId[0]! };
  if (byId.length > 1) throw invalidArgument(`container ID prefix "${ref}" is ambiguous`);
  throw notFound(`no pod or container "${ref}" (crius pods and crius ps list them)`);
}
