// Terminal resizes from the client: a byte stream of concatenated JSON objects {"Width":W,"Height":H}
// (client-go remotecommand resize.go encodes Go's TerminalSize with json.Encoder, so objects may also be
// newline-separated or split across frames). Exposed to backends as an async iterable.
import type { ResizeEvents, TerminalSize } from './backend.js';

export class ResizeQueue implements ResizeEvents {
  private readonly items: TerminalSize[] = [];
  private waiter: ((r: IteratorResult<TerminalSize>) => void) | null = null;
  private ended = false;
  private pending = '';

  push(size: TerminalSize): void {
    if (this.ended) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w({ value: size, done: false });
    } else {
      this.items.push(size);
    }
  }

  end(): void {
    this.ended = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w({ value: undefined, done: true });
    }
  }

  /** Feeds raw bytes of the resize stream; malformed objects are skipped (a bad resize must not kill the session). */
  feed(chunk: Buffer | string): void {
    this.pending += chunk.toString();
    for (;;) {
      const start = this.pending.indexOf('{');
      if (start < 0) { this.pending = ''; return; }
      const end = this.pending.indexOf('}', start);
      if (end < 0) { this.pending = this.pending.slice(start); return; }
      const text = this.pending.slice(start, end + 1);
      this.pending = this.pending.slice(end + 1);
      const size = parseTerminalSize(text);
      if (size) this.push(size);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<TerminalSize> {
    return {
      next: () => {
        const item = this.items.shift();
        if (item) return Promise.resolve({ value: item, done: false });
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => { this.waiter = resolve; });
      },
      return: () => {
        this.end();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

export function parseTerminalSize(text: string): TerminalSize | null {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null) return null;
    const o = v as Record<string, unknown>;
    const width = o['Width'] ?? o['width'];
    const height = o['Height'] ?? o['height'];
    if (typeof width !== 'number' || typeof height !== 'number') return null;
    // Go's TerminalSize fields are uint16.
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0 || width > 0xffff || height > 0xffff) return null;
    return { width, height };
  } catch {
    return null;
  }
}
