// Typed access to the userns_ranges table (migration 004): host ID ranges owned by standalone pods.
import type { Db } from './db.js';

export interface UsernsRangeRow {
  hostId: number;
  length: number;
  /** Who holds the range, normally a pod ID. */
  owner: string;
  /** Unix milliseconds. */
  allocatedAt: number;
}

interface Raw { host_id: number; length: number; owner: string; allocated_at: number }

const fromRaw = (r: Raw): UsernsRangeRow => ({ hostId: r.host_id, length: r.length, owner: r.owner, allocatedAt: r.allocated_at });

export class UsernsRangeStore {
  constructor(readonly db: Db) {}

  /** Every allocation, lowest host ID first. */
  list(): UsernsRangeRow[] {
    return (this.db.prepare('SELECT host_id, length, owner, allocated_at FROM userns_ranges ORDER BY host_id').all() as Raw[]).map(fromRaw);
  }

  /** Allocations that overlap [from, from+length). */
  overlapping(from: number, length: number): UsernsRangeRow[] {
    return (this.db.prepare(`SELECT host_id, length, owner, allocated_at FROM userns_ranges
      WHERE host_id < ? AND host_id + length > ? ORDER BY host_id`).all(from + length, from) as Raw[]).map(fromRaw);
  }

  byOwner(owner: string): UsernsRangeRow | undefined {
    const r = this.db.prepare('SELECT host_id, length, owner, allocated_at FROM userns_ranges WHERE owner = ?').get(owner) as Raw | undefined;
    return r ? fromRaw(r) : undefined;
  }

  insert(row: UsernsRangeRow): void {
    this.db.prepare('INSERT INTO userns_ranges (host_id, length, owner, allocated_at) VALUES (?, ?, ?, ?)')
      .run(row.hostId, row.length, row.owner, row.allocatedAt);
  }

  /** Deletes the owner's range; returns whether there was one. */
  deleteByOwner(owner: string): boolean {
    return this.db.prepare('DELETE FROM userns_ranges WHERE owner = ?').run(owner).changes > 0;
  }
}
