// What goes on the error stream at the end of an exec/attach (kubelet remotecommand/httpstream.go,
// client-go remotecommand/v4.go). v4 always writes a metav1.Status; client-go turns NonZeroExitCode with an
// ExitCode cause into exec.CodeExitError, which crictl and kubectl turn into their own exit code.
// v1-v3 clients read the error stream as plain text and treat any bytes as a failure.
import type { RemoteCommandProtocol } from './protocols.js';

export type SessionOutcome =
  | { kind: 'success' }
  | { kind: 'exit'; exitCode: number }
  | { kind: 'error'; message: string };

export function outcomeFromExitCode(exitCode: number): SessionOutcome {
  return exitCode === 0 ? { kind: 'success' } : { kind: 'exit', exitCode };
}

/** Bytes for the error stream, or null when nothing is written (v1-v3 success). */
export function encodeStatus(protocol: RemoteCommandProtocol | 'v5.channel.k8s.io', o: SessionOutcome): Buffer | null {
  const v4Like = protocol === 'v4.channel.k8s.io' || protocol === 'v5.channel.k8s.io';
  if (!v4Like) {
    if (o.kind === 'success') return null;
    return Buffer.from(o.kind === 'exit' ? `command terminated with non-zero exit code: exit status ${o.exitCode}` : o.message);
  }
  switch (o.kind) {
    case 'success':
      return Buffer.from(JSON.stringify({ metadata: {}, status: 'Success' }));
    case 'exit':
      return Buffer.from(JSON.stringify({
        metadata: {},
        status: 'Failure',
        message: `command terminated with non-zero exit code: exit status ${o.exitCode}`,
        reason: 'NonZeroExitCode',
        // metav1.StatusCause's Type field serialises as "reason".
        details: { causes: [{ reason: 'ExitCode', message: String(o.exitCode) }] },
      }));
    case 'error':
      return Buffer.from(JSON.stringify({
        metadata: {}, status: 'Failure', message: o.message, reason: 'InternalError', code: 500,
      }));
  }
}
