import type { Migration } from './index.js';

// Images by ID (the config digest, as containerd and CRI-O report it), the names that point at them,
// the unpacked layers they share (keyed by chain ID), and which containers use which image, so
// RemoveImage can refuse an image still in use.
export const m002Images: Migration = {
  version: 2,
  name: 'images',
  sql: `
    CREATE TABLE images (
      id              TEXT PRIMARY KEY,
      manifest_digest TEXT NOT NULL,
      index_digest    TEXT,
      config_json     TEXT NOT NULL,
      layers_json     TEXT NOT NULL,
      size            INTEGER NOT NULL,
      pinned          INTEGER NOT NULL DEFAULT 0,
      created_at      INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE image_names (
      name     TEXT PRIMARY KEY,
      kind     TEXT NOT NULL CHECK (kind IN ('tag', 'digest')),
      image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX image_names_by_image ON image_names(image_id);
    CREATE TABLE image_layers (
      chain_id    TEXT PRIMARY KEY,
      diff_id     TEXT NOT NULL,
      blob_digest TEXT NOT NULL,
      used_bytes  INTEGER NOT NULL,
      inodes      INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE image_users (
      image_id TEXT NOT NULL REFERENCES images(id),
      user_id  TEXT NOT NULL,
      PRIMARY KEY (image_id, user_id)
    ) STRICT;
  `,
};
