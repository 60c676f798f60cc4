// Admin: the audit trail (GET /admin/audit-events), permission api_role_permissions:read.
import Router from "@koa/router";
import * as Ops from "../generated/graphql.js";
import { run } from "../run.js";
import { pageBody, queryInt, queryString } from "../http.js";

export function auditRoutes(router: Router) {
  router.get("/admin/audit-events", async (ctx) => {
    const { auditEvents } = await run(ctx, Ops.AuditEventsDocument, {
      page: queryInt(ctx, "page"),
      size: queryInt(ctx, "size"),
      action: queryString(ctx, "action"),
      user: queryString(ctx, "user"),
      outcome: queryString(ctx, "outcome"),
      from: queryString(ctx, "from"),
      to: queryString(ctx, "to"),
      target: queryString(ctx, "target"),
    });
    ctx.body = pageBody(auditEvents, (e) => ({
      id: e.id,
      timestamp: e.at,
      action: e.action,
      category: e.category,
      outcome: e.outcome,
      error_code: e.errorCode,
      user: e.user,
      source_ip: e.sourceIp,
      target: e.target,
      details: e.details,
      message: e.message,
    }));
  });
}
