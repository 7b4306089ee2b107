// What the streaming server needs from the rest of crius. The server speaks the wire protocols; these
// backends run the process, reach conmon, or dial into the pod. Real implementations: exec-runtime.ts,
// attach-conmon.ts, portforward-netns.ts; tests plug fakes.
import type { Duplex, Readable, Writable } from 'node:stream';

export interface TerminalSize {
  width: number;
  height: number;
}

/** The client's terminal sizes in arrival order; ends when the client closes the resize stream. */
export type ResizeEvents = AsyncIterable<TerminalSize>;

/** One exec/attach session's stdio as the client asked for it; absent streams were not requested. */
export interface SessionIo {
  /** Client input; ends when the client closes stdin (EOF for the process). */
  stdin?: Readable;
  stdout?: Writable;
  /** Never present with tty (CRI: tty and stderr are mutually exclusive; the pty merges them). */
  stderr?: Writable;
  /** Only with tty. */
  resize?: ResizeEvents;
  /** Aborted when the client disconnects or the session must end; the backend then stops the process. */
  signal: AbortSignal;
}

export interface ExecParams extends SessionIo {
  containerId: string;
  cmd: string[];
  tty: boolean;
}

export interface ExecBackend {
  /** Runs cmd in the container and resolves with its exit code once it exited and its output was written. */
  exec(params: ExecParams): Promise<{ exitCode: number }>;
}

export interface AttachParams extends SessionIo {
  containerId: string;
  tty: boolean;
}

export interface AttachBackend {
  /** Relays stdio of the container's main process (held by conmon) until it exits or the client leaves. */
  attach(params: AttachParams): Promise<void>;
}

export interface PortForwardParams {
  podSandboxId: string;
  port: number;
  signal: AbortSignal;
}

export interface PortForwardBackend {
  /**
   * A byte stream to localhost:port inside the pod's network namespace. Rejects (message shown to the
   * user on the error stream) when nothing listens there.
   */
  dial(params: PortForwardParams): Promise<Duplex>;
}

export interface StreamBackends {
  exec: ExecBackend;
  attach: AttachBackend;
  portForward: PortForwardBackend;
}
