// Per-step durations of one operation (pod start, container create...), logged at debug level so the
// time of a slow RPC can be attributed to unshare, CNI, conmon, the runtime or the rootfs mount.
export class StepTimer {
  private last = performance.now();
  private readonly first = this.last;
  /** Milliseconds per step, in the order they ran (a repeated name adds up). */
  readonly ms: Record<string, number> = {};

  /** Ends the step that ran since the previous lap (or the start). */
  lap(step: string): void {
    const now = performance.now();
    this.ms[step] = Math.round(((this.ms[step] ?? 0) + now - this.last) * 10) / 10;
    this.last = now;
  }

  /** The steps as log fields (`<step>_ms`) plus `total_ms`. */
  fields(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this.ms)) out[`${k}_ms`] = v;
    out['total_ms'] = Math.round((performance.now() - this.first) * 10) / 10;
    return out;
  }
}
