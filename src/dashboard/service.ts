// Dashboard (REST section 14): stats from the artifacts index behind a 30-second per-node cache,
// repositories by type, and a request-rate time series from the request_counts table, which the
// RequestCountFlusher fills per minute from the in-memory HTTP counters (src/metrics/http.ts).
import type { Database } from "../db/index.js";
import type { Logger } from "../log.js";
import { badRequest } from "../errors.js";
import { requireActor, type Principal } from "../auth/permissions.js";
import type { HttpMetrics } from "../metrics/http.js";
import { parseRepositoryType, type RepositoryKind, type RepositoryTypes } from "../repositories/types.js";

export const DASHBOARD_CACHE_MS = 30_000;

export interface DashboardStats {
  repo_count: number;
  artifact_count: number;
  total_storage: number;
  blocked_count: number;
  top_repos: { name: string; type: string; artifact_count: number; size: number }[];
}

export interface RepositoryTypeCount {
  type: string;
  format: string;
  kind: RepositoryKind;
  count: number;
  /** Whether a registered format serves this type. */
  supported: boolean;
}

const minute = (d: Date) => new Date(Math.floor(d.getTime() / 60_000) * 60_000);

/** Persists the HTTP counters per minute bucket and app; `flush()` can be forced before a read. */
export class RequestCountFlusher {
  private timer?: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private deps: { db: Pick<Database, "prisma">; log: Logger },
    private metrics: HttpMetrics,
  ) {}

  start(intervalMs = 15_000): this {
    this.timer = setInterval(() => void this.flush().catch((err) => this.deps.log.warn("request count flush failed", { err: String(err) })), intervalMs);
    this.timer.unref();
    return this;
  }

  flush(): Promise<void> {
    this.running = this.running.then(
      () => this.flushNow(),
      () => this.flushNow(),
    );
    return this.running;
  }

  private async flushNow(): Promise<void> {
    const counts = this.metrics.drainCounts();
    if (!counts.size) return;
    const bucket = minute(new Date());
    const prisma = this.deps.db.prisma;
    for (const [app, n] of counts) {
      const where = { bucket_app: { bucket, app } };
      try {
        await prisma.requestCount.upsert({ where, create: { bucket, app, count: BigInt(n) }, update: { count: { increment: BigInt(n) } } });
      } catch (err) {
        // Another node created the row between our read and insert: increment it.
        if ((err as { code?: string }).code !== "P2002") throw err;
        await prisma.requestCount.update({ where, data: { count: { increment: BigInt(n) } } });
      }
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush().catch(() => {});
  }
}

/** Period strings: <n>m, <n>h, <n>d, <n>w (1 minute .. 90 days). */
export function parsePeriod(period: string): number {
  const m = /^(\d{1,4})([mhdw])$/.exec(period);
  if (!m) throw badRequest(`Invalid period '${period}': use e.g. 30m, 24h, 7d`);
  const ms = Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as "m" | "h" | "d" | "w"];
  if (ms < 60_000 || ms > 90 * 86_400_000) throw badRequest("'period' must be between 1m and 90d");
  return ms;
}

/** Bucket width for a period: at most ~300 points. */
export function bucketFor(periodMs: number): number {
  for (const b of [60_000, 300_000, 900_000, 3_600_000, 21_600_000, 86_400_000]) if (periodMs / b <= 300) return b;
  return 86_400_000;
}

export class DashboardService {
  private cache = new Map<string, { at: number; value: unknown }>();

  constructor(
    private deps: {
      db: Pick<Database, "prisma">;
      /** This node's request counter, flushed before a read so the series includes the last seconds. */
      requestCounts?: Pick<RequestCountFlusher, "flush">;
      /** The repository types this build serves (the FormatRegistry). */
      types: Pick<RepositoryTypes, "types" | "parseType">;
    },
  ) {}

  private async cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < DASHBOARD_CACHE_MS) return hit.value as T;
    const value = await load();
    this.cache.set(key, { at: Date.now(), value });
    return value;
  }

  async stats(actor: Principal | null): Promise<DashboardStats> {
    requireActor(actor);
    return this.cached("stats", async () => {
      const prisma = this.deps.db.prisma;
      const [agg, blocked_count, top, repos] = await Promise.all([
        prisma.artifact.aggregate({ _count: { _all: true }, _sum: { size: true } }),
        prisma.cooldownBlock.count({ where: { unblockedAt: null, blockedUntil: { gt: new Date() } } }),
        prisma.artifact.groupBy({ by: ["repoName"], _count: { _all: true }, _sum: { size: true }, orderBy: { _count: { repoName: "desc" } }, take: 10 }),
        prisma.repository.findMany({ select: { name: true, type: true } }),
      ]);
      const types = new Map(repos.map((r) => [r.name, r.type]));
      return {
        repo_count: repos.length,
        artifact_count: agg._count._all,
        total_storage: Number(agg._sum.size ?? 0n),
        blocked_count,
        top_repos: top
          .map((t) => ({ name: t.repoName, type: types.get(t.repoName) ?? "", artifact_count: t._count._all, size: Number(t._sum.size ?? 0n) }))
          .sort((a, b) => b.artifact_count - a.artifact_count || a.name.localeCompare(b.name))
          .slice(0, 5),
      };
    });
  }

  async reposByType(actor: Principal | null): Promise<Record<string, number>> {
    requireActor(actor);
    return this.cached("types", async () => {
      const rows = await this.deps.db.prisma.repository.groupBy({ by: ["type"], _count: { _all: true }, orderBy: { type: "asc" } });
      return Object.fromEntries(rows.map((r) => [r.type, r._count._all]));
    });
  }

  /**
   * Every type this build serves with its repository count (0 included), in registry order, then
   * the types of stored rows it does not serve (`supported: false`; such repositories answer 501).
   */
  async typeCounts(actor: Principal | null): Promise<RepositoryTypeCount[]> {
    const counts = await this.reposByType(actor);
    const supported = this.deps.types.types();
    const unsupported = Object.keys(counts).filter((t) => !supported.includes(t));
    return [
      ...supported.map((type) => ({ type, ...this.deps.types.parseType(type)!, count: counts[type] ?? 0, supported: true })),
      ...unsupported.map((type) => ({
        type,
        ...(parseRepositoryType(type) ?? { format: type, kind: "hosted" as const }),
        count: counts[type],
        supported: false,
      })),
    ];
  }

  /** Requests per bucket over the period, every bucket present (zeros included), oldest first. */
  async requests(actor: Principal | null, period: string | null | undefined) {
    requireActor(actor);
    const p = period ?? "24h";
    const periodMs = parsePeriod(p);
    const bucketMs = bucketFor(periodMs);
    await this.deps.requestCounts?.flush();
    const now = Date.now();
    const end = Math.floor(now / bucketMs) * bucketMs + bucketMs;
    const start = end - Math.ceil(periodMs / bucketMs) * bucketMs;
    const rows = await this.deps.db.prisma.requestCount.findMany({ where: { bucket: { gte: new Date(start), lt: new Date(end) } } });
    const n = (end - start) / bucketMs;
    const data = Array.from({ length: n }, (_, i) => ({ timestamp: new Date(start + i * bucketMs).toISOString(), count: 0, api: 0, repository: 0 }));
    for (const r of rows) {
      const i = Math.floor((r.bucket.getTime() - start) / bucketMs);
      if (i < 0 || i >= n) continue;
      const c = Number(r.count);
      data[i].count += c;
      if (r.app === "api" || r.app === "repository") data[i][r.app] += c;
    }
    return { period: p, bucket_seconds: bucketMs / 1000, total: data.reduce((a, d) => a + d.count, 0), data };
  }
}
