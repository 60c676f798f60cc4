// The repository app (8080): package clients, health and version.
//
// Routing order: /.health, /.ready, /.version, /.import/<repo>/<path>, top-level protocol routes
// (Indy /api/admin/...: insert below), root mounts of format plugins (OCI /v2/...), then the format dispatcher:
//   /<prefix>?/<repo>/<path...>  → prefix stripped, repository resolved, caller authenticated,
//   the plugin of repo.format (the FormatRegistry) serves it through the kit; 501 for a format no plugin serves.
import Koa from "koa";
import Router from "@koa/router";
import type { AuditService } from "../audit/service.js";
import type { Config } from "../config.js";
import type { FormatKit, ResolvedRequest } from "../formats/kit/dispatch.js";
import type { FormatRegistry } from "../formats/kit/registry.js";
import type { Readiness } from "../health/readiness.js";
import type { IndyService } from "../indy/service.js";
import type { Logger } from "../log.js";
import type { RepositoryRecord } from "../repositories/types.js";
import type { SettingsService } from "../settings/service.js";
import type { Storage } from "../storage/types.js";
import type { PortCallers } from "./callers.js";
import { errorHandler } from "./errors.js";
import type { HttpMetrics } from "../metrics/http.js";
import { DomainError, badRequest, errorBody, notFound, methodNotAllowed } from "../errors.js";
import { normaliseKey } from "../storage/types.js";
import { requireRepository } from "../formats/kit/request.js";
import { headerMap, type ImportService } from "../importer/service.js";
import { registerIndyRoutes } from "../indy/router.js";
import { repositoryPortAudit } from "../audit/repository-port.js";

/** What the repository app uses (built by the composition root, src/main.ts). */
export interface RepositoryPortDeps {
  config: Pick<Config, "trustedProxies" | "publicRepoUrl" | "version">;
  log: Logger;
  /** Global path prefixes (the `prefixes` section). */
  settings: Pick<SettingsService, "get">;
  repositories: { find(name: string): Promise<RepositoryRecord | null> };
  storages: { forRepository(repo: RepositoryRecord): Promise<Storage> };
  /** Caller resolution, with this node's anonymous-principal cache. */
  callers: PortCallers;
  importer: ImportService;
  indy: IndyService;
  audit: AuditService;
  readiness: Readiness;
  formats: FormatRegistry;
  kit: FormatKit;
  metrics: HttpMetrics;
}

/** Splits a raw (still encoded) URL path into decoded segments; malformed escapes → 400. */
function decodeSegments(rawPath: string): string[] {
  const out: string[] = [];
  for (const seg of rawPath.split("/")) {
    if (seg === "") continue;
    if (!seg.includes("%")) {
      out.push(seg);
      continue;
    }
    try {
      out.push(decodeURIComponent(seg));
    } catch {
      throw badRequest("Malformed percent-encoding in path");
    }
  }
  return out;
}

/** Base URL the client used: X-Forwarded-* aware (koa.proxy), or the configured public URL. */
export function requestOrigin(app: Pick<RepositoryPortDeps, "config">, ctx: Koa.Context): string {
  if (app.config.publicRepoUrl) return app.config.publicRepoUrl.replace(/\/+$/, "");
  return `${ctx.protocol}://${ctx.host}`;
}

/**
 * Resolves `/<prefix>?/<repo>/<path>` (raw, encoded) into the request the kit serves; null when the first
 * segment names no repository. Used by the dispatcher and by protocol routes that need one.
 */
export async function resolveRequest(app: RepositoryPortDeps, ctx: Koa.Context, rawPath: string): Promise<ResolvedRequest | null> {
  const segments = decodeSegments(rawPath);
  let prefix = "";
  if (segments.length > 1) {
    const { prefixes } = await app.settings.get("prefixes");
    if (Array.isArray(prefixes) && prefixes.includes(segments[0])) prefix = segments.shift()!;
  }
  const name = segments.shift();
  if (!name) return null;
  const repo = await app.repositories.find(name);
  if (!repo) return null;
  const path = normaliseKey(segments.join("/"));
  const actor = await app.callers.authenticate(ctx.get("Authorization"), { ip: ctx.ip });
  const storage = await app.storages.forRepository(repo);
  const baseUrl = `${requestOrigin(app, ctx)}${prefix ? "/" + encodeURIComponent(prefix) : ""}/${encodeURIComponent(repo.name)}`;
  return { repo, storage, actor, path, baseUrl };
}

/** The challenge package clients get with a 401 on this port. */
export const BASIC_CHALLENGE = 'Basic realm="pantera"';

/** Repository-port error shapes: Basic challenges on 401, clients that hung up. */
function repositoryErrors(): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof DomainError && err.code === "UNAUTHORIZED") {
        ctx.status = 401;
        ctx.body = errorBody("UNAUTHORIZED", err.message);
        ctx.set("WWW-Authenticate", BASIC_CHALLENGE);
        return;
      }
      // A client that hung up mid-upload: nothing to answer.
      if ((err as { code?: string }).code === "ECONNRESET" || (err as { code?: string }).code === "ERR_STREAM_PREMATURE_CLOSE") {
        // The client is gone only if its request never completed and its socket is closed: a request body read
        // to the end is `destroyed` too, and a reset from the database or storage after that is the server's (503).
        if (ctx.req.aborted || (!ctx.req.complete && ctx.req.socket.destroyed)) {
          ctx.status = 400;
          ctx.body = errorBody("BAD_REQUEST", "Request aborted by the client");
          return;
        }
      }
      throw err;
    }
  };
}

/** Section 16: PUT|POST /.import/<repo>/<path> with the X-Pantera-* headers. */
async function importArtifact(app: RepositoryPortDeps, ctx: Koa.Context): Promise<void> {
  if (ctx.method !== "PUT" && ctx.method !== "POST") {
    ctx.set("Allow", "PUT, POST");
    throw methodNotAllowed("Use PUT or POST to import");
  }
  const segments = decodeSegments(ctx.path.slice("/.import/".length));
  const repo = segments.shift() ?? "";
  const actor = await app.callers.authenticate(ctx.get("Authorization"), { ip: ctx.ip });
  if (actor.via === "anonymous") requireRepository(actor, repo, "write"); // 401 + Basic challenge before any work
  const res = await app.importer.import({ actor, repo, path: segments.join("/"), headers: headerMap(ctx.req.headers), body: ctx.req });
  ctx.status = res.httpStatus;
  if (res.httpStatus === 503) ctx.set("Retry-After", "5");
  ctx.body = res.body;
}

/** The format dispatcher: anything no earlier route claimed. */
function dispatcher(app: RepositoryPortDeps): Koa.Middleware {
  const prefixes = async () => {
    const { prefixes } = await app.settings.get("prefixes");
    return Array.isArray(prefixes) ? (prefixes as string[]) : [];
  };
  return async (ctx, next) => {
    if (ctx.body !== undefined || ctx.status !== 404 || ctx.matched?.length) return next();
    if (ctx.path.startsWith("/.import/")) return importArtifact(app, ctx);
    // Root mounts of format plugins (OCI /v2/...), unless the path is a global prefix before a repository of another format.
    const root = app.kit.serveRoot(ctx, prefixes);
    if (root && (await root)) return;
    const scope = await resolveRequest(app, ctx, ctx.path);
    if (!scope) {
      const first = decodeSegments(ctx.path)[0];
      throw notFound(first ? `Repository '${first}' not found` : "No repository in path");
    }
    if (app.formats.plugin(scope.repo.format)) return app.kit.serve(ctx, scope);
    ctx.status = 501;
    ctx.body = errorBody("NOT_IMPLEMENTED", `Format '${scope.repo.format}' is not served by this node yet`);
  };
}

export function createRepositoryApp(app: RepositoryPortDeps): Koa {
  const koa = new Koa();
  // X-Forwarded-* only from the configured proxies; maxIpsCount takes the address the nearest one appended.
  koa.proxy = app.config.trustedProxies > 0;
  koa.maxIpsCount = app.config.trustedProxies;
  // Clients hanging up mid-transfer are routine on this port: log quietly instead of to stderr.
  koa.on("error", (err: Error & { code?: string }) => app.log.debug("repository port stream error", { code: err.code, err: err.message }));
  const router = new Router();
  // Load-balancer probe: no I/O.
  router.get("/.health", (ctx) => {
    ctx.body = { status: "ok" };
  });
  // Readiness: 503 while the database or the default storage is unreachable (src/health/readiness.ts).
  router.get("/.ready", app.readiness.handler);
  router.get("/.version", (ctx) => {
    ctx.body = [{ version: app.config.version }];
  });
  // ---- top-level protocol routes (insert one line each) ----
  registerIndyRoutes(router, { indy: app.indy, authenticate: (h, o) => app.callers.authenticate(h, o) }); // Indy store API /api/admin/... (src/indy)
  // ---- end of top-level protocol routes ----
  koa.use(app.metrics.middleware("repository"));
  koa.use(repositoryPortAudit(app.audit)); // uploads and deletes; outside the error handler to see its status
  koa.use(errorHandler(app.log));
  koa.use(repositoryErrors());
  koa.use(router.routes());
  koa.use(router.allowedMethods({ throw: true }));
  koa.use(dispatcher(app));
  return koa;
}
