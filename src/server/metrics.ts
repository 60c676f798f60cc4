// The metrics app (8087): Prometheus text format.
import Koa from "koa";
import type { Registry } from "prom-client";

export function createMetricsApp(registry: Registry): Koa {
  const koa = new Koa();
  koa.use(async (ctx) => {
    if (ctx.method !== "GET" || (ctx.path !== "/metrics/vertx" && ctx.path !== "/metrics")) {
      ctx.status = 404;
      ctx.body = { error: "NOT_FOUND", message: "Metrics are served at /metrics/vertx", status: 404 };
      return;
    }
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  });
  return koa;
}
