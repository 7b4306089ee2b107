// Kubernetes resource quantities ("500m", "0.5", "128Mi", "1G", "1e3") as the API server parses them.

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/**
 * cpu: the value in milli-CPUs (rounded up, as the API server does); bytes: an integer number of bytes
 * (rounded up). Throws a message naming the accepted forms.
 */
export function parseQuantity(q: string | number, unit: 'cpu' | 'bytes'): number {
  const s = String(q).trim();
  const m = /^([+]?[0-9]*\.?[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$/.exec(s);
  if (!m) throw new Error(`"${s}" is not a quantity (e.g. ${unit === 'cpu' ? '"500m", "2"' : '"128Mi", "1G", "1048576"'})`);
  const n = Number(m[1]);
  const suffix = m[2] ?? '';
  let factor: number;
  if (suffix in BINARY) factor = BINARY[suffix]!;
  else if (/^[eE]/.test(suffix)) factor = 10 ** Number(suffix.slice(1));
  else factor = DECIMAL[suffix]!;
  const value = n * factor;
  if (!Number.isFinite(value)) throw new Error(`"${s}" is too large`);
  return unit === 'cpu' ? Math.ceil(value * 1000 - 1e-9) : Math.ceil(value - 1e-9);
}
