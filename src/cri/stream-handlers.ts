// Exec, Attach, PortForward: check the target exists, then hand back a one-time URL of the streaming
// server (stream/), which the kubelet or crictl then connects to with SPDY or WebSocket.
import type { ExecRequest__Output } from '../generated/runtime/v1/ExecRequest.js';
import type { AttachRequest__Output } from '../generated/runtime/v1/AttachRequest.js';
import type { PortForwardRequest__Output } from '../generated/runtime/v1/PortForwardRequest.js';
import { failedPrecondition, invalidArgument } from '../common/errors.js';
import type { StreamServer } from '../stream/server.js';

/** The streaming server, started on first use (see wiring.ts); a failed start rejects with the reason. */
export type StreamServerRef = () => Promise<StreamServer>;
import type { ContainerService } from '../container/container-service.js';
import type { SandboxService } from '../pod/sandbox-service.js';

export function makeStreamHandlers(stream: StreamServerRef, containers: ContainerService, pods: SandboxService) {
  const running = (id: string, what: string): string => {
    if (!id) throw invalidArgument(`${what}: container_id is empty`);
    const c = containers.get(id);
    if (c.state !== 'running') throw failedPrecondition(`${what}: container "${c.name}" (${c.id}) is ${c.state}, not running`);
    return c.id;
  };
  return {
    Exec: async (req: ExecRequest__Output): Promise<{ url: string }> => {
      const id = running(req.container_id, 'Exec');
      if (!req.cmd || req.cmd.length === 0) throw invalidArgument('Exec: cmd is empty');
      return { url: (await stream()).getExecUrl({ container_id: id, cmd: req.cmd, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr }) };
    },
    Attach: async (req: AttachRequest__Output): Promise<{ url: string }> => {
      const id = running(req.container_id, 'Attach');
      return { url: (await stream()).getAttachUrl({ container_id: id, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr }) };
    },
    PortForward: async (req: PortForwardRequest__Output): Promise<{ url: string }> => {
      if (!req.pod_sandbox_id) throw invalidArgument('PortForward: pod_sandbox_id is empty');
      const pod = pods.get(req.pod_sandbox_id);
      if (pod.state !== 'ready') throw failedPrecondition(`PortForward: pod "${pod.namespace}/${pod.name}" is not ready`);
      return { url: (await stream()).getPortForwardUrl({ pod_sandbox_id: pod.id, port: req.port ?? [] }) };
    },
  };
}
