// The streaming server's backends over the container and pod services: exec through the container's
// own OCI runtime handler, attach to conmon's socket, port-forward into the pod's netns.
import { join } from 'node:path';
import type { ContainerService } from '../../container/container-service.js';
import type { SandboxService } from '../../pod/sandbox-service.js';
import type { Logger } from '../../common/logger.js';
import type { ExecBackend, StreamBackends } from '../../stream/backend.js';
import { createRuntimeExecBackend } from '../../stream/exec-runtime.js';
import { createConmonAttachBackend } from '../../stream/attach-conmon.js';
import { createNetnsPortForwardBackend } from '../../stream/portforward-netns.js';
import type { OciAdapter } from './oci.js';
import { nativeBuildPath } from '../../common/install-root.js';

export function streamBackends(o: { containers: ContainerService; pods: SandboxService; oci: OciAdapter; stateDir: string; logger: Logger }): StreamBackends {
  const perHandler = new Map<string, ExecBackend>();
  const execFor = (handler: string): ExecBackend => {
    let b = perHandler.get(handler);
    if (!b) {
      const rt = o.oci.runtime(handler);
      b = createRuntimeExecBackend({
        runtimeCommand: (args) => rt.command(args),
        processFor: (id, cmd, tty) => o.containers.processFor(id, cmd, tty),
        ptyHelper: nativeBuildPath('crius-pty'),
        beforeExec: () => rt.config.primeCgroupAttach?.(),
        tmpDir: join(o.stateDir, 'exec'),
        logger: o.logger,
      });
      perHandler.set(handler, b);
    }
    return b;
  };
  return {
    exec: { exec: (p) => execFor(o.containers.get(p.containerId).runtime.handler).exec(p) },
    attach: createConmonAttachBackend({
      relayHelper: nativeBuildPath('crius-relay'),
      locate: async (id) => {
        const c = o.containers.get(id);
        return { attachSocket: join(c.runtime.bundle, 'attach'), ctlFifo: join(c.runtime.bundle, 'ctl'), stdinOnce: c.config.stdin_once ?? true };
      },
    }),
    portForward: createNetnsPortForwardBackend({
      relayHelper: nativeBuildPath('crius-relay'),
      netnsPath: async (podId) => {
        const pod = o.pods.get(podId);
        return pod.runtime.namespaces.net ?? null;
      },
    }),
  };
}
