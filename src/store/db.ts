// The SQLite database under the root dir: the source of truth for pods, containers, images and ID ranges.
// Opened once by the daemon; every module gets typed access through its own small repository file
// (e.g. store/pods.ts) that takes this Db.
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MIGRATIONS, type Migration } from './migrations/index.js';

export type Db = Database.Database;

let addon: string | object | undefined;

/**
 * better-sqlite3's addon, found from its package directory: build/Release where `npm install` puts it, else
 * the `bindings` package's search rooted there. Given to the constructor, it works the same from the
 * bundled daemon (scripts/bundle.mjs), where `bindings` could not find the package from its caller's path,
 * and spares that search (a dozen candidate paths) at every start.
 */
function nativeBinding(): string | object {
  if (addon === undefined) {
    const require = createRequire(import.meta.url);
    const root = dirname(require.resolve('better-sqlite3/package.json'));
    const release = join(root, 'build', 'Release', 'better_sqlite3.node');
    addon = existsSync(release) ? release : (require('bindings') as (o: object) => object)({ bindings: 'better_sqlite3.node', module_root: root });
  }
  return addon;
}

export function openDb(path: string, migrations: readonly Migration[] = MIGRATIONS): Db {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Container env (Kubernetes secrets) lives here: root only. SQLite gives the -wal and -shm files the
    // database file's mode, so creating it 0600 before SQLite does covers all three.
    closeSync(openSync(path, 'a', 0o600));
    for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  }
  const db = new Database(path, { nativeBinding: nativeBinding() as string });
  // WAL: readers never wait for the writer; synchronous=NORMAL is durable across a process crash
  // (kill -9), which is what the daemon must survive; FULL would only add power-loss durability.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, migrations);
  cacheStatements(db);
  return db;
}

/**
 * Makes db.prepare return one Statement per SQL text. The repositories prepare their statement on each
 * call; uncached, every call compiled the SQL again and left a native sqlite3_stmt for the GC to finalize
 * (V8 does not see that memory, so it piled up: ~1 ms and tens of KiB per pod operation with 300 pods).
 * The store never iterates a statement or changes its mode (pluck/raw/expand), so sharing is safe; the
 * SQL texts are a fixed set (a few dozen).
 */
function cacheStatements(db: Db): void {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, Database.Statement>();
  (db as { prepare: (sql: string) => Database.Statement }).prepare = (sql: string) => {
    let st = cache.get(sql);
    if (!st) {
      st = prepare(sql);
      cache.set(sql, st);
    }
    return st;
  };
}

/** Applies, in order and each in its own transaction, the migrations newer than the schema's user_version. */
export function migrate(db: Db, migrations: readonly Migration[]): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  sorted.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`store migrations must be numbered 1..N without gaps; found ${m.version} at position ${i + 1}`);
  });
  if (current > sorted.length) {
    throw new Error(`the database schema is version ${current}, newer than this crius knows (${sorted.length}); run a newer crius or move the root dir away`);
  }
  for (const m of sorted.slice(current)) {
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return sorted.length;
}
