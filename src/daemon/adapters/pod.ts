// pod/'s ports over the mechanisms: namespaces (userns/ for user-namespaced pods, pod/namespaces for the
// rest), the /dev/shm tmpfs, and cgroups beneath crius's own. The infra (pause) container is pod/infra.ts.
import { join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { run } from '../../common/exec.js';
import { wrap } from '../../common/errors.js';
import { canSetHostnameInside, createPodNamespaces, removeNamespaceFiles } from '../../userns/userns-file.js';
import { applyPodSysctls, pinPodNamespaces, removePinnedNamespaces, checkSysctls } from '../../pod/namespaces.js';
import { podCgroupParent, removePodCgroup, type OciHost } from '../../oci/host-setup.js';
import type { CgroupPort, NamespacePort, ShmPort } from '../../pod/ports.js';

export function namespaceAdapter(): NamespacePort {
  return {
    async create(req) {
      if (req.userns.kind === 'pod') {
        checkSysctls(req.sysctls, { net: true, ipc: true, uts: true });
        const files = { user: join(req.dir, 'user'), net: join(req.dir, 'net'), uts: join(req.dir, 'uts'), ipc: join(req.dir, 'ipc') };
        await mkdir(req.dir, { recursive: true, mode: 0o711 });
        const map = { uid: req.userns.uid, gid: req.userns.gid };
        // The hostname is set by the process that creates the namespaces when it can be: one spawn per pod.
        const setInside = canSetHostnameInside(req.hostname, map);
        await createPodNamespaces(files, map, run, setInside ? { hostname: req.hostname } : {});
        // No `ip link set lo up` here: CNI ADD brings lo up in every pinned netns (network/cni.ts), and a
        // user-namespaced pod always has its own netns and goes through CNI (host network with a user
        // namespace is refused), so a second nsenter+ip spawn per pod would only cost time.
        try {
          await applyPodSysctls(files, req.sysctls, setInside ? undefined : req.hostname);
        } catch (err) {
          await removeNamespaceFiles(Object.values(files)).catch(() => undefined);
          throw wrap('set up the pod namespaces', err);
        }
        return { paths: files, netnsOwnedByUserns: true };
      }
      const paths = await pinPodNamespaces({
        dir: req.dir, net: !req.hostNetwork, ipc: !req.hostIpc, uts: !req.hostNetwork,
        hostname: req.hostNetwork ? undefined : req.hostname, sysctls: req.sysctls,
      });
      // No user namespace: nothing owns the netns but the host's, which is what the pod runs in.
      return { paths, netnsOwnedByUserns: true };
    },
    async remove(paths) {
      await removePinnedNamespaces({ net: paths.net, ipc: paths.ipc, uts: paths.uts, user: paths.user });
    },
  };
}

export function shmAdapter(): ShmPort {
  return {
    async mount(dir, sizeBytes, owner) {
      await mkdir(dir, { recursive: true, mode: 0o755 });
      // nosuid,nodev,noexec: required for a bind into a user namespace (the remount would otherwise fail
      // with EPERM, containerd notes); owned by the pod's root so it is the pod's own tmpfs.
      await run('/usr/bin/mount', ['-t', 'tmpfs', '-o', `nosuid,nodev,noexec,mode=1777,size=${sizeBytes},uid=${owner.uid},gid=${owner.gid}`, 'shm', dir], { timeoutMs: 10_000 });
    },
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
