// pod/'s NetworkPort over network/cni.
import { failedPrecondition } from '../../common/errors.js';
import type { Cni } from '../../network/cni.js';
import type { NetworkPort } from '../../pod/ports.js';

export function networkAdapter(cni: Cni): NetworkPort {
  return {
    async ready() {
      const s = await cni.status();
      return { ready: s.ready, reason: s.reason, message: s.message };
    },
    async add(meta, netns, ports) {
      const status = await cni.status();
      if (!status.ready) {
        throw failedPrecondition(`pod network is not ready: ${status.message ?? status.reason ?? 'no CNI configuration'}`);
      }
      const r = await cni.add({ id: meta.podId, name: meta.name, namespace: meta.namespace, uid: meta.uid }, netns,
        ports.map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol, ...(p.hostIp ? { hostIP: p.hostIp } : {}) })));
      return { ips: r.ips };
    },
    remove: (meta, netns) => cni.del({ id: meta.podId, name: meta.name, namespace: meta.namespace, uid: meta.uid }, netns),
  };
}
