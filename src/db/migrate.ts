// Applies prisma/migrations/*/migration.sql in order, once each, at start-up.
// Prisma's CLI cannot share the embedded PGlite handle with a running server,
// so the server applies the SQL the CLI generated itself; an advisory lock makes
// concurrent nodes on one PostgreSQL take turns.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface SqlRunner {
  exec(sql: string): Promise<void>;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

const MIGRATION_LOCK = 7_354_210_001;
export const migrationsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../prisma/migrations");

export async function applyMigrations(db: SqlRunner, dir = migrationsDir): Promise<string[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const applied: string[] = [];
  await db.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
  try {
    await db.exec(`CREATE TABLE IF NOT EXISTS pantera_migrations (
      name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    const done = new Map(
      (await db.query<{ name: string; checksum: string }>("SELECT name, checksum FROM pantera_migrations")).map((r) => [r.name, r.checksum]),
    );
    for (const name of names) {
      const sql = await readFile(path.join(dir, name, "migration.sql"), "utf8");
      const checksum = createHash("sha256").update(sql).digest("hex");
      const previous = done.get(name);
      if (previous) {
        if (previous !== checksum) throw new Error(`Migration ${name} was changed after it was applied`);
        continue;
      }
      await db.exec(`BEGIN;\n${sql}\nINSERT INTO pantera_migrations (name, checksum) VALUES ('${name.replace(/'/g, "''")}', '${checksum}');\nCOMMIT;`);
      applied.push(name);
    }
  } finally {
    await db.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]);
  }
  return applied;
}
