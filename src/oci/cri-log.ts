// The CRI log format conmon writes (k8s-file driver: conmon src/ctr_logging.c write_k8s_log, read as the
// kubelet reads CRI logs):
//   <RFC3339Nano timestamp> <stdout|stderr> <P|F> <content>\n
// F = the content was a full line (its "\n" is the record's); P = a partial line, where the record's
// "\n" is not part of the content (CRI-O parseLog strips it). The one parser: `crius logs`/`run` (the
// CLI's tail reader) and the tests read logs through it.

interface CriLogRecord {
  time: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  content: string;
}

/** One log line (without its "\n"); undefined when it is not a record. Pure. */
export function parseCriLogLine(line: string): CriLogRecord | undefined {
  const m = /^(\S+) (stdout|stderr) ([FP])(?: (.*))?$/s.exec(line);
  if (!m) return undefined;
  return { time: m[1]!, stream: m[2] as 'stdout' | 'stderr', partial: m[3] === 'P', content: m[4] ?? '' };
}

/** Parses CRI log text into records; malformed lines are skipped. Pure. */
export function parseCriLog(text: string): CriLogRecord[] {
  return text.split('\n').map(parseCriLogLine).filter((r): r is CriLogRecord => r !== undefined);
}
