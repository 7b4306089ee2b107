// Container exits as conmon records them (conmon src/conmon.c, src/cgroup.c write_oom_files; read as
// CRI-O's internal/oci does): `--exit-dir/<id>` holds the decimal status
// (WEXITSTATUS, or 128+signal; no newline), written when the container's init exits; `--persist-dir`
// gets `exit` (same value) and, after an OOM kill seen through memory.oom_control (v1) or memory.events
// (v2), an empty `oom`, also created in the bundle. The exit time is the exit file's ctime (CRI-O
// finished.go). The watcher turns the exits dir into events, with a periodic rescan because inotify
// can miss files written while the daemon was down or before the watch was set.
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

export interface ContainerExit {
  exitCode: number;
  /** When the container exited (the exit file's ctime). */
  finishedAt: Date;
  /** Unix nanoseconds as a decimal string, as the CRI reports times. */
  finishedAtNs: string;
  oomKilled: boolean;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Parses an exit file's content; undefined while conmon is still writing it. Pure. */
export function parseExitStatus(text: string): number | undefined {
  const t = text.trim();
  return /^-?\d+$/.test(t) ? Number(t) : undefined;
}

export interface ExitPaths {
  exitDir: string;
  /** conmon's --persist-dir for the container (holds `exit` and `oom`). */
  persistDir?: string;
  /** The bundle (conmon's cwd, where it also writes `oom`). */
  bundle?: string;
}

/**
 * The recorded exit of container `id`, or undefined if conmon has not written one. Falls back to the
 * persist dir's copy (the exits-dir file may have been consumed already).
 */
export async function readExit(id: string, p: ExitPaths): Promise<ContainerExit | undefined> {
  const candidates = [path.join(p.exitDir, id)];
  if (p.persistDir) candidates.push(path.join(p.persistDir, 'exit'));
  for (const file of candidates) {
    let text: string;
    let st;
    try {
      [text, st] = await Promise.all([readFile(file, 'utf8'), stat(file, { bigint: true })]);
    } catch {
      continue;
    }
    const exitCode = parseExitStatus(text);
    if (exitCode === undefined) continue;
    const oomKilled = (p.persistDir !== undefined && await exists(path.join(p.persistDir, 'oom'))) ||
      (p.bundle !== undefined && await exists(path.join(p.bundle, 'oom')));
    return { exitCode, finishedAt: new Date(Number(st.ctimeMs)), finishedAtNs: st.ctimeNs.toString(), oomKilled };
  }
  return undefined;
}

export interface ExitEvent {
  id: string;
  exitCode: number;
}

/**
 * Emits 'exit' ({id, exitCode}) once per exit file that appears in `exitDir` (and once for each file
 * already there at start). `forget(id)` lets a later file with the same name (a re-created container) be
 * reported again. 'error' is emitted for watch failures; the rescan keeps working.
 */
export class ExitWatcher extends EventEmitter {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly seen = new Set<string>();
  private inFlight: Promise<void> | undefined;
  private rescanAgain = false;

  constructor(readonly exitDir: string, private readonly rescanMs = 2000) {
    super();
  }

  start(): void {
    try {
      this.watcher = watch(this.exitDir, { persistent: false }, () => { void this.scan(); });
      this.watcher.on('error', (err) => this.emit('error', err));
    } catch (err) {
      this.emit('error', err);
    }
    this.timer = setInterval(() => { void this.scan(); }, this.rescanMs);
    this.timer.unref();
    void this.scan();
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  forget(id: string): void {
    this.seen.delete(id);
  }

  /**
   * Scans the directory now; resolves after events for the files found were emitted. A call during a
   * scan joins it and makes it read the directory once more, so what the caller just wrote is seen.
   */
  scan(): Promise<void> {
    if (this.inFlight) {
      this.rescanAgain = true;
      return this.inFlight;
    }
    this.inFlight = this.scanUntilQuiet().finally(() => { this.inFlight = undefined; });
    return this.inFlight;
  }

  private async scanUntilQuiet(): Promise<void> {
    do {
      this.rescanAgain = false;
      let names: string[];
      try {
        names = await readdir(this.exitDir);
      } catch (err) {
        this.emit('error', err);
        return;
      }
      for (const id of names) {
        if (this.seen.has(id)) continue;
        let code: number | undefined;
        try {
          code = parseExitStatus(await readFile(path.join(this.exitDir, id), 'utf8'));
        } catch {
          continue;
        }
        // An empty file is one conmon is still writing: the next event or rescan picks it up.
        if (code === undefined) continue;
        this.seen.add(id);
        this.emit('exit', { id, exitCode: code } satisfies ExitEvent);
      }
    } while (this.rescanAgain);
  }
}
