// Summary statistics every bench prints: median (mean of the middle two for an even count), p95 (nearest
// rank) and minimum, in milliseconds rounded to 0.01.
export interface Stat {
  name: string;
  n: number;
  medianMs: number;
  p95Ms: number;
  minMs: number;
}

export function stats(name: string, xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
  const r = (v: number): number => Math.round(v * 100) / 100;
  const median = s.length % 2 ? s[(s.length - 1) / 2]! : ((s[s.length / 2 - 1] ?? NaN) + (s[s.length / 2] ?? NaN)) / 2;
  return { name, n: s.length, medianMs: r(median), p95Ms: r(q(0.95)), minMs: r(s[0] ?? NaN) };
}
