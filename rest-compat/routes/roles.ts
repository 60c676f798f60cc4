// Section 6: roles.
import Router from "@koa/router";
import * as Ops from "../generated/graphql.js";
import { run } from "../run.js";
import { empty, field, jsonBody, listParams } from "../http.js";

export function roleRoutes(router: Router) {
  router.get("/roles", async (ctx) => {
    const { roles } = await run(ctx, Ops.RolesDocument, listParams(ctx));
    ctx.body = roles;
  });

  router.get("/roles/:name", async (ctx) => {
    const { role } = await run(ctx, Ops.RoleDocument, { name: ctx.params.name });
    ctx.body = { name: role.name, permissions: role.permissions, enabled: role.enabled };
  });

  router.put("/roles/:name", async (ctx) => {
    const body = await jsonBody(ctx, { required: true });
    await run(ctx, Ops.PutRoleDocument, { name: ctx.params.name, permissions: field(body, "permissions") ?? null, enabled: field(body, "enabled") });
    empty(ctx, 201);
  });

  router.delete("/roles/:name", async (ctx) => {
    await run(ctx, Ops.DeleteRoleDocument, { name: ctx.params.name });
    empty(ctx);
  });

  for (const [action, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    router.post(`/roles/:name/${action}`, async (ctx) => {
      await run(ctx, Ops.SetRoleEnabledDocument, { name: ctx.params.name, enabled });
      empty(ctx);
    });
  }
}
