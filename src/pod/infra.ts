// The infra (pause) container of a PID-POD pod: the pause binary run like any container, through the same
// create path (container/runtime-create.ts: seccomp, spec, idmap check, config.json, oci create) under
// conmon and the pod's handler; only its spec builder (spec/build.ts buildSandboxSpec) and rootfs differ.
import { join } from 'node:path';
import { chmod, mkdir, rm } from 'node:fs/promises';
import type { Logger } from '../common/logger.js';
import type { HandlerPort, OciPort } from '../container/ports.js';
import { checkedSpec, createInRuntime } from '../container/runtime-create.js';
import { buildSandboxSpec } from '../spec/build.js';
import { handlerCapabilities } from '../spec/idmap-check.js';
import { preparePauseRootfs, PAUSE_IN_ROOTFS } from './infra-rootfs.js';
import type { InfraPort } from './ports.js';
import type { Pod } from './types.js';

interface InfraDeps {
  oci: OciPort;
  /** Whether containers are systemd scopes (then the pause container's scope is named after the pod). */
  systemdCgroups: boolean;
  handlers: HandlerPort;
  /** <root>: the pause rootfs lives in <root>/infra/<pod ID>. */
  rootDir: string;
  /** The static pause binary (native/build/crius-pause), copied into each pause rootfs. */
  pauseBinary: string;
  /** [limits] max_seccomp_profile_bytes. */
  seccompProfileBytes?: number;
  /** Capabilities crius itself holds. */
  ownCapabilities: string[];
  logger: Logger;
}

export function createInfra(d: InfraDeps): InfraPort {
  const bundleOf = (pod: Pod): string => join(pod.runtime.runDir, 'infra');
  // The pause binary's rootfs lives under the root dir, not in the bundle under the state dir: the
  // state dir is usually on /run, which systemd (>= 256) mounts noexec, and a plain-directory rootfs
  // keeps its mount's flags (crun: "the path `/pause` exists but it is not executable").
  const rootfsOf = (pod: Pod): string => join(d.rootDir, 'infra', pod.id);
  return {
    async start(pod) {
      const bundle = bundleOf(pod);
      const pauseDir = rootfsOf(pod);
      const rootfs = join(pauseDir, 'rootfs');
      const info = await d.handlers.info(pod.handler);
      const spec = await checkedSpec({
        seccomp: pod.config.linux?.security_context?.seccomp,
        seccompField: 'config.linux.security_context.seccomp.localhost_ref',
        seccompProfileBytes: d.seccompProfileBytes,
        handler: info,
        warn: (w) => d.logger.warn(w, { pod_id: pod.id }),
        build: (seccompLocalhost) => buildSandboxSpec({
          sandbox: pod.config,
          image: {},
          runtime: {
            rootfs,
            namespaces: { net: pod.runtime.namespaces.net, ipc: pod.runtime.namespaces.ipc, uts: pod.runtime.namespaces.uts, user: pod.runtime.namespaces.user },
            netnsOwnedByUserns: pod.runtime.netnsOwnedByUserns,
            // cgroupfs: <parent>/pause; systemd: scope crius-<podId>.scope (scope names are global).
            cgroupsPath: d.oci.cgroupsPath(pod.runtime.cgroupParent, d.systemdCgroups ? pod.id : 'pause'),
            userns: pod.runtime.userns.kind === 'pod' ? pod.runtime.userns : null,
            handler: { ...handlerCapabilities(pod.handler, info.features), idmapBind: true },
            oomScoreAdjMin: d.oci.oomScoreAdjMin(),
            pauseArgs: [PAUSE_IN_ROOTFS],
            ids: { sandboxId: pod.id },
            cgroupV2: d.oci.cgroupV2(),
            arch: process.arch,
            ownCapabilities: d.ownCapabilities,
            seccompLocalhost,
            ...(d.oci.apparmor ? { apparmor: d.oci.apparmor() } : {}),
          },
        }),
      });
      // Holds only config.json (0600, the pod's env): the rootfs is elsewhere, so nobody else needs in.
      await mkdir(bundle, { recursive: true, mode: 0o700 });
      await chmod(bundle, 0o700);
      await mkdir(join(d.rootDir, 'infra'), { recursive: true, mode: 0o711 });
      await preparePauseRootfs(pauseDir, d.pauseBinary);
      const created = await createInRuntime(d.oci, pod.handler, spec, { id: pod.id, bundle, logPath: join(bundle, 'pause.log'), terminal: false, stdin: false, stdinOnce: false });
      await d.oci.start(pod.handler, pod.id);
      return { containerId: pod.id, pid: created.pid, conmonPid: created.conmonPid, conmonStartTime: created.conmonStartTime };
    },
    async stop(pod) {
      await d.oci.kill(pod.handler, pod.id, 'SIGKILL');
    },
    async alive(pod) {
      const infra = pod.runtime.infra;
      if (!infra) return false;
      return (await d.oci.recover(pod.id, { pid: infra.conmonPid, startTime: infra.conmonStartTime }, false)).state === 'running';
    },
    async remove(pod) {
      await d.oci.delete(pod.handler, pod.id);
      await d.oci.cleanup(pod.id);
      await rm(bundleOf(pod), { recursive: true, force: true });
      await rm(rootfsOf(pod), { recursive: true, force: true });
    },
  };
}

