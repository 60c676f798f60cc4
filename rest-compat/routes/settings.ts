// Sections 11 (settings) and 12 (auth provider toggle/config).
import Router from "@koa/router";
import * as Ops from "../generated/graphql.js";
import { run } from "../run.js";
import { empty, jsonBody } from "../http.js";
import { badRequest } from "../../src/errors.js";

function providerId(raw: string): number {
  if (!/^\d{1,9}$/.test(raw)) throw badRequest("Auth provider id must be a positive integer");
  return Number(raw);
}

export function settingsRoutes(router: Router) {
  router.get("/settings", async (ctx) => {
    const { settings } = await run(ctx, Ops.SettingsDocument, {});
    ctx.body = settings;
  });

  router.put("/settings/prefixes", async (ctx) => {
    const body = await jsonBody(ctx, { required: true });
    if (body.prefixes === undefined) throw badRequest("'prefixes' is required");
    await run(ctx, Ops.UpdatePrefixesDocument, { prefixes: body.prefixes });
    empty(ctx);
  });

  router.put("/settings/:section", async (ctx) => {
    const values = await jsonBody(ctx, { required: true });
    await run(ctx, Ops.UpdateSettingsSectionDocument, { section: ctx.params.section, values });
    ctx.body = { status: "saved" };
  });

  router.put("/auth-providers/:id/toggle", async (ctx) => {
    const id = providerId(ctx.params.id);
    const body = await jsonBody(ctx, { required: true });
    if (typeof body.enabled !== "boolean") throw badRequest("'enabled' must be a boolean");
    await run(ctx, Ops.ToggleAuthProviderDocument, { id, enabled: body.enabled });
    ctx.body = { status: "saved" };
  });

  router.put("/auth-providers/:id/config", async (ctx) => {
    const id = providerId(ctx.params.id);
    const config = await jsonBody(ctx, { required: true });
    await run(ctx, Ops.UpdateAuthProviderConfigDocument, { id, config });
    ctx.body = { status: "saved" };
  });
}
