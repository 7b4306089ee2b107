// Pods and containers: the store is the source of truth; every row is written BEFORE the side effect it
// describes (state 'creating'), so a daemon killed at any point can find and finish or undo the work.
// Timestamps are Unix nanoseconds as decimal TEXT (CRI int64s exceed JavaScript's safe integers).
import type { Migration } from './index.js';

export const m003PodsContainers: Migration = {
  version: 3,
  name: 'pods-containers',
  sql: `
  CREATE TABLE pods (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    namespace      TEXT NOT NULL,
    uid            TEXT NOT NULL,
    attempt        INTEGER NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('creating', 'ready', 'notready')),
    created_at     TEXT NOT NULL,
    handler        TEXT NOT NULL,
    config_json    TEXT NOT NULL,
    runtime_json   TEXT NOT NULL DEFAULT '{}',
    UNIQUE (name, namespace, uid, attempt)
  ) STRICT;
  CREATE TABLE containers (
    id             TEXT PRIMARY KEY,
    pod_id         TEXT NOT NULL REFERENCES pods(id),
    name           TEXT NOT NULL,
    attempt        INTEGER NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('creating', 'created', 'running', 'exited')),
    image_ref      TEXT NOT NULL,
    image_id       TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    started_at     TEXT NOT NULL DEFAULT '0',
    finished_at    TEXT NOT NULL DEFAULT '0',
    exit_code      INTEGER NOT NULL DEFAULT 0,
    reason         TEXT NOT NULL DEFAULT '',
    message        TEXT NOT NULL DEFAULT '',
    config_json    TEXT NOT NULL,
    runtime_json   TEXT NOT NULL DEFAULT '{}',
    UNIQUE (pod_id, name, attempt)
  ) STRICT;
  CREATE INDEX containers_by_pod ON containers(pod_id);
`,
};
