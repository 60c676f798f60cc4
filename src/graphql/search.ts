// Search (REST section 9): queries over the artifacts index and the reindex mutation.
import { builder, pageType } from "./builder.js";
import { caller } from "./caller.js";
import type { SearchHit, ReindexState } from "../search/service.js";

const SearchHitRef = builder.objectRef<SearchHit>("SearchHit").implement({
  description: "One indexed artifact file",
  fields: (t) => ({
    repoType: t.exposeString("repoType"),
    repoName: t.exposeString("repoName"),
    artifactPath: t.exposeString("artifactPath"),
    artifactName: t.exposeString("artifactName"),
    version: t.exposeString("version"),
    size: t.exposeFloat("size", { description: "Bytes" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    owner: t.exposeString("owner"),
  }),
});

const SearchPage = pageType("SearchPage", SearchHitRef);

const LocateRef = builder.objectRef<{ repositories: string[]; count: number }>("ArtifactLocation").implement({
  fields: (t) => ({ repositories: t.exposeStringList("repositories"), count: t.exposeInt("count") }),
});

const ReindexStateRef = builder.objectRef<ReindexState>("ReindexState").implement({
  fields: (t) => ({
    status: t.exposeString("status", { description: "idle, running, completed or failed (this node)" }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    repositories: t.exposeInt("repositories"),
    documents: t.exposeInt("documents"),
    error: t.exposeString("error", { nullable: true }),
  }),
});

const StatsRef = builder
  .objectRef<{ totalDocuments: number; indexSizeBytes: number; lastIndexed: Date | null; reindex: ReindexState }>("SearchStats")
  .implement({
    fields: (t) => ({
      totalDocuments: t.exposeFloat("totalDocuments"),
      indexSizeBytes: t.exposeFloat("indexSizeBytes"),
      lastIndexed: t.expose("lastIndexed", { type: "DateTime", nullable: true }),
      reindex: t.field({ type: ReindexStateRef, resolve: (s) => s.reindex }),
    }),
  });

const ReindexStartRef = builder.objectRef<{ status: string; message: string }>("ReindexStart").implement({
  fields: (t) => ({ status: t.exposeString("status"), message: t.exposeString("message") }),
});

builder.queryFields((t) => ({
  search: t.field({
    type: SearchPage,
    description: "Full-text and structured search (name:, version:, repo:, type:, AND/OR, parentheses, quotes), filtered by read permission",
    args: { q: t.arg.string({ required: true }), page: t.arg.int(), size: t.arg.int() },
    resolve: (_r, a, ctx) => ctx.app.search.search(caller(ctx), a),
  }),
  searchLocate: t.field({
    type: LocateRef,
    description: "Repositories (readable by the caller) holding an artifact at this path",
    args: { path: t.arg.string({ required: true }) },
    resolve: (_r, a, ctx) => ctx.app.search.locate(caller(ctx), a.path),
  }),
  searchStats: t.field({ type: StatsRef, resolve: (_r, _a, ctx) => ctx.app.search.stats(caller(ctx)) }),
}));

builder.mutationFields((t) => ({
  searchReindex: t.field({
    type: ReindexStartRef,
    description: "Rebuilds the artifacts index from storage in the background",
    resolve: (_r, _a, ctx) => ctx.app.search.reindex(caller(ctx)),
  }),
}));
