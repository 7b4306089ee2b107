// The CRI log format conmon writes (k8s-file driver, conmon src/ctr_logging.c write_k8s_log):
//   <RFC3339Nano timestamp> <stdout|stderr> <P|F> <content>\n
// F = the content was a full line (its "\n" is the record's); P = a partial line, where the record's
// "\n" is not part of the content (CRI-O parseLog strips it).

export interface CriLogRecord {
  time: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  content: string;
}

/** Parses CRI log text into records; malformed lines are skipped. Pure. */
export function parseCriLog(text: string): CriLogRecord[] {
  const out: CriLogRecord[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const a = line.indexOf(' ');
    const b = a < 0 ? -1 : line.indexOf(' ', a + 1);
    const c = b < 0 ? -1 : line.indexOf(' ', b + 1);
    if (a < 0 || b < 0) continue;
    const stream = line.slice(a + 1, b);
    if (stream !== 'stdout' && stream !== 'stderr') continue;
    const tag = c < 0 ? line.slice(b + 1) : line.slice(b + 1, c);
    if (tag !== 'P' && tag !== 'F') continue;
    out.push({ time: line.slice(0, a), stream, partial: tag === 'P', content: c < 0 ? '' : line.slice(c + 1) });
  }
  return out;
}

/** Reassembles a process's stdout and stderr from its CRI log (as ExecSync returns them). Pure. */
export function splitCriLog(text: string): { stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  for (const r of parseCriLog(text)) {
    const piece = r.partial ? r.content : `${r.content}\n`;
    if (r.stream === 'stdout') stdout += piece;
    else stderr += piece;
  }
  return { stdout, stderr };
}
