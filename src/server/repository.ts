// The repository app (8080): package clients, health and version.
import Koa from "koa";
import Router from "@koa/router";
import type { AppContext } from "../context.js";
import { errorHandler } from "./errors.js";
import type { HttpMetrics } from "../metrics/http.js";

export function createRepositoryApp(app: AppContext, metrics: HttpMetrics): Koa {
  const koa = new Koa();
  koa.proxy = true;
  const router = new Router();
  // Load-balancer probe: no I/O.
  router.get("/.health", (ctx) => {
    ctx.body = { status: "ok" };
  });
  router.get("/.version", (ctx) => {
    ctx.body = [{ version: app.config.version }];
  });
  koa.use(metrics.middleware("repository"));
  koa.use(errorHandler(app.log));
  koa.use(router.routes());
  koa.use(router.allowedMethods({ throw: true }));
  return koa;
}
