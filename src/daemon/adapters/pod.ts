// pod/'s ports over the mechanisms: namespaces (pod/namespaces.ts, both forms), the /dev/shm tmpfs, and cgroups beneath crius's own.
import { join } from 'node:path';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { run } from '../../common/exec.js';
import { createPodNamespaces, removePinnedNamespaces } from '../../pod/namespaces.js';
import type { OciHost } from '../../oci/host-setup.js';
import { podCgroupParent, removePodCgroup } from '../../cgroup/host.js';
import type { CgroupPort, InfraPort, NamespacePort, ShmPort } from '../../pod/ports.js';
import type { Pod } from '../../pod/types.js';
import { preparePauseRootfs, PAUSE_IN_ROOTFS } from '../../pod/infra-rootfs.js';
import { buildSandboxSpec } from '../../spec/build.js';
import { checkIdmapSupport, handlerCapabilities } from '../../spec/idmap-check.js';
import type { FeaturesCache } from '../../oci/features.js';
import type { Logger } from '../../common/logger.js';
import type { Config } from '../../config/config.js';
import type { OciAdapter } from './oci.js';
import { nativeBuildPath } from '../../common/install-root.js';
import { writeFile } from 'node:fs/promises';
import { loadLocalhostSeccomp } from '../../container/seccomp-file.js';

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

/** The pause process for shared-PID pods, run like any container through conmon and the pod's handler. */
export function infraAdapter(o: {
  stateDir: string;
  oci: OciAdapter;
  features: FeaturesCache;
  config: Config;
  ownCapabilities: string[];
  logger: Logger;
}): InfraPort {
  const bundleOf = (pod: Pod): string => join(pod.runtime.runDir, 'infra');
  // The pause binary's rootfs lives under the root dir, not in the bundle under the state dir: the
  // state dir is usually on /run, which systemd (>= 256) mounts noexec, and a plain-directory rootfs
  // keeps its mount's flags (crun: "the path `/pause` exists but it is not executable").
  const rootfsOf = (pod: Pod): string => join(o.config.rootDir, 'infra', pod.id);
  return {
    async start(pod) {
      const bundle = bundleOf(pod);
      // Holds only config.json (0600, the pod's env): the rootfs is elsewhere, so nobody else needs in.
      await mkdir(bundle, { recursive: true, mode: 0o700 });
      await chmod(bundle, 0o700);
      await mkdir(join(o.config.rootDir, 'infra'), { recursive: true, mode: 0o711 });
      const rootfs = await preparePauseRootfs(rootfsOf(pod), nativeBuildPath('crius-pause'));
      const h = o.config.runtimes.find((r) => r.name === pod.handler)!;
      const info = await o.features.read(h.name, h.path);
      const seccompLocalhost = await loadLocalhostSeccomp(pod.config.linux?.security_context?.seccomp, 'config.linux.security_context.seccomp.localhost_ref', o.config.limits.seccompProfileBytes);
      const built = buildSandboxSpec({
        sandbox: pod.config,
        image: {},
        runtime: {
          rootfs,
          namespaces: { net: pod.runtime.namespaces.net, ipc: pod.runtime.namespaces.ipc, uts: pod.runtime.namespaces.uts, user: pod.runtime.namespaces.user },
          netnsOwnedByUserns: pod.runtime.netnsOwnedByUserns,
          // cgroupfs: <parent>/pause; systemd: scope crius-<podId>.scope (scope names are global).
          cgroupsPath: o.oci.cgroupsPath(pod.runtime.cgroupParent, o.oci.systemdCgroups() ? pod.id : 'pause'),
          userns: pod.runtime.userns.kind === 'pod' ? pod.runtime.userns : null,
          handler: { ...handlerCapabilities(pod.handler, info.features), idmapBind: true },
          oomScoreAdjMin: o.oci.oomScoreAdjMin(),
          pauseArgs: [PAUSE_IN_ROOTFS],
          ids: { sandboxId: pod.id },
          cgroupV2: o.oci.cgroupV2(),
          arch: process.arch,
          ownCapabilities: o.ownCapabilities,
          seccompLocalhost,
          ...(o.oci.apparmor ? { apparmor: o.oci.apparmor() } : {}),
        },
      });
      for (const w of built.warnings) o.logger.warn(w, { pod_id: pod.id });
      checkIdmapSupport(built.spec, info);
      await writeFile(join(bundle, 'config.json'), JSON.stringify(built.spec), { mode: 0o600 });
      const created = await o.oci.create(pod.handler, { id: pod.id, bundle, logPath: join(bundle, 'pause.log'), terminal: false, stdin: false, stdinOnce: false });
      await o.oci.start(pod.handler, pod.id);
      return { containerId: pod.id, pid: created.pid, conmonPid: created.conmonPid, conmonStartTime: created.conmonStartTime };
    },
    async stop(pod) {
      await o.oci.kill(pod.handler, pod.id, 'SIGKILL');
    },
    async alive(pod) {
      const infra = pod.runtime.infra;
      if (!infra) return false;
      return (await o.oci.recover(pod.id, { pid: infra.conmonPid, startTime: infra.conmonStartTime }, false)).state === 'running';
    },
    async remove(pod) {
      await o.oci.delete(pod.handler, pod.id);
      await o.oci.cleanup(pod.id);
      await rm(bundleOf(pod), { recursive: true, force: true });
      await rm(rootfsOf(pod), { recursive: true, force: true });
    },
  };
}
