// Database access: Prisma over PostgreSQL (DATABASE_URL) or the embedded PGlite in the data dir.
import { createHash } from "node:crypto";
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
  /**
   * Runs `fn` holding an exclusive lock on `key` for every node on this database: a
   * PostgreSQL advisory lock, or a process-local lock on PGlite (which only one process opens).
   */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A 64-bit advisory-lock id for a key (keys may hold bytes PostgreSQL text cannot). */
function lockId(key: string): string {
  return createHash("sha256").update(key).digest().readBigInt64BE(0).toString();
}

/** Serialises sections per key within this process. */
function processLocks(): <T>(key: string, fn: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return async (key, fn) => {
    const prev = tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chained = prev.then(() => mine);
    tails.set(key, chained);
    await prev.catch(() => undefined);
    try {
      return await fn();
    } finally {
      release();
      if (tails.get(key) === chained) tails.delete(key);
    }
  };
}

export function isPostgresUrl(url: string | undefined): url is string {
  return !!url && /^postgres(ql)?:\/\//.test(url);
}

export async function openDatabase(opts: { url?: string; dataDir: string }): Promise<Database> {
  if (isPostgresUrl(opts.url)) {
    const pool = new pg.Pool({ connectionString: opts.url, max: 10 });
    // An idle connection the server ends (restart, failover, pg_terminate_backend) is dropped
    // from the pool and replaced on the next checkout; without a listener it would crash the node.
    pool.on("error", () => {});
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
    // Advisory locks are held by a connection for the whole section, so they get their own
    // small pool: sections that query through Prisma can never starve it (no deadlock).
    const lockPool = new pg.Pool({ connectionString: opts.url, max: 4 });
    lockPool.on("error", () => {});
    const local = processLocks();
    const withLock = <T>(key: string, fn: () => Promise<T>): Promise<T> =>
      // One connection per key per process; other nodes queue on the advisory lock.
      local(key, async () => {
        const client = await lockPool.connect();
        try {
          const id = lockId(key);
          await client.query("SELECT pg_advisory_lock($1::bigint)", [id]);
          try {
            return await fn();
          } finally {
            await client.query("SELECT pg_advisory_unlock($1::bigint)", [id]);
          }
        } finally {
          client.release();
        }
      });
    return {
      prisma,
      kind: "postgres",
      sql,
      withLock,
      close: async () => {
        await prisma.$disconnect();
        await pool.end();
        await lockPool.end();
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
    withLock: processLocks(),
    close: async () => {
      await prisma.$disconnect();
      await lite.close();
    },
  };
}
