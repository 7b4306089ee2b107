// Shared checks on the strings of a CRI request: what makes a value unsafe to put in a file, a log line,
// a path or an argv (NUL ends a C string, a newline starts a new line of /etc/hosts or resolv.conf).
import { invalidArgument } from '../../common/errors.js';

/** The value as a message may show it: at most 64 characters, control characters escaped. */
export function shown(s: string): string {
  const cut = s.length > 64 ? `${s.slice(0, 64)}...` : s;
  return JSON.stringify(cut);
}

/** Index of the first C0 control character or DEL, or -1. */
function controlCharAt(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return i;
  }
  return -1;
}

/** Refuses NUL and every other control character (newline, tab, escape...), naming the field. */
export function noControlChars(s: string, field: string): void {
  const i = controlCharAt(s);
  if (i < 0) return;
  const c = s.charCodeAt(i);
  const what = c === 0 ? 'a NUL byte' : c === 0x0a ? 'a newline' : `control character 0x${c.toString(16).padStart(2, '0')}`;
  throw invalidArgument(`${field} ${shown(s)} contains ${what} at position ${i}; control characters are not allowed`);
}

/** Refuses a value longer than max bytes (UTF-8), naming the field and the limit. */
export function maxBytes(s: string, max: number, field: string): void {
  const n = Buffer.byteLength(s, 'utf8');
  if (n > max) throw invalidArgument(`${field} is ${n} bytes long; at most ${max} are allowed`);
}
