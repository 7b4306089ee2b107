// Plain aligned tables for people (the --json output is for scripts).

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** "3 minutes ago" from a CRI nanosecond timestamp string. */
export function ago(nanos: string | number | undefined, now = Date.now()): string {
  if (nanos === undefined || nanos === '0' || nanos === 0) return '';
  const s = Math.max(0, Math.round((now - Number(BigInt(String(nanos)) / 1_000_000n)) / 1000));
  if (s < 60) return `${s} seconds ago`;
  if (s < 3600) return `${Math.floor(s / 60)} minutes ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} hours ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

export function shortId(id: string): string {
  return id.slice(0, 13);
}
