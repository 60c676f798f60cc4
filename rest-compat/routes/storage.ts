// Section 7: storage aliases (global and repository-scoped).
import Router from "@koa/router";
import * as Ops from "../generated/graphql.js";
import { run } from "../run.js";
import { empty, jsonBody } from "../http.js";

export function storageRoutes(router: Router) {
  router.get("/storages", async (ctx) => {
    const { storageAliases } = await run(ctx, Ops.StorageAliasesDocument, {});
    ctx.body = storageAliases;
  });

  router.put("/storages/:name", async (ctx) => {
    const config = await jsonBody(ctx, { required: true });
    await run(ctx, Ops.PutStorageAliasDocument, { name: ctx.params.name, config });
    empty(ctx);
  });

  router.delete("/storages/:name", async (ctx) => {
    await run(ctx, Ops.DeleteStorageAliasDocument, { name: ctx.params.name });
    empty(ctx);
  });

  router.get("/repositories/:name/storages", async (ctx) => {
    const { storageAliases } = await run(ctx, Ops.StorageAliasesDocument, { repository: ctx.params.name });
    ctx.body = storageAliases;
  });

  router.put("/repositories/:name/storages/:alias", async (ctx) => {
    const config = await jsonBody(ctx, { required: true });
    await run(ctx, Ops.PutStorageAliasDocument, { name: ctx.params.alias, repository: ctx.params.name, config });
    empty(ctx);
  });

  router.delete("/repositories/:name/storages/:alias", async (ctx) => {
    await run(ctx, Ops.DeleteStorageAliasDocument, { name: ctx.params.alias, repository: ctx.params.name });
    empty(ctx);
  });
}
