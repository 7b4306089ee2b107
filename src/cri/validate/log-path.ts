// log_directory (pod) and log_path (container, relative to it): conmon creates the file as root, so a
// log_path of "../../../etc/x" or an absolute one would create or append to any file on the node.
import { invalidArgument } from '../../common/errors.js';
import { splitLogPath } from '../../container/log-file.js';
import { noControlChars, shown } from './text.js';

/** log_directory: empty (no CRI logs) or an absolute path without ".." components. */
export function checkLogDirectory(dir: string | null | undefined, field: string): void {
  if (!dir) return;
  noControlChars(dir, field);
  if (!dir.startsWith('/')) throw invalidArgument(`${field} ${shown(dir)} is not an absolute path`);
  if (dir.split('/').includes('..')) throw invalidArgument(`${field} ${shown(dir)} contains ".."; give the directory's own path`);
}

/**
 * log_path: relative to log_directory and staying inside it (no "..", no absolute path, no empty or
 * "." file name). Returns the path's components ("web", "0.log"). The rule lives with the log file
 * (container/log-file.ts), which applies it again where the path is used.
 */
export function checkLogPath(p: string | null | undefined, field: string): string[] {
  if (!p) return [];
  noControlChars(p, field);
  return splitLogPath(p, field);
}
