// Readiness (`/.ready` on 8080, `GET /api/v1/health/ready` on 8086): whether this node can serve
// traffic now, for load balancers. `/.health` stays liveness (no I/O) so an orchestrator does not
// restart a node that only waits for its database.
import { stat } from "node:fs/promises";
import path from "node:path";
import type Koa from "koa";
import { DATABASE_RETRY_AFTER } from "../db/errors.js";
import type { Database } from "../db/index.js";
import { DEFAULT_ALIAS, type StorageService } from "../storage/service.js";
import type { Storage } from "../storage/types.js";

/** Each probe answers within this, or counts as down (a hung database must not hang the balancer). */
export const PROBE_TIMEOUT_MS = 1000;
/** A verdict is reused this long, so probes from many balancers cost at most one query per node per second. */
export const VERDICT_TTL_MS = 1000;

export interface ReadinessVerdict {
  ready: boolean;
  /** Per dependency: "ok", or why it is down. */
  checks: { database: string; storage: string };
}

function withTimeout<T>(what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
  });
  work.catch(() => undefined); // a probe that loses the race may still fail later
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const reason = (err: unknown) => "down: " + (err instanceof Error ? err.message : String(err)).trim().split("\n").pop();

/** What readiness probes: the database and the default storage alias. */
export interface ReadinessDeps {
  db: Pick<Database, "sql">;
  storages: Pick<StorageService, "resolveAlias" | "forAlias">;
}

async function probeDatabase(deps: ReadinessDeps): Promise<string> {
  try {
    await withTimeout("database", deps.db.sql.query("SELECT 1"));
    return "ok";
  } catch (err) {
    return reason(err);
  }
}

type Alias = Awaited<ReturnType<StorageService["resolveAlias"]>>;
/** The last default alias (and its driver, for non-fs ones) resolved while the database answered. */
interface StorageMemo {
  alias?: Alias;
  driver?: Storage;
}

/**
 * The default storage alias: its root stat'ed (fs) or one listing (s3 and others), through the node's driver.
 * The alias lives in the database; while that is down the last one resolved is checked, so the verdict still
 * says whether the storage itself answers.
 */
async function probeStorage(deps: ReadinessDeps, memo: StorageMemo): Promise<string> {
  try {
    try {
      const alias = await withTimeout("database (storage alias)", deps.storages.resolveAlias("", DEFAULT_ALIAS));
      const driver = alias && alias.config.type !== "fs" ? await withTimeout("database (storage alias)", deps.storages.forAlias("", DEFAULT_ALIAS)) : undefined;
      Object.assign(memo, { alias, driver });
    } catch (err) {
      if (memo.alias === undefined) return "unknown: " + reason(err).slice("down: ".length);
    }
    const { alias, driver } = memo;
    if (!alias) return "ok";
    if (alias.config.type === "fs") {
      // A root not made yet is fine (drivers create it on the first write) as long as its parent is there.
      await withTimeout(
        "storage",
        stat(String(alias.config.path)).catch((err) => {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
          return stat(path.dirname(String(alias.config.path)));
        }),
      );
    } else {
      await withTimeout("storage", driver!.list("", { delimiter: "/", limit: 1 }));
    }
    return "ok";
  } catch (err) {
    return reason(err);
  }
}

export interface Readiness {
  check(): Promise<ReadinessVerdict>;
  /** A Koa handler answering 200 {status:"ok", checks} or 503 + Retry-After {status:"unavailable", checks}. */
  handler: Koa.Middleware;
}

/** One per node, shared by both ports (so they share the cached verdict). */
export function createReadiness(deps: ReadinessDeps): Readiness {
  let cached: { at: number; verdict: Promise<ReadinessVerdict> } | undefined;
  const memo: StorageMemo = {};
  const check = (): Promise<ReadinessVerdict> => {
    // Concurrent probes share one in-flight check as well as a fresh verdict.
    if (cached && Date.now() - cached.at < VERDICT_TTL_MS) return cached.verdict;
    const verdict = (async () => {
      const [database, storage] = await Promise.all([probeDatabase(deps), probeStorage(deps, memo)]);
      return { ready: database === "ok" && storage === "ok", checks: { database, storage } };
    })();
    cached = { at: Date.now(), verdict };
    return verdict;
  };
  const handler: Koa.Middleware = async (ctx) => {
    const { ready, checks } = await check();
    ctx.set("Cache-Control", "no-store");
    if (!ready) ctx.set("Retry-After", String(DATABASE_RETRY_AFTER));
    ctx.status = ready ? 200 : 503;
    const down = Object.entries(checks)
      .filter(([, v]) => v !== "ok")
      .map(([k, v]) => `${k} ${v}`);
    ctx.body = ready ? { status: "ok", checks } : { status: "unavailable", message: `Not ready: ${down.join("; ")}`, checks };
  };
  return { check, handler };
}
