// Section 14: dashboard.
import Router from "@koa/router";
import * as Ops from "../generated/graphql.js";
import { run } from "../run.js";
import { queryString } from "../http.js";

export function dashboardRoutes(router: Router) {
  router.get("/dashboard/stats", async (ctx) => {
    const { dashboardStats: s } = await run(ctx, Ops.DashboardStatsDocument, {});
    ctx.body = {
      repo_count: s.repoCount,
      artifact_count: s.artifactCount,
      total_storage: s.totalStorage,
      blocked_count: s.blockedCount,
      top_repos: s.topRepos.map((r) => ({ name: r.name, type: r.type, artifact_count: r.artifactCount, size: r.size })),
    };
  });

  router.get("/dashboard/repos-by-type", async (ctx) => {
    const { reposByType } = await run(ctx, Ops.ReposByTypeDocument, {});
    ctx.body = { types: reposByType };
  });

  router.get("/dashboard/requests", async (ctx) => {
    const { requestSeries: r } = await run(ctx, Ops.RequestSeriesDocument, { period: queryString(ctx, "period") });
    ctx.body = { period: r.period, bucket_seconds: r.bucketSeconds, total: r.total, data: r.data };
  });
}
