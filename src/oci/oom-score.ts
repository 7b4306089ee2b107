// oom_score_adj without CAP_SYS_RESOURCE: a process may raise its value freely but not lower it below
// the lowest value it had (the kernel tracks oom_score_adj_min; with no such capability, writing a lower
// value fails with EACCES). The kubelet asks for negative values for guaranteed pods (-997) and the
// runtime must not fail the container for it: the spec clamps to this floor and says so
// (spec/resources.ts clampOomScoreAdj).
import { readFileSync } from 'node:fs';

/**
 * Our own oom_score_adj: the floor for children when we lack CAP_SYS_RESOURCE. With the capability
 * (bit 24 of CapEff) there is no floor (-1000).
 */
export function oomScoreAdjFloor(procSelf = '/proc/self'): number {
  try {
    const status = readFileSync(`${procSelf}/status`, 'utf8');
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    if (m && (BigInt(`0x${m[1]}`) >> 24n) & 1n) return -1000;
    return Number(readFileSync(`${procSelf}/oom_score_adj`, 'utf8').trim());
  } catch {
    return 0;
  }
}
