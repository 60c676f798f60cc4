// HTTP metrics for every Koa app: request counters and latency histograms per app and route template.
import { Counter, Histogram, collectDefaultMetrics, type Registry } from "prom-client";
import type Koa from "koa";

export interface HttpMetrics {
  middleware(app: string): Koa.Middleware;
  /** Per-minute request counts for the dashboard, drained by whoever persists them. */
  drainCounts(): Map<string, number>;
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  collectDefaultMetrics({ register: registry, prefix: "pantera_" });
  const requests = new Counter({
    name: "http_server_requests_total",
    help: "HTTP requests handled, by app, method, route template and status",
    labelNames: ["app", "method", "route", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "http_server_request_duration_seconds",
    help: "HTTP request latency in seconds, by app, method and route template",
    labelNames: ["app", "method", "route"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  let counts = new Map<string, number>();
  return {
    middleware(app) {
      return async (ctx, next) => {
        const start = process.hrtime.bigint();
        try {
          await next();
        } finally {
          const route = (ctx.state.route as string | undefined) ?? (typeof ctx._matchedRoute === "string" ? ctx._matchedRoute : "unmatched");
          const seconds = Number(process.hrtime.bigint() - start) / 1e9;
          requests.inc({ app, method: ctx.method, route, status: String(ctx.status) });
          duration.observe({ app, method: ctx.method, route }, seconds);
          counts.set(app, (counts.get(app) ?? 0) + 1);
        }
      };
    },
    drainCounts() {
      const out = counts;
      counts = new Map();
      return out;
    },
  };
}
