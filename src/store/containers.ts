// Typed access to the containers table (migration 003).
import type { Db } from './db.js';
import type { ContainerId, PodId } from '../common/ids.js';

export type ContainerState = 'creating' | 'created' | 'running' | 'exited';

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

export interface ExitRecord {
  exitCode: number;
  finishedAt: string;
  reason: string;
  message: string;
}

export class ContainerStore<Config, Runtime> {
  constructor(private readonly db: Db) {}

  insert(c: ContainerRow<Config, Runtime>): void {
    this.db.prepare(`INSERT INTO containers (id, pod_id, name, attempt, state, image_ref, image_id, created_at, started_at,
      finished_at, exit_code, reason, message, config_json, runtime_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      c.id, c.podId, c.name, c.attempt, c.state, c.imageRef, c.imageId, c.createdAt, c.startedAt, c.finishedAt, c.exitCode,
      c.reason, c.message, JSON.stringify(c.config), JSON.stringify(c.runtime));
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

  setCreated(id: string, runtime: Runtime): void {
    this.db.prepare("UPDATE containers SET state = 'created', runtime_json = ? WHERE id = ?").run(JSON.stringify(runtime), id);
  }

  setRunning(id: string, startedAt: string, runtime: Runtime): void {
    this.db.prepare("UPDATE containers SET state = 'running', started_at = ?, runtime_json = ? WHERE id = ?").run(startedAt, JSON.stringify(runtime), id);
  }

  /** Records an exit once: a later report of the same exit changes nothing. */
  setExited(id: string, e: ExitRecord): boolean {
    const r = this.db.prepare("UPDATE containers SET state = 'exited', exit_code = ?, finished_at = ?, reason = ?, message = ? WHERE id = ? AND state != 'exited'")
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
