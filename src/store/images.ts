// Typed access to the image tables (migration 002).
import type { Db } from './db.js';

export interface LayerRef {
  /** Blob digest of the (possibly compressed) layer. */
  digest: string;
  mediaType: string;
  size: number;
  diffId: string;
  chainId: string;
}

export interface ImageRow {
  id: string;
  manifestDigest: string;
  indexDigest?: string;
  configJson: string;
  layers: LayerRef[];
  size: number;
  pinned: boolean;
  createdAt: number;
}

interface ImageNames {
  tags: string[];
  digests: string[];
}

interface LayerRow {
  chainId: string;
  diffId: string;
  blobDigest: string;
  usedBytes: number;
  inodes: number;
}

interface RawImage {
  id: string; manifest_digest: string; index_digest: string | null; config_json: string; layers_json: string;
  size: number; pinned: number; created_at: number;
}

function toImage(r: RawImage): ImageRow {
  const out: ImageRow = {
    id: r.id, manifestDigest: r.manifest_digest, configJson: r.config_json, layers: JSON.parse(r.layers_json) as LayerRef[],
    size: r.size, pinned: r.pinned !== 0, createdAt: r.created_at,
  };
  if (r.index_digest !== null) out.indexDigest = r.index_digest;
  return out;
}

/** Inserts or updates an image and points the given names at it (a tag moves from any older image). */
export function putImage(db: Db, img: ImageRow, names: Array<{ name: string; kind: 'tag' | 'digest' }>): void {
  db.transaction(() => {
    db.prepare(`INSERT INTO images (id, manifest_digest, index_digest, config_json, layers_json, size, pinned, created_at)
      VALUES (@id, @manifest_digest, @index_digest, @config_json, @layers_json, @size, @pinned, @created_at)
      ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest, index_digest = excluded.index_digest,
        pinned = MAX(pinned, excluded.pinned)`).run({
      id: img.id, manifest_digest: img.manifestDigest, index_digest: img.indexDigest ?? null, config_json: img.configJson,
      layers_json: JSON.stringify(img.layers), size: img.size, pinned: img.pinned ? 1 : 0, created_at: img.createdAt,
    });
    const put = db.prepare('INSERT INTO image_names (name, kind, image_id) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, image_id = excluded.image_id');
    for (const n of names) put.run(n.name, n.kind, img.id);
  })();
}

export function getImage(db: Db, id: string): ImageRow | undefined {
  const r = db.prepare('SELECT * FROM images WHERE id = ?').get(id) as RawImage | undefined;
  return r ? toImage(r) : undefined;
}

export function listImageRows(db: Db): ImageRow[] {
  return (db.prepare('SELECT * FROM images ORDER BY created_at, id').all() as RawImage[]).map(toImage);
}

export function imageIdByName(db: Db, name: string): string | undefined {
  const r = db.prepare('SELECT image_id FROM image_names WHERE name = ?').get(name) as { image_id: string } | undefined;
  return r?.image_id;
}

/** Image IDs starting with `prefix` (hex after "sha256:"), for short-ID lookups. */
export function imageIdsByPrefix(db: Db, prefix: string): string[] {
  return (db.prepare("SELECT id FROM images WHERE substr(id, 8) LIKE ? || '%'").all(prefix) as Array<{ id: string }>).map((r) => r.id);
}

export function namesOf(db: Db, id: string): ImageNames {
  const rows = db.prepare('SELECT name, kind FROM image_names WHERE image_id = ? ORDER BY name').all(id) as Array<{ name: string; kind: string }>;
  return { tags: rows.filter((r) => r.kind === 'tag').map((r) => r.name), digests: rows.filter((r) => r.kind === 'digest').map((r) => r.name) };
}

export function removeName(db: Db, name: string): void {
  db.prepare('DELETE FROM image_names WHERE name = ?').run(name);
}

export function deleteImage(db: Db, id: string): void {
  db.transaction(() => {
    db.prepare('DELETE FROM image_names WHERE image_id = ?').run(id);
    db.prepare('DELETE FROM image_users WHERE image_id = ?').run(id);
    db.prepare('DELETE FROM images WHERE id = ?').run(id);
  })();
}

export function setPinned(db: Db, id: string, pinned: boolean): void {
  db.prepare('UPDATE images SET pinned = ? WHERE id = ?').run(pinned ? 1 : 0, id);
}

export function putLayer(db: Db, l: LayerRow): void {
  db.prepare(`INSERT INTO image_layers (chain_id, diff_id, blob_digest, used_bytes, inodes) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT(chain_id) DO UPDATE SET used_bytes = excluded.used_bytes, inodes = excluded.inodes`).run(l.chainId, l.diffId, l.blobDigest, l.usedBytes, l.inodes);
}

export function getLayer(db: Db, chainId: string): LayerRow | undefined {
  const r = db.prepare('SELECT * FROM image_layers WHERE chain_id = ?').get(chainId) as
    { chain_id: string; diff_id: string; blob_digest: string; used_bytes: number; inodes: number } | undefined;
  return r ? { chainId: r.chain_id, diffId: r.diff_id, blobDigest: r.blob_digest, usedBytes: r.used_bytes, inodes: r.inodes } : undefined;
}

export function listLayers(db: Db): LayerRow[] {
  return (db.prepare('SELECT * FROM image_layers').all() as Array<{ chain_id: string; diff_id: string; blob_digest: string; used_bytes: number; inodes: number }>)
    .map((r) => ({ chainId: r.chain_id, diffId: r.diff_id, blobDigest: r.blob_digest, usedBytes: r.used_bytes, inodes: r.inodes }));
}

export function deleteLayer(db: Db, chainId: string): void {
  db.prepare('DELETE FROM image_layers WHERE chain_id = ?').run(chainId);
}

/** Records that `userId` (a container ID) uses image `imageId`; RemoveImage refuses while any user remains. */
export function addImageUser(db: Db, imageId: string, userId: string): void {
  db.prepare('INSERT OR IGNORE INTO image_users (image_id, user_id) VALUES (?, ?)').run(imageId, userId);
}

export function removeImageUser(db: Db, userId: string, imageId?: string): void {
  if (imageId === undefined) db.prepare('DELETE FROM image_users WHERE user_id = ?').run(userId);
  else db.prepare('DELETE FROM image_users WHERE image_id = ? AND user_id = ?').run(imageId, userId);
}

export function imageUsers(db: Db, imageId: string): string[] {
  return (db.prepare('SELECT user_id FROM image_users WHERE image_id = ? ORDER BY user_id').all(imageId) as Array<{ user_id: string }>).map((r) => r.user_id);
}
