// Section 5: users.
import Router from "@koa/router";
import * as Ops from "../generated/graphql.js";
import { run } from "../run.js";
import { empty, field, jsonBody, listParams } from "../http.js";
import { badRequest } from "../../src/errors.js";

export function userRoutes(router: Router) {
  router.get("/users", async (ctx) => {
    const { users } = await run(ctx, Ops.UsersDocument, listParams(ctx));
    ctx.body = { ...users, items: users.items.map((u) => ({ name: u.name, type: u.type, ...(u.email ? { email: u.email } : {}), enabled: u.enabled })) };
  });

  router.get("/users/:name", async (ctx) => {
    const { user } = await run(ctx, Ops.UserDocument, { name: ctx.params.name });
    ctx.body = { name: user.name, type: user.type, ...(user.email ? { email: user.email } : {}), roles: user.roles, enabled: user.enabled };
  });

  router.put("/users/:name", async (ctx) => {
    const body = await jsonBody(ctx, { required: true });
    if (body.pass !== undefined && body.password !== undefined && body.pass !== body.password) throw badRequest("'pass' and 'password' disagree");
    await run(ctx, Ops.PutUserDocument, {
      name: ctx.params.name,
      input: {
        type: field(body, "type"),
        pass: field(body, "pass") ?? field(body, "password"),
        email: field(body, "email"),
        roles: field(body, "roles"),
        enabled: field(body, "enabled"),
      },
    });
    empty(ctx, 201);
  });

  router.delete("/users/:name", async (ctx) => {
    await run(ctx, Ops.DeleteUserDocument, { name: ctx.params.name });
    empty(ctx);
  });

  router.post("/users/:name/password", async (ctx) => {
    const body = await jsonBody(ctx, { required: true });
    await run(ctx, Ops.ChangePasswordDocument, { name: ctx.params.name, oldPass: field(body, "old_pass"), newPass: field(body, "new_pass") });
    empty(ctx);
  });

  for (const [action, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    router.post(`/users/:name/${action}`, async (ctx) => {
      await run(ctx, Ops.SetUserEnabledDocument, { name: ctx.params.name, enabled });
      empty(ctx);
    });
  }
}
