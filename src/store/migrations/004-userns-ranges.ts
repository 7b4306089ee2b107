import type { Migration } from './index.js';

// Host ID ranges handed to standalone (`crius run`) pods with a user namespace; the kubelet brings its own.
// One row per owner (a pod ID). Written before the user namespace is created, deleted after it is gone,
// so a crash never hands the same IDs to two pods. IDs are at most 2^32-1: INTEGER holds them exactly.
export const m004UsernsRanges: Migration = {
  version: 4,
  name: 'userns-ranges',
  sql: `
    CREATE TABLE userns_ranges (
      host_id      INTEGER PRIMARY KEY CHECK (host_id >= 1),
      length       INTEGER NOT NULL CHECK (length >= 1 AND host_id + length - 1 <= 4294967294),
      owner        TEXT NOT NULL UNIQUE,
      allocated_at INTEGER NOT NULL
    ) STRICT;
  `,
};
