// The real AttachBackend: conmon holds the container's stdio and serves it on `<bundle>/attach`, an
// AF_UNIX SOCK_SEQPACKET socket (conmon src/conn_sock.c). Node's net cannot open SEQPACKET sockets
// (EPROTOTYPE), so native/crius-relay connects and relays: conmon's stdout packets on its fd 1, stderr
// packets on its fd 3, client input unprefixed from its fd 0 (see crius-relay.c for the framing). A helper
// process keeps native code out of the daemon and dies with the session. Resizes go to conmon's ctl fifo as
// "1 <height> <width>\n" (conmon src/ctrl.c), as CRI-O's AttachContainer does.
import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import type { Readable } from 'node:stream';
import type { AttachBackend, AttachParams } from './backend.js';
import { CriusError, errorMessage } from '../common/errors.js';
import { tail, waitClose } from './child-process-util.js';

interface ConmonAttachConfig {
  /** Path of native/build/crius-relay. */
  relayHelper: string;
  /** conmon's attach socket (<bundle>/attach or its short symlink; sun_path is 108 bytes) and ctl fifo. */
  locate(containerId: string): Promise<AttachTarget>;
}

interface AttachTarget {
  attachSocket: string;
  ctlFifo: string;
  /**
   * The container's CRI stdin_once. When false (conmon then runs with --leave-stdin-open), a non-tty
   * attach ends as soon as the client's stdin ends, leaving the container's stdin open for the next
   * attach, as CRI-O's AttachContainer does. Default true.
   */
  stdinOnce?: boolean;
}

async function writeResize(ctlFifo: string, height: number, width: number): Promise<void> {
  // conmon keeps a dummy writer open on ctl, so a non-blocking write-only open succeeds while it runs.
  const fh = await open(ctlFifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  try {
    await fh.write(`1 ${height} ${width}\n`);
  } finally {
    await fh.close();
  }
}

export function createConmonAttachBackend(cfg: ConmonAttachConfig): AttachBackend {
  return {
    async attach(p: AttachParams): Promise<void> {
      const where = await cfg.locate(p.containerId);
      const child = spawn(cfg.relayHelper, ['seqpacket', where.attachSocket], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
      const closed = waitClose(child);
      const onAbort = (): void => { child.kill('SIGKILL'); };
      if (p.signal.aborted) onAbort();
      p.signal.addEventListener('abort', onAbort, { once: true });
      const diag = tail(child.stderr);
      child.stdin.on('error', () => {});
      // Without client stdin the relay's stdin stays open: closing it would close the container's stdin.
      if (p.stdin) {
        p.stdin.pipe(child.stdin);
        if (where.stdinOnce === false && !p.tty) p.stdin.once('end', () => child.stdin.once('finish', onAbort));
      }
      if (p.stdout) child.stdout.pipe(p.stdout, { end: false });
      else child.stdout.resume();
      const containerStderr = child.stdio[3] as Readable;
      if (p.stderr) containerStderr.pipe(p.stderr, { end: false });
      else containerStderr.resume();
      if (p.resize) {
        void (async () => {
          for await (const s of p.resize!) {
            await writeResize(where.ctlFifo, s.height, s.width).catch(() => undefined);
          }
        })();
      }
      let code: number;
      try {
        code = await closed;
      } catch (err) {
        throw new CriusError('INTERNAL', `attach to container ${p.containerId}: cannot start ${cfg.relayHelper}: ${errorMessage(err)}; run make -C native`, { cause: err });
      } finally {
        p.signal.removeEventListener('abort', onAbort);
        p.stdin?.unpipe();
        child.stdin.destroy();
      }
      if (code !== 0 && !p.signal.aborted && !(where.stdinOnce === false && p.stdin?.readableEnded)) {
        throw new CriusError('FAILED_PRECONDITION', `attach to container ${p.containerId}: ${diag() || `relay exited ${code}`}; is the container running?`);
      }
    },
  };
}
