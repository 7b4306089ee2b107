// The container's CRI log file inside the pod's log_directory. conmon opens it as root with O_CREAT and
// follows symlinks, so every directory between log_directory and the file must be a real directory and
// the file itself, if it exists, a regular file: a symlinked parent ("web" -> /etc) or file would make
// conmon write wherever the link points. (cri/validate/log-path.ts already refused ".." and absolute paths.)
import { lstat, mkdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { invalidArgument } from '../common/errors.js';
import { fileKind } from './seccomp-file.js';

/**
 * log_path's components, refusing what would leave log_directory: an absolute path, "..", or no file
 * name at all. `field` names log_path in errors.
 */
export function splitLogPath(p: string, field: string): string[] {
  const show = JSON.stringify(p.length > 64 ? `${p.slice(0, 64)}...` : p);
  if (p.includes('\0')) throw invalidArgument(`${field} ${show} contains a NUL byte`);
  if (p.startsWith('/')) throw invalidArgument(`${field} ${show} is absolute; it must be relative to the pod's log_directory`);
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  if (parts.includes('..')) throw invalidArgument(`${field} ${show} contains ".."; it must stay inside the pod's log_directory`);
  if (parts.length === 0 || posix.basename(p) === '' || p.endsWith('/')) throw invalidArgument(`${field} ${show} names no file`);
  return parts;
}

async function lstatOrNone(p: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalidArgument(`cannot inspect ${p}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/**
 * Checks (and with create, makes) the log file's parent directories under logDir, component by
 * component, and the file if it exists. parts are log_path's components; field names it in errors.
 * Returns the file's absolute path.
 */
export async function prepareLogFile(logDir: string, parts: readonly string[], field: string, create: boolean): Promise<string> {
  let dir = logDir;
  for (const part of parts.slice(0, -1)) {
    dir = join(dir, part);
    let st = await lstatOrNone(dir);
    if (!st) {
      if (!create) return join(logDir, ...parts); // the rest does not exist yet: nothing to follow
      await mkdir(dir, { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err; });
      st = await lstat(dir);
    }
    if (st.isSymbolicLink()) throw invalidArgument(`${field}: ${dir} is a symbolic link; the log file must stay inside the pod's log_directory`);
    if (!st.isDirectory()) throw invalidArgument(`${field}: ${dir} is ${fileKind(st)}, not a directory`);
  }
  const file = join(logDir, ...parts);
  const st = await lstatOrNone(file);
  if (st && !st.isFile()) {
    throw invalidArgument(`${field}: ${file} already exists as ${fileKind(st)}; the log file must be a regular file inside the pod's log_directory`);
  }
  return file;
}
