import type { Migration } from './index.js';

// Daemon-wide key/value facts (e.g. the boot ID seen at the last start, to notice a reboot).
export const m001Foundation: Migration = {
  version: 1,
  name: 'foundation',
  sql: `
    CREATE TABLE meta (
      key   TEXT PRIMARY KEY,
      value TEXT NOT NULL
    ) STRICT;
  `,
};
