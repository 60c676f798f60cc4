// Turns anything thrown by a handler into the documented error body {error, message, status}.
import type Koa from "koa";
import { DomainError, ERROR_STATUS, errorBody } from "../errors.js";
import type { Logger } from "../log.js";
import { databaseUnavailable, isDatabaseUnavailable } from "../db/errors.js";
import { findStorageUnavailable } from "../storage/errors.js";

/** The one error table read backwards: the code of a plain HTTP error's status (Koa's own 4xx). */
const CODE_OF_STATUS = new Map<number, string>(Object.entries(ERROR_STATUS).map(([code, status]) => [status, code]));

/** An error's stack or message for the log (never "[object Object]"). */
function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.stack ?? cause.message;
  return typeof cause === "string" ? cause : JSON.stringify(cause);
}

export function errorHandler(log: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = errorBody("NOT_FOUND", `No route for ${ctx.method} ${ctx.path}`);
      }
    } catch (thrown) {
      // A database or storage outage is the node's state, not a bug: 503 + Retry-After, so balancers
      // and clients retry. Which one it is comes from where it was thrown (the storage's driver wraps
      // its own network failures), so a storage outage is never answered as the database's.
      const wrapped = !(thrown instanceof DomainError) || thrown.code === "INTERNAL_ERROR";
      const storage = wrapped ? findStorageUnavailable(thrown) : undefined;
      const outage = wrapped && !storage && isDatabaseUnavailable(thrown);
      if (outage) log.debug("database unavailable", { path: ctx.path, err: String(thrown) });
      if (storage) log.debug("storage unavailable", { path: ctx.path, err: storage.message });
      const err = storage ?? (outage ? databaseUnavailable() : thrown);
      if (err instanceof DomainError) {
        if (err.code === "INTERNAL_ERROR") log.error("request failed", { path: ctx.path, err: describeCause((err as { cause?: unknown }).cause ?? err) });
        ctx.status = err.status;
        ctx.body = { error: err.code, message: err.message, status: err.status };
        if (err.code === "UNAUTHORIZED") ctx.set("WWW-Authenticate", 'Bearer realm="pantera"');
        if (err.retryAfter !== undefined) ctx.set("Retry-After", String(err.retryAfter));
        return;
      }
      const status = (err as { status?: number }).status;
      if (typeof status === "number" && status >= 400 && status < 500 && (err as { expose?: boolean }).expose !== false) {
        ctx.status = status;
        ctx.body = { error: CODE_OF_STATUS.get(status) ?? "BAD_REQUEST", message: (err as Error).message, status };
        return;
      }
      log.error("unhandled error", { method: ctx.method, path: ctx.path, err: (err as Error)?.stack ?? String(err) });
      ctx.status = 500;
      ctx.body = errorBody("INTERNAL_ERROR", "Internal server error");
    }
  };
}
