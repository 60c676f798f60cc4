// Database access: Prisma over PostgreSQL (DATABASE_URL) or the embedded PGlite in the data dir.
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { unavailable } from "../errors.js";
import type { Logger } from "../log.js";
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
   * Waiting longer than the lock timeout throws 503 UNAVAILABLE with Retry-After.
   */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A 64-bit advisory-lock id for a key (keys may hold bytes PostgreSQL text cannot). */
function lockId(key: string): string {
  return createHash("sha256").update(key).digest().readBigInt64BE(0).toString();
}

export interface DatabaseOptions {
  url?: string;
  dataDir: string;
  /** How long withLock waits for a lock before it gives up with 503 (config lockTimeoutMs). */
  lockTimeoutMs?: number;
  /** Where connection-state changes are logged. */
  log?: Logger;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;
/** Seconds a client is told to wait (Retry-After) after a lock timeout. */
const LOCK_RETRY_AFTER_S = 5;
const BACKOFF_FIRST_MS = 5;
const BACKOFF_MAX_MS = 200;

/**
 * The pause after failed try number `attempt` (0-based) at an advisory lock: doubling from 5 ms up to
 * 200 ms, each jittered down by up to half so that waiters on different nodes do not retry in step.
 */
export function lockBackoffMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(Math.max(attempt, 0), 16));
  return ceiling / 2 + random() * (ceiling / 2);
}

function lockTimeout(timeoutMs: number) {
  return unavailable(`Timed out after ${timeoutMs} ms waiting for a lock another request holds; retry later`, LOCK_RETRY_AFTER_S);
}

/** Per-key FIFO locks within this process; a waiter that reaches its deadline leaves the queue (503) without breaking it. */
class LocalLocks {
  /** The keys held in this process, each with its queue of waiters (their grant functions). */
  private readonly held = new Map<string, Array<() => void>>();

  acquire(key: string, deadline: number, timeoutMs: number): Promise<() => void> {
    const queue = this.held.get(key);
    if (!queue) {
      this.held.set(key, []);
      return Promise.resolve(this.releaser(key));
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        resolve(this.releaser(key));
      };
      const timer = setTimeout(
        () => {
          const i = queue.indexOf(grant);
          if (i >= 0) queue.splice(i, 1);
          reject(lockTimeout(timeoutMs));
        },
        Math.max(0, deadline - Date.now()),
      );
      queue.push(grant);
    });
  }

  /** Hands the key to the next waiter, or frees it; calling it twice is harmless. */
  private releaser(key: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.held.get(key)?.shift();
      if (next) next();
      else this.held.delete(key);
    };
  }
}

/** Serialises sections per key within this process, giving up after `timeoutMs`. */
export function processLocks(timeoutMs: number): <T>(key: string, fn: () => Promise<T>) => Promise<T> {
  const locks = new LocalLocks();
  return async (key, fn) => {
    const release = await locks.acquire(key, Date.now() + timeoutMs, timeoutMs);
    try {
      return await fn();
    } finally {
      release();
    }
  };
}

/** Logs the database connection going and coming back once per transition, however many connections fail. */
class ConnectionState {
  private down = false;
  constructor(private readonly log: Logger | undefined) {}
  lost(err: unknown): void {
    if (this.down) return;
    this.down = true;
    this.log?.warn("database connection lost", { err: String(err) });
  }
  /** A new connection was established. */
  restored(): void {
    if (!this.down) return;
    this.down = false;
    this.log?.info("database connection restored");
  }
}

/** The channel a holder notifies with its lock id when it unlocks. */
const RELEASE_CHANNEL = "pantera_lock_released";

/**
 * Wakes this node's lock waiters when a holder on any node releases their lock (NOTIFY sent with the unlock),
 * so a handover does not wait out the backoff. One connection per node, opened at the first wait; backoff
 * polling stays the fallback while it (re)connects or if a notification arrives before the waiter listens.
 */
class ReleaseWakeups {
  private client?: pg.Client;
  private connecting?: Promise<void>;
  private closed = false;
  private readonly waiting = new Map<string, Set<() => void>>();
  constructor(
    private readonly url: string,
    private readonly state: ConnectionState,
  ) {}

  /** Resolves when lock `id` is released somewhere or after `ms`, whichever comes first. */
  async pause(id: string, ms: number): Promise<void> {
    this.listen();
    let wake!: () => void;
    const woken = new Promise<void>((r) => (wake = r));
    let waiters = this.waiting.get(id);
    if (!waiters) this.waiting.set(id, (waiters = new Set()));
    waiters.add(wake);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([woken, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    } finally {
      clearTimeout(timer);
      waiters.delete(wake);
      if (waiters.size === 0 && this.waiting.get(id) === waiters) this.waiting.delete(id);
    }
  }

  private listen(): void {
    if (this.client || this.connecting || this.closed) return;
    const client = new pg.Client({ connectionString: this.url, application_name: "pantera-lock-wakeups" });
    const drop = (err: unknown) => {
      this.state.lost(err);
      if (this.client === client) this.client = undefined;
      client.end().catch(() => undefined);
    };
    client.on("error", drop);
    client.on("notification", (n) => {
      for (const wake of this.waiting.get(n.payload ?? "") ?? []) wake();
    });
    this.connecting = client
      .connect()
      .then(() => client.query(`LISTEN ${RELEASE_CHANNEL}`))
      .then(() => {
        this.state.restored();
        if (this.closed) return void client.end().catch(() => undefined);
        this.client = client;
      }, drop)
      .finally(() => (this.connecting = undefined));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connecting;
    await this.client?.end().catch(() => undefined);
  }
}

/** PostgreSQL advisory locks over a small pool of their own. */
class AdvisoryLocks {
  constructor(
    private readonly pool: pg.Pool,
    private readonly wakeups: ReleaseWakeups,
    private readonly state: ConnectionState,
    private readonly log: Logger | undefined,
  ) {}

  /**
   * Runs `fn` holding the advisory lock for `key`. Waiting uses pg_try_advisory_lock with backoff and gives
   * the connection back between tries, so a waiter holds no connection while it waits; only the holder does.
   */
  async run<T>(key: string, deadline: number, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
    const id = lockId(key);
    for (let attempt = 0; ; attempt++) {
      const client = await this.connectBefore(deadline, timeoutMs);
      let acquired: boolean;
      try {
        acquired = (await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1::bigint) AS ok", [id])).rows[0].ok;
      } catch (err) {
        client.release(err as Error); // a failed connection is destroyed, not put back
        this.state.lost(err);
        throw err;
      }
      if (acquired) return this.hold(client, id, fn);
      client.release();
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw lockTimeout(timeoutMs);
      await this.wakeups.pause(id, Math.min(lockBackoffMs(attempt), remaining));
    }
  }

  /** Checks out a connection within the deadline; one that arrives after it goes straight back to the pool. */
  private async connectBefore(deadline: number, timeoutMs: number): Promise<pg.PoolClient> {
    const pending = this.pool.connect();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(lockTimeout(timeoutMs)), Math.max(0, deadline - Date.now()));
    });
    try {
      return await Promise.race([pending, expired]);
    } catch (err) {
      pending.then(
        (c) => c.release(),
        (e) => this.state.lost(e),
      );
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async hold<T>(client: pg.PoolClient, id: string, fn: () => Promise<T>): Promise<T> {
    // An advisory lock belongs to the session that took it: the holder must keep this very connection until
    // it unlocks (another connection's pg_advisory_unlock would not release it). If the connection dies, the
    // server has already released the lock, and the connection must not go back to the pool. The pool stops
    // listening for errors on a checked-out client, so without this listener a drop would crash the node.
    let lost: Error | undefined;
    const onError = (err: Error) => {
      lost ??= err;
      this.state.lost(err);
    };
    client.on("error", onError);
    try {
      return await fn();
    } finally {
      if (!lost) {
        try {
          await client.query(`SELECT pg_advisory_unlock($1::bigint), pg_notify('${RELEASE_CHANNEL}', $1::text)`, [id]);
        } catch (err) {
          lost = err as Error;
          this.state.lost(err);
        }
      }
      client.removeListener("error", onError);
      if (lost) this.log?.warn("cluster lock connection lost while held; the server released its lock", { err: String(lost) });
      client.release(lost);
    }
  }
}

export function isPostgresUrl(url: string | undefined): url is string {
  return !!url && /^postgres(ql)?:\/\//.test(url);
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  const lockTimeoutMs = opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  if (isPostgresUrl(opts.url)) {
    const state = new ConnectionState(opts.log);
    // connectionTimeoutMillis: an unreachable server (dropped packets) fails a checkout in 5 s, answered 503, instead of hanging.
    const pool = new pg.Pool({ connectionString: opts.url, max: 10, connectionTimeoutMillis: 5_000 });
    // An idle connection the server ends (restart, failover, pg_terminate_backend) is dropped
    // from the pool and replaced on the next checkout; without a listener it would crash the node.
    pool.on("error", (err) => state.lost(err));
    pool.on("connect", () => state.restored());
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
    // Only holders keep a connection (waiters give theirs back between tries), so 4 bounds held keys, not waiters.
    const lockPool = new pg.Pool({ connectionString: opts.url, max: 4, application_name: "pantera-locks" });
    lockPool.on("error", (err) => state.lost(err));
    lockPool.on("connect", () => state.restored());
    const local = new LocalLocks();
    const wakeups = new ReleaseWakeups(opts.url, state);
    const advisory = new AdvisoryLocks(lockPool, wakeups, state, opts.log);
    const withLock = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
      const deadline = Date.now() + lockTimeoutMs;
      // Requests for one key on this node queue here first, so N of them make one database waiter, not N.
      const releaseLocal = await local.acquire(key, deadline, lockTimeoutMs);
      try {
        return await advisory.run(key, deadline, lockTimeoutMs, fn);
      } finally {
        releaseLocal();
      }
    };
    return {
      prisma,
      kind: "postgres",
      sql,
      withLock,
      close: async () => {
        await prisma.$disconnect();
        await pool.end();
        await wakeups.close();
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
    withLock: processLocks(lockTimeoutMs),
    close: async () => {
      await prisma.$disconnect();
      await lite.close();
    },
  };
}
