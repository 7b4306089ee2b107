// pod/'s ports over the mechanisms: namespaces (pod/namespaces.ts, both forms, with the /dev/shm tmpfs),
// cgroups beneath crius's own. The infra (pause) container is pod/infra.ts.
import { rm } from 'node:fs/promises';
import { run } from '../../common/exec.js';
import { createPodNamespaces, removePinnedNamespaces } from '../../pod/namespaces.js';
import type { OciHost } from '../../oci/host-setup.js';
import { podCgroupParent, removePodCgroup } from '../../cgroup/host.js';
import type { CgroupPort, NamespacePort, ShmPort } from '../../pod/ports.js';

export function namespaceAdapter(): NamespacePort {
  return {
    create: (req) => createPodNamespaces(req),
    async remove(paths) {
      await removePinnedNamespaces({ net: paths.net, ipc: paths.ipc, uts: paths.uts, user: paths.user });
    },
  };
}

export function shmAdapter(): ShmPort {
  return {
    async unmount(dir) {
      await run('/usr/bin/umount', ['-l', dir], { timeoutMs: 10_000, okCodes: [0, 32] }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

export function cgroupAdapter(host: OciHost): CgroupPort {
  return {
    podParent: (podId, requested) => podCgroupParent(host, podId, requested),
    async removePod(parent) {
      await removePodCgroup(host, parent);
    },
  };
}
