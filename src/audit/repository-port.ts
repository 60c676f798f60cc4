// Audit of the repository port (8080): uploads and deletes by clients, and Indy store API writes
// (repository changes). Reads pass straight through (no context, no database work), so proxy cache
// fills, which happen on reads, are never counted as uploads. A write runs with an AuditRequest that
// ArtifactService.record/remove add the artifacts they stored or removed to; the events are written
// once the response status is known.
import type Koa from "koa";
import { ERROR_STATUS } from "../errors.js";
import { claimedUser } from "./identity.js";
import { artifactEvent, type AuditRequest, type AuditService } from "./service.js";

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The documented error code of an HTTP status, else HTTP_<status>. */
export function statusCode(status: number): string {
  return Object.entries(ERROR_STATUS).find(([, s]) => s === status)?.[0] ?? `HTTP_${status}`;
}

/** Install before the error handler, so that the status it sets for a thrown error is the outcome. */
export function repositoryPortAudit(audit: AuditService): Koa.Middleware {
  return async (ctx, next) => {
    if (READ_METHODS.has(ctx.method)) return next();
    const request: AuditRequest = { ip: ctx.ip, user: claimedUser(ctx.get("Authorization") || undefined), artifacts: [] };
    try {
      await audit.requests.run(request, next);
    } finally {
      request.flushed = true;
      await flush(audit, request, ctx);
    }
  };
}

/** The Indy store API (/api/admin/...) changes repositories on this port, outside the GraphQL mutations. */
const INDY_PREFIX = "/api/admin/";

/** The store an Indy write names: the last path segment, or for a create the Location it answered with. */
function indyStore(ctx: Koa.Context): string {
  const segments = ctx.path.slice(INDY_PREFIX.length).split("/").filter(Boolean);
  const named = segments[0] === "stores" ? segments.length >= 4 : segments.length >= 2;
  const last = named
    ? segments[segments.length - 1]
    : (String(ctx.response.get("Location") || "")
        .split("/")
        .pop() ?? "");
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

async function flush(audit: AuditService, request: AuditRequest, ctx: Koa.Context): Promise<void> {
  const status = ctx.status;
  const failed = status >= 400;
  const code = failed ? statusCode(status) : undefined;
  if (ctx.path.startsWith(INDY_PREFIX) && (request.user || status !== 401)) {
    await audit.record({
      action: ctx.method === "DELETE" ? "deleteRepository" : "putRepository",
      category: "configuration",
      outcome: failed ? "failure" : "success",
      errorCode: code,
      user: request.user ?? null,
      ip: request.ip,
      target: indyStore(ctx),
      details: { via: "indy", method: ctx.method },
      urlPath: ctx.path,
    });
    return;
  }
  for (const e of request.artifacts ?? []) {
    // The caller who sent the credentials; the recorded owner (an import may name another) only without them.
    await audit.record(artifactEvent(e, request.ip, request.user ?? e.owner ?? null, failed ? "failure" : "success", code, ctx.path));
  }
  // A write refused to someone who sent credentials (a bad password, a missing permission). A 401
  // without credentials is the challenge clients answer by retrying with them: not worth an event.
  if (!request.artifacts?.length && (status === 403 || status === 401) && request.user) {
    const action = ctx.method === "DELETE" ? "deleteArtifact" : "uploadArtifact";
    await audit.record({
      action,
      category: "file",
      outcome: "failure",
      errorCode: code,
      user: request.user,
      ip: request.ip,
      target: ctx.path.replace(/^\/+/, ""),
      details: { method: ctx.method },
      urlPath: ctx.path,
    });
  }
}
