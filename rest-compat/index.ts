// The documented REST API (/api/v1) as a table of Koa routes over GraphQL operations.
import Router from "@koa/router";
import type Koa from "koa";
import type { GraphQLSchema } from "graphql";
import * as Ops from "./generated/graphql.js";
import { validateDocuments } from "./run.js";
import { authRoutes } from "./routes/auth.js";
import { userRoutes } from "./routes/users.js";
import { roleRoutes } from "./routes/roles.js";
import { artifactRoutes } from "./routes/artifacts.js";
import { repositoryRoutes } from "./routes/repositories.js";
import { storageRoutes } from "./routes/storage.js";
import { settingsRoutes } from "./routes/settings.js";
import { dashboardRoutes } from "./routes/dashboard.js";
import { searchRoutes } from "./routes/search.js";
import { cooldownRoutes } from "./routes/cooldown.js";
import { auditRoutes } from "./routes/audit.js";

export function restCompatRouter(schema: GraphQLSchema): Router {
  validateDocuments(schema, Ops);
  const router = new Router({ prefix: "/api/v1" });
  router.get("/health", (ctx) => {
    ctx.body = { status: "ok" };
  });
  authRoutes(router);
  userRoutes(router);
  roleRoutes(router);
  artifactRoutes(router);
  repositoryRoutes(router);
  storageRoutes(router);
  settingsRoutes(router);
  dashboardRoutes(router);
  searchRoutes(router);
  cooldownRoutes(router);
  auditRoutes(router);
  return router;
}

/** CORS for browser UIs: any origin, preflight answered here. */
export const cors: Koa.Middleware = async (ctx, next) => {
  ctx.set("Access-Control-Allow-Origin", "*");
  if (ctx.method === "OPTIONS") {
    ctx.set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS");
    ctx.set("Access-Control-Allow-Headers", ctx.get("Access-Control-Request-Headers") || "Authorization, Content-Type");
    ctx.set("Access-Control-Max-Age", "86400");
    ctx.status = 204;
    return;
  }
  await next();
};
