// Section 9: search.
import Router from "@koa/router";
import * as Ops from "../generated/graphql.js";
import { run } from "../run.js";
import { pageBody, queryInt, queryString } from "../http.js";

export function searchRoutes(router: Router) {
  router.get("/search", async (ctx) => {
    const q = queryString(ctx, "q");
    if (q === undefined || !q.trim()) {
      // The reference documents this one body in its own shape.
      ctx.status = 400;
      ctx.body = { code: 400, message: "Missing 'q' parameter" };
      return;
    }
    const { search } = await run(ctx, Ops.SearchDocument, { q, page: queryInt(ctx, "page"), size: queryInt(ctx, "size") });
    ctx.body = pageBody(search, (i) => ({
      repo_type: i.repoType,
      repo_name: i.repoName,
      artifact_path: i.artifactPath,
      artifact_name: i.artifactName,
      version: i.version,
      size: i.size,
      created_at: i.createdAt,
      owner: i.owner,
    }));
  });

  router.get("/search/locate", async (ctx) => {
    const { searchLocate } = await run(ctx, Ops.SearchLocateDocument, { path: queryString(ctx, "path") ?? "" });
    ctx.body = { repositories: searchLocate.repositories, count: searchLocate.count };
  });

  router.post("/search/reindex", async (ctx) => {
    const { searchReindex } = await run(ctx, Ops.SearchReindexDocument, {});
    ctx.status = 202;
    ctx.body = { status: searchReindex.status, message: searchReindex.message };
  });

  router.get("/search/stats", async (ctx) => {
    const { searchStats: s } = await run(ctx, Ops.SearchStatsDocument, {});
    ctx.body = {
      total_documents: s.totalDocuments,
      index_size_bytes: s.indexSizeBytes,
      last_indexed: s.lastIndexed ?? null,
      index_type: "postgresql-fts",
      reindex: {
        status: s.reindex.status,
        started_at: s.reindex.startedAt ?? null,
        finished_at: s.reindex.finishedAt ?? null,
        repositories: s.reindex.repositories,
        documents: s.reindex.documents,
        ...(s.reindex.error ? { error: s.reindex.error } : {}),
      },
    };
  });
}
