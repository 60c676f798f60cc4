// Section 10: cooldown management.
import Router from "@koa/router";
import * as Ops from "../generated/graphql.js";
import { run } from "../run.js";
import { field, jsonBody, noContent, pageBody, queryInt, queryString } from "../http.js";

export function cooldownRoutes(router: Router) {
  router.get("/cooldown/config", async (ctx) => {
    const { cooldownConfig: c } = await run(ctx, Ops.CooldownConfigDocument, {});
    ctx.body = {
      enabled: c.enabled,
      minimum_allowed_age: c.minimumAllowedAge,
      repo_types: Object.fromEntries(c.repoTypes.map((t) => [t.type, { enabled: t.enabled, minimum_allowed_age: t.minimumAllowedAge }])),
    };
  });

  router.put("/cooldown/config", async (ctx) => {
    const body = await jsonBody(ctx, { required: true });
    const { setCooldownConfig } = await run(ctx, Ops.SetCooldownConfigDocument, {
      input: { enabled: field(body, "enabled"), minimumAllowedAge: field(body, "minimum_allowed_age"), repoTypes: field(body, "repo_types") },
    });
    ctx.body = { status: setCooldownConfig.status };
  });

  router.get("/cooldown/overview", async (ctx) => {
    const { cooldownOverview } = await run(ctx, Ops.CooldownOverviewDocument, {});
    ctx.body = { repos: cooldownOverview.map((r) => ({ name: r.name, type: r.type, cooldown: r.cooldown, active_blocks: r.activeBlocks })) };
  });

  router.get("/cooldown/blocked", async (ctx) => {
    const { cooldownBlocked: p } = await run(ctx, Ops.CooldownBlockedDocument, {
      page: queryInt(ctx, "page"),
      size: queryInt(ctx, "size"),
      search: queryString(ctx, "search"),
    });
    ctx.body = pageBody(p, (b) => ({
      package_name: b.packageName,
      version: b.version,
      repo: b.repo,
      repo_type: b.repoType,
      reason: b.reason,
      blocked_date: b.blockedDate,
      blocked_until: b.blockedUntil,
      remaining_hours: b.remainingHours,
    }));
  });

  router.post("/repositories/:name/cooldown/unblock", async (ctx) => {
    const body = await jsonBody(ctx, { required: true });
    await run(ctx, Ops.CooldownUnblockDocument, { repo: ctx.params.name, artifact: field(body, "artifact") ?? "", version: field(body, "version") ?? "" });
    noContent(ctx);
  });

  router.post("/repositories/:name/cooldown/unblock-all", async (ctx) => {
    await run(ctx, Ops.CooldownUnblockAllDocument, { repo: ctx.params.name });
    noContent(ctx);
  });
}
