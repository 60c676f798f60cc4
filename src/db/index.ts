// Database access: Prisma over PostgreSQL (DATABASE_URL) or the embedded PGlite in the data dir.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "./generated/client.js";
import { applyMigrations, type SqlRunner } from "./migrate.js";

export { PrismaClient };
export { Prisma } from "./generated/client.js";

export interface Database {
  prisma: PrismaClient;
  kind: "pglite" | "postgres";
  /** Raw SQL for the few statements Prisma cannot express (advisory locks, search). */
  sql: SqlRunner;
  close(): Promise<void>;
}

export function isPostgresUrl(url: string | undefined): url is string {
  return !!url && /^postgres(ql)?:\/\//.test(url);
}

export async function openDatabase(opts: { url?: string; dataDir: string }): Promise<Database> {
  if (isPostgresUrl(opts.url)) {
    const pool = new pg.Pool({ connectionString: opts.url, max: 10 });
    const sql: SqlRunner = {
      exec: async (s) => {
        await pool.query(s);
      },
      query: async (s, params) => (await pool.query(s, params as unknown[])).rows,
    };
    // The advisory lock is per connection: run migrations on one dedicated client.
    const client = await pool.connect();
    try {
      await applyMigrations({
        exec: async (s) => {
          await client.query(s);
        },
        query: async (s, params) => (await client.query(s, params as unknown[])).rows,
      });
    } finally {
      client.release();
    }
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    return {
      prisma,
      kind: "postgres",
      sql,
      close: async () => {
        await prisma.$disconnect();
        await pool.end();
      },
    };
  }
  const dir = path.resolve(opts.dataDir, "pglite");
  mkdirSync(dir, { recursive: true });
  const lite = await PGlite.create(dir, { extensions: { pg_trgm } }); // pg_trgm: search (migration 0002)
  const sql: SqlRunner = {
    exec: async (s) => {
      await lite.exec(s);
    },
    query: async (s, params) => (await lite.query(s, params as unknown[])).rows as never[],
  };
  await applyMigrations(sql);
  // pglite-prisma-adapter bundles an older copy of the adapter interface types; the runtime contract matches.
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(lite) as never });
  return {
    prisma,
    kind: "pglite",
    sql,
    close: async () => {
      await prisma.$disconnect();
      await lite.close();
    },
  };
}
