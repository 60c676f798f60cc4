// Section 4: repositories.
import Router from "@koa/router";
import * as Ops from "../generated/graphql.js";
import { run } from "../run.js";
import { empty, field, jsonBody, queryInt, queryString } from "../http.js";
import { badRequest } from "../../src/errors.js";

export function repositoryRoutes(router: Router) {
  router.get("/repositories", async (ctx) => {
    const { repositories } = await run(ctx, Ops.RepositoriesDocument, {
      page: queryInt(ctx, "page"),
      size: queryInt(ctx, "size"),
      type: queryString(ctx, "type"),
      q: queryString(ctx, "q"),
    });
    ctx.body = repositories;
  });

  // The types PUT /repositories accepts (the registered formats'); not under /repositories/, where any name is a repository's.
  router.get("/repository-types", async (ctx) => {
    const { repositoryTypes } = await run(ctx, Ops.RepositoryTypesDocument, {});
    ctx.body = { types: repositoryTypes };
  });

  router.get("/repositories/:name/members", async (ctx) => {
    const { repositoryMembers } = await run(ctx, Ops.RepositoryMembersDocument, { name: ctx.params.name });
    ctx.body = repositoryMembers;
  });

  // HEAD is routed before GET so no body is ever produced; errors keep their status.
  router.head("/repositories/:name", async (ctx) => {
    const { repositoryExists } = await run(ctx, Ops.RepositoryExistsDocument, { name: ctx.params.name });
    ctx.status = repositoryExists ? 200 : 404;
    ctx.body = "";
  });

  router.get("/repositories/:name", async (ctx) => {
    const { repository } = await run(ctx, Ops.RepositoryDocument, { name: ctx.params.name });
    ctx.body = { repo: repository.config };
  });

  router.put("/repositories/:name", async (ctx) => {
    const body = await jsonBody(ctx, { required: true });
    const repo = body.repo;
    if (repo === undefined) throw badRequest('Body must be {"repo": {"type": ..., "storage": ...}}');
    if (repo === null || typeof repo !== "object" || Array.isArray(repo)) throw badRequest("'repo' must be a JSON object");
    await run(ctx, Ops.PutRepositoryDocument, { name: ctx.params.name, repo });
    empty(ctx);
  });

  router.delete("/repositories/:name", async (ctx) => {
    await run(ctx, Ops.DeleteRepositoryDocument, { name: ctx.params.name });
    empty(ctx);
  });

  router.put("/repositories/:name/move", async (ctx) => {
    const body = await jsonBody(ctx, { required: true });
    if (typeof body.new_name !== "string" || !body.new_name) throw badRequest("'new_name' is required");
    await run(ctx, Ops.MoveRepositoryDocument, { name: ctx.params.name, newName: field(body, "new_name") });
    empty(ctx);
  });
}
