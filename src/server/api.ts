// The management app (8086): /graphql (Yoga + GraphiQL) and the REST layer under /api/v1.
import Koa from "koa";
import Router from "@koa/router";
import { createYoga, maskError } from "graphql-yoga";
import type { AuthService } from "../auth/service.js";
import type { Config } from "../config.js";
import { schema } from "../graphql/schema.js";
import { createRequestContext, type GraphqlServices, type RequestContext } from "../graphql/context.js";
import { createConcurrencyGate, requestError, useGraphqlLimits } from "../graphql/limits.js";
import { DATABASE_RETRY_AFTER, isDatabaseUnavailable } from "../db/errors.js";
import { badRequest, payloadTooLarge, unavailable } from "../errors.js";
import { discardRequestBody, readBounded } from "../streams.js";
import { restCompatRouter, cors } from "../../rest-compat/index.js";
import { errorHandler } from "./errors.js";
import type { Readiness } from "../health/readiness.js";
import type { Logger } from "../log.js";
import type { HttpMetrics } from "../metrics/http.js";

/** The request body up to `limit` bytes; a client that hung up mid-body is answered 400 (nobody reads it). */
async function readBody(ctx: Koa.Context, limit: number, tooLarge: () => Error): Promise<Buffer> {
  try {
    return await readBounded(ctx.req, limit, tooLarge);
  } catch (err) {
    if (ctx.req.aborted || (err as NodeJS.ErrnoException).code === "ECONNRESET") throw badRequest("Request body ended early");
    throw err;
  }
}

/** What the management app uses. */
export interface ApiDeps {
  config: Pick<Config, "trustedProxies" | "graphql">;
  log: Logger;
  auth: Pick<AuthService, "authenticateHeader">;
  /** Handed to every GraphQL (and REST) request as its context's services. */
  graphql: GraphqlServices;
  readiness: Readiness;
  metrics: HttpMetrics;
}

export function createApiApp(deps: ApiDeps): Koa {
  const { config, log, auth, graphql: services, readiness, metrics } = deps;
  const koa = new Koa();
  // X-Forwarded-* only from the configured proxies; maxIpsCount takes the address the nearest one appended.
  koa.proxy = config.trustedProxies > 0;
  koa.maxIpsCount = config.trustedProxies;
  const limits = config.graphql;
  const yoga = createYoga<{ koa: Koa.Context }>({
    schema,
    graphqlEndpoint: "/graphql",
    graphiql: { title: "Pantera GraphQL explorer" },
    landingPage: false,
    logging: false,
    context: ({ koa: k }) => k.state.gql as RequestContext,
    batching: false,
    // Limits depend on the caller and the variables, so a cached verdict for the same text would be wrong.
    parserAndValidationCache: { validationCache: false },
    plugins: [useGraphqlLimits(limits)],
    // A database outage is UNAVAILABLE (HTTP 503 + Retry-After), not a masked "Unexpected error.".
    maskedErrors: {
      maskError: (error, message, isDev) =>
        isDatabaseUnavailable(error)
          ? requestError("UNAVAILABLE", "The database is unavailable; retry later", DATABASE_RETRY_AFTER)
          : maskError(error, message, isDev),
    },
  });
  const executions = createConcurrencyGate(limits.maxConcurrent);

  // Every request gets its caller resolved once; bad credentials are kept as the reason for a later 401.
  const authenticate: Koa.Middleware = async (ctx, next) => {
    const { actor, error } = await auth.authenticateHeader(ctx.get("Authorization") || undefined, { ip: ctx.ip });
    ctx.state.gql = createRequestContext(services, actor, error, ctx.ip);
    ctx.state.schema = schema;
    await next();
  };

  const rest = restCompatRouter(schema);
  const root = new Router();
  const graphql: Koa.Middleware = async (ctx) => {
    ctx.state.route = "/graphql";
    const declared = Number(ctx.get("Content-Length") || 0);
    const tooLarge = () => {
      ctx.set("Connection", "close"); // as readJsonBody: the rest is drained unread, then the connection closes
      return payloadTooLarge(`GraphQL request body exceeds ${limits.maxBodyBytes} bytes`);
    };
    if (declared > limits.maxBodyBytes) {
      discardRequestBody(ctx.req);
      throw tooLarge();
    }
    // Read before taking a slot, so slow uploads cannot hold the gate.
    const body = ctx.method === "GET" || ctx.method === "HEAD" ? undefined : await readBody(ctx, limits.maxBodyBytes, tooLarge);
    // The slot covers authentication too: with PGlite its queries queue with every other app's.
    if (!executions.enter()) throw unavailable("Too many concurrent GraphQL requests on this node", 1);
    try {
      await authenticate(ctx, () => respond(ctx, body));
    } finally {
      executions.leave();
    }
  };
  const respond = async (ctx: Koa.Context, body: Buffer | undefined) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(ctx.req.headers)) {
      if (value !== undefined && name !== "content-length") headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    const url = new URL(ctx.originalUrl, `${ctx.protocol}://${ctx.host || "localhost"}`);
    const response = await yoga.fetch(url, { method: ctx.method, headers, body: body?.toString("utf8") }, { koa: ctx });
    ctx.status = response.status;
    response.headers.forEach((value, key) => {
      if (key !== "content-length") ctx.set(key, value);
    });
    // Buffered so the slot is held until the whole answer is built.
    ctx.body = response.body ? Buffer.from(await response.arrayBuffer()) : null;
  };
  root.all("/graphql", graphql);
  // Readiness for load balancers (database + default storage); unauthenticated, as /api/v1/health.
  root.get("/api/v1/health/ready", readiness.handler);

  koa.use(metrics.middleware("api"));
  koa.use(errorHandler(log));
  koa.use(async (ctx, next) => (ctx.path.startsWith("/api/v1") ? cors(ctx, next) : next()));
  koa.use(root.routes());
  koa.use(async (ctx, next) => (ctx.path.startsWith("/api/v1") ? authenticate(ctx, next) : next()));
  koa.use(rest.routes());
  koa.use(rest.allowedMethods({ throw: true }));
  return koa;
}
