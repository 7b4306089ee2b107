// The streaming requests the CRI layer hands over (plain shapes mirroring runtime.v1 ExecRequest,
// AttachRequest and PortForwardRequest) and the CRI validations the kubelet's streaming library applies
// before issuing a URL (k8s.io/kubelet/pkg/cri/streaming server.go GetExec/GetAttach/GetPortForward).
import { invalidArgument } from '../common/errors.js';

export interface ExecStreamRequest {
  container_id: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface AttachStreamRequest {
  container_id: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface PortForwardStreamRequest {
  pod_sandbox_id: string;
  /** Informational: clients name the port per connection, and critest sends none. */
  port?: number[];
}

export type CachedRequest =
  | { kind: 'exec'; req: ExecStreamRequest }
  | { kind: 'attach'; req: AttachStreamRequest }
  | { kind: 'portforward'; req: PortForwardStreamRequest };

function validateStdio(what: string, r: { container_id: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): void {
  if (!r.container_id) throw invalidArgument(`${what}: container_id is required; pass the ID of a running container`);
  if (r.tty && r.stderr) {
    throw invalidArgument(`${what} in container ${r.container_id}: tty and stderr cannot both be set (a terminal merges stderr into stdout); drop one`);
  }
  if (!r.stdin && !r.stdout && !r.stderr) {
    throw invalidArgument(`${what} in container ${r.container_id}: none of stdin, stdout, stderr is set; request at least one`);
  }
}

export function validateExec(r: ExecStreamRequest): void {
  validateStdio('exec', r);
  if (r.cmd.length === 0) throw invalidArgument(`exec in container ${r.container_id}: cmd is empty; give the command to run`);
}

export function validateAttach(r: AttachStreamRequest): void {
  validateStdio('attach', r);
}

export function validatePortForward(r: PortForwardStreamRequest): void {
  if (!r.pod_sandbox_id) throw invalidArgument('port-forward: pod_sandbox_id is required; pass the ID of a ready pod');
  for (const p of r.port ?? []) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) {
      throw invalidArgument(`port-forward to pod ${r.pod_sandbox_id}: port ${p} is outside 1-65535`);
    }
  }
}
