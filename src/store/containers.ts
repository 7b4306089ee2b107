// Typed access to the containers table (migration 003).
import type { Db } from './db.js';
import { CriusError } from '../common/errors.js';
import type { ContainerId, PodId } from '../common/ids.js';

type ContainerState = 'creating' | 'created' | 'running' | 'exited';

/**
 * The allowed container transitions (docs/ARCHITECTURE.md, "Lifecycle states"): every state change below
 * is `UPDATE ... WHERE state IN (the states it may come from)`, so a late writer (a start finishing after
 * the exit was recorded) changes nothing instead of overwriting what happened. 'creating' rows are
 * deleted by undo, not moved; 'exited' is final.
 */
export const CONTAINER_TRANSITIONS: Readonly<Record<ContainerState, readonly ContainerState[]>> = {
  creating: ['created'],
  created: ['running', 'exited'],
  running: ['exited'],
  exited: [],
};

/** The states `to` may be reached from, as an SQL list. */
function fromStates<S extends string>(table: Readonly<Record<S, readonly S[]>>, to: S): string {
  const from = (Object.keys(table) as S[]).filter((s) => table[s].includes(to));
  return from.map((s) => `'${s}'`).join(', ');
}

export { fromStates };

export interface ContainerRow<Config, Runtime> {
  id: ContainerId;
  podId: PodId;
  name: string;
  attempt: number;
  state: ContainerState;
  imageRef: string;
  imageId: string;
  /** Unix nanoseconds, decimal; '0' when not yet. */
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  reason: string;
  message: string;
  config: Config;
  runtime: Runtime;
}

interface Raw {
  id: string; pod_id: string; name: string; attempt: number; state: string; image_ref: string; image_id: string;
  created_at: string; started_at: string; finished_at: string; exit_code: number; reason: string; message: string;
  config_json: string; runtime_json: string;
}

function fromRaw<C, R>(r: Raw): ContainerRow<C, R> {
  return {
    id: r.id as ContainerId, podId: r.pod_id as PodId, name: r.name, attempt: r.attempt, state: r.state as ContainerState,
    imageRef: r.image_ref, imageId: r.image_id, createdAt: r.created_at, startedAt: r.started_at, finishedAt: r.finished_at,
    exitCode: r.exit_code, reason: r.reason, message: r.message,
    config: JSON.parse(r.config_json) as C, runtime: JSON.parse(r.runtime_json) as R,
  };
}

interface ExitRecord {
  exitCode: number;
  finishedAt: string;
  reason: string;
  message: string;
}

export class ContainerStore<Config, Runtime> {
  constructor(private readonly db: Db) {}

  /** Inserts a new row; a second container of the same pod, name and attempt is ALREADY_EXISTS. */
  insert(c: ContainerRow<Config, Runtime>): void {
    uniqueAsAlreadyExists(`container "${c.name}" (attempt ${c.attempt}) in pod ${c.podId}`, () => this.db.prepare(`INSERT INTO containers (id, pod_id, name, attempt, state, image_ref, image_id, created_at, started_at,
      finished_at, exit_code, reason, message, config_json, runtime_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      c.id, c.podId, c.name, c.attempt, c.state, c.imageRef, c.imageId, c.createdAt, c.startedAt, c.finishedAt, c.exitCode,
      c.reason, c.message, JSON.stringify(c.config), JSON.stringify(c.runtime)));
  }

  get(id: string): ContainerRow<Config, Runtime> | undefined {
    const r = this.db.prepare('SELECT * FROM containers WHERE id = ?').get(id) as Raw | undefined;
    return r && fromRaw(r);
  }

  find(idOrPrefix: string): ContainerRow<Config, Runtime>[] {
    const exact = this.get(idOrPrefix);
    if (exact) return [exact];
    if (!/^[0-9a-f]{1,64}$/.test(idOrPrefix)) return [];
    return (this.db.prepare("SELECT * FROM containers WHERE id LIKE ? || '%' LIMIT 2").all(idOrPrefix) as Raw[]).map((r) => fromRaw<Config, Runtime>(r));
  }

  byName(podId: string, name: string, attempt: number): ContainerRow<Config, Runtime> | undefined {
    const r = this.db.prepare('SELECT * FROM containers WHERE pod_id = ? AND name = ? AND attempt = ?').get(podId, name, attempt) as Raw | undefined;
    return r && fromRaw(r);
  }

  list(podId?: string): ContainerRow<Config, Runtime>[] {
    const rows = podId === undefined
      ? this.db.prepare('SELECT * FROM containers ORDER BY created_at').all()
      : this.db.prepare('SELECT * FROM containers WHERE pod_id = ? ORDER BY created_at').all(podId);
    return (rows as Raw[]).map((r) => fromRaw<Config, Runtime>(r));
  }

  /** creating -> created; false when the row is not in a state that may become created. */
  setCreated(id: string, runtime: Runtime): boolean {
    return this.db.prepare(`UPDATE containers SET state = 'created', runtime_json = ? WHERE id = ? AND state IN (${fromStates(CONTAINER_TRANSITIONS, 'created')})`)
      .run(JSON.stringify(runtime), id).changes > 0;
  }

  /** created -> running; false (nothing written) when an exit was recorded first. */
  setRunning(id: string, startedAt: string, runtime: Runtime): boolean {
    return this.db.prepare(`UPDATE containers SET state = 'running', started_at = ?, runtime_json = ? WHERE id = ? AND state IN (${fromStates(CONTAINER_TRANSITIONS, 'running')})`)
      .run(startedAt, JSON.stringify(runtime), id).changes > 0;
  }

  /** Records an exit once (created or running -> exited): a later report of the same exit changes nothing. */
  setExited(id: string, e: ExitRecord): boolean {
    const r = this.db.prepare(`UPDATE containers SET state = 'exited', exit_code = ?, finished_at = ?, reason = ?, message = ? WHERE id = ? AND state IN (${fromStates(CONTAINER_TRANSITIONS, 'exited')})`)
      .run(e.exitCode, e.finishedAt, e.reason, e.message, id);
    return r.changes > 0;
  }

  setRuntime(id: string, runtime: Runtime): void {
    this.db.prepare('UPDATE containers SET runtime_json = ? WHERE id = ?').run(JSON.stringify(runtime), id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
  }
}

/** Runs an insert; SQLite's UNIQUE violation becomes ALREADY_EXISTS naming `what` (never INTERNAL). */
export function uniqueAsAlreadyExists(what: string, insert: () => unknown): void {
  try {
    insert();
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' || (err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
      throw new CriusError('ALREADY_EXISTS', `${what} already exists`);
    }
    throw err;
  }
}
