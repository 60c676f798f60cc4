// The management app (8086): /graphql (Yoga + GraphiQL) and the REST layer under /api/v1.
import { Readable } from "node:stream";
import Koa from "koa";
import Router from "@koa/router";
import { createYoga } from "graphql-yoga";
import type { AppContext } from "../context.js";
import { schema } from "../graphql/schema.js";
import { createRequestContext, type RequestContext } from "../graphql/context.js";
import { restCompatRouter, cors } from "../../rest-compat/index.js";
import { errorHandler } from "./errors.js";
import type { HttpMetrics } from "../metrics/http.js";

export function createApiApp(app: AppContext, metrics: HttpMetrics): Koa {
  const koa = new Koa();
  koa.proxy = true;
  const yoga = createYoga<{ koa: Koa.Context }>({
    schema,
    graphqlEndpoint: "/graphql",
    graphiql: { title: "Pantera GraphQL explorer" },
    landingPage: false,
    logging: false,
    context: ({ koa: k }) => k.state.gql as RequestContext,
  });

  // Every request gets its caller resolved once; bad credentials are kept as the reason for a later 401.
  const authenticate: Koa.Middleware = async (ctx, next) => {
    const { actor, error } = await app.auth.authenticateHeader(ctx.get("Authorization") || undefined, { ip: ctx.ip });
    ctx.state.gql = createRequestContext(app, actor, error, ctx.ip);
    ctx.state.schema = schema;
    await next();
  };

  const rest = restCompatRouter(schema);
  const root = new Router();
  root.all("/graphql", authenticate, async (ctx) => {
    ctx.state.route = "/graphql";
    const response = await yoga.handleNodeRequestAndResponse(ctx.req, ctx.res, { koa: ctx });
    ctx.status = response.status;
    response.headers.forEach((value, key) => {
      if (key !== "content-length") ctx.set(key, value);
    });
    ctx.body = response.body ? Readable.from(response.body as unknown as AsyncIterable<Uint8Array>) : null;
  });

  koa.use(metrics.middleware("api"));
  koa.use(errorHandler(app.log));
  koa.use(async (ctx, next) => (ctx.path.startsWith("/api/v1") ? cors(ctx, next) : next()));
  koa.use(root.routes());
  koa.use(async (ctx, next) => (ctx.path.startsWith("/api/v1") ? authenticate(ctx, next) : next()));
  koa.use(rest.routes());
  koa.use(rest.allowedMethods({ throw: true }));
  return koa;
}
