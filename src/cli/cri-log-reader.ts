// Reads CRI container logs ("<RFC3339Nano> <stdout|stderr> <F|P> <content>" per line, kubelet format)
// straight from the file the daemon's conmon writes: the CLI runs as root on the same host.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { parseCriLogLine } from '../oci/cri-log.js';


export interface LogSink { write(stream: 'stdout' | 'stderr', text: string): void }

/** A tail reader: call poll() to emit what was appended since the last call; handles truncation. */
export class CriLogTail {
  private offset = 0;
  private rest = '';
  constructor(private readonly path: string, private readonly sink: LogSink) {}

  poll(): void {
    if (!existsSync(this.path)) return;
    const size = statSync(this.path).size;
    if (size < this.offset) { this.offset = 0; this.rest = ''; } // rotated or reopened
    if (size === this.offset) return;
    const fd = openSync(this.path, 'r');
    try {
      const buf = Buffer.alloc(size - this.offset);
      const n = readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      const text = this.rest + buf.subarray(0, n).toString('utf8');
      const lines = text.split('\n');
      this.rest = lines.pop() ?? '';
      for (const l of lines) {
        const r = parseCriLogLine(l);
        if (r) this.sink.write(r.stream, r.content + (r.partial ? '' : '\n'));
      }
    } finally {
      closeSync(fd);
    }
  }
}
