// Dashboard (REST section 14).
import type { DashboardStats, RepositoryTypeCount } from "../dashboard/service.js";
import { builder } from "./builder.js";
import { caller } from "./caller.js";
import { RepositoryKindEnum } from "./repository-config.js";

const TypeCountRef = builder.objectRef<RepositoryTypeCount>("RepositoryTypeCount").implement({
  fields: (t) => ({
    type: t.exposeString("type"),
    format: t.exposeString("format"),
    kind: t.field({ type: RepositoryKindEnum, resolve: (c) => c.kind }),
    count: t.exposeInt("count"),
    supported: t.exposeBoolean("supported", { description: "Whether a registered format serves this type (repositories of other types answer 501)" }),
  }),
});

const TopRepoRef = builder.objectRef<DashboardStats["top_repos"][number]>("DashboardTopRepo").implement({
  fields: (t) => ({
    name: t.exposeString("name"),
    type: t.exposeString("type"),
    artifactCount: t.exposeInt("artifact_count"),
    size: t.float({ resolve: (r) => r.size }),
  }),
});

const StatsRef = builder.objectRef<DashboardStats>("DashboardStats").implement({
  fields: (t) => ({
    repoCount: t.exposeInt("repo_count"),
    artifactCount: t.exposeInt("artifact_count"),
    totalStorage: t.float({ description: "Bytes", resolve: (s) => s.total_storage }),
    blockedCount: t.exposeInt("blocked_count"),
    topRepos: t.field({ type: [TopRepoRef], resolve: (s) => s.top_repos }),
  }),
});

type Point = { timestamp: string; count: number; api: number; repository: number };
const PointRef = builder.objectRef<Point>("RequestCountPoint").implement({
  fields: (t) => ({
    timestamp: t.exposeString("timestamp", { description: "Start of the bucket (ISO-8601)" }),
    count: t.exposeInt("count"),
    api: t.exposeInt("api"),
    repository: t.exposeInt("repository"),
  }),
});

const SeriesRef = builder.objectRef<{ period: string; bucket_seconds: number; total: number; data: Point[] }>("RequestSeries").implement({
  fields: (t) => ({
    period: t.exposeString("period"),
    bucketSeconds: t.exposeInt("bucket_seconds"),
    total: t.exposeInt("total"),
    data: t.field({ type: [PointRef], resolve: (s) => s.data }),
  }),
});

builder.queryFields((t) => ({
  dashboardStats: t.field({
    type: StatsRef,
    description: "Served from a 30-second per-node cache",
    resolve: (_r, _a, ctx) => ctx.app.dashboard.stats(caller(ctx)),
  }),
  reposByType: t.field({
    type: "JSON",
    description: "Repository count per type (30-second cache)",
    resolve: (_r, _a, ctx) => ctx.app.dashboard.reposByType(caller(ctx)),
  }),
  repositoryTypeCounts: t.field({
    type: [TypeCountRef],
    description: "Every repository type this build serves with its repository count (0 included), then stored types it does not serve (30-second cache)",
    resolve: (_r, _a, ctx) => ctx.app.dashboard.typeCounts(caller(ctx)),
  }),
  requestSeries: t.field({
    type: SeriesRef,
    args: { period: t.arg.string({ description: "e.g. 1h, 24h, 7d (default 24h)" }) },
    resolve: (_r, a, ctx) => ctx.app.dashboard.requests(caller(ctx), a.period),
  }),
}));
