// Section 8: artifact operations. Each route runs one GraphQL operation; downloads ask
// GraphQL for authorisation and the storage key, then stream the bytes from storage.
import Router from "@koa/router";
import type Koa from "koa";
import * as Ops from "../generated/graphql.js";
import { run } from "../run.js";
import { field, jsonBody, noContent, queryInt, queryString } from "../http.js";
import { notFound, unauthorized } from "../../src/errors.js";
import type { RequestContext } from "../../src/graphql/context.js";

type Download = { repository: string; path: string; filename: string; size: number };

async function stream(ctx: Koa.Context, d: Download): Promise<void> {
  const { app } = ctx.state.gql as RequestContext;
  const repo = await app.repositories.find(d.repository);
  if (!repo) throw notFound(`Repository '${d.repository}' not found`);
  const obj = await (await app.storages.forRepository(repo)).get(d.path);
  if (!obj) throw notFound(`Artifact '${d.path}' not found in repository '${d.repository}'`);
  ctx.status = 200;
  ctx.set("Content-Disposition", `attachment; filename="${d.filename.replace(/["\\\r\n]/g, "_")}"; filename*=UTF-8''${encodeURIComponent(d.filename)}`);
  ctx.body = obj.stream;
  ctx.type = "application/octet-stream";
  ctx.length = obj.size;
}

const pathParam = (ctx: Koa.Context) => queryString(ctx, "path") ?? "";

export function artifactRoutes(router: Router) {
  router.get("/repositories/:name/tree", async (ctx) => {
    const { repositoryTree } = await run(ctx, Ops.RepositoryTreeDocument, {
      name: ctx.params.name,
      path: queryString(ctx, "path") ?? "/",
      limit: queryInt(ctx, "limit"),
      marker: queryString(ctx, "marker"),
    });
    ctx.body = {
      items: repositoryTree.items.map((i) => ({ name: i.name, path: i.path, type: i.type })),
      marker: repositoryTree.marker ?? null,
      hasMore: repositoryTree.hasMore,
    };
  });

  router.get("/repositories/:name/artifact", async (ctx) => {
    const { artifact } = await run(ctx, Ops.ArtifactDocument, { name: ctx.params.name, path: pathParam(ctx) });
    ctx.body = { path: artifact.path, name: artifact.name, size: artifact.size, modified: artifact.modified, checksums: artifact.checksums };
  });

  router.get("/repositories/:name/artifact/pull", async (ctx) => {
    const { artifactPull } = await run(ctx, Ops.ArtifactPullDocument, { name: ctx.params.name, path: pathParam(ctx) });
    ctx.body = { type: artifactPull.type, instructions: artifactPull.instructions };
  });

  router.get("/repositories/:name/artifact/download", async (ctx) => {
    const { artifactDownload } = await run(ctx, Ops.ArtifactDownloadDocument, { name: ctx.params.name, path: pathParam(ctx) });
    await stream(ctx, artifactDownload);
  });

  router.post("/repositories/:name/artifact/download-token", async (ctx) => {
    const { artifactDownloadToken } = await run(ctx, Ops.ArtifactDownloadTokenDocument, { name: ctx.params.name, path: pathParam(ctx) });
    ctx.body = { token: artifactDownloadToken };
  });

  router.get("/repositories/:name/artifact/download-direct", async (ctx) => {
    const { artifactDownloadDirect } = await run(ctx, Ops.ArtifactDownloadDirectDocument, { token: queryString(ctx, "token") ?? "" });
    if (artifactDownloadDirect.repository !== ctx.params.name) throw unauthorized("Download token is not valid for this repository");
    await stream(ctx, artifactDownloadDirect);
  });

  router.delete("/repositories/:name/artifacts", async (ctx) => {
    const body = await jsonBody(ctx, { required: true });
    await run(ctx, Ops.DeleteArtifactDocument, { name: ctx.params.name, path: field(body, "path") ?? ("" as never) });
    noContent(ctx);
  });

  router.delete("/repositories/:name/packages", async (ctx) => {
    const body = await jsonBody(ctx, { required: true });
    await run(ctx, Ops.DeletePackageDocument, { name: ctx.params.name, path: field(body, "path") ?? ("" as never) });
    noContent(ctx);
  });
}
