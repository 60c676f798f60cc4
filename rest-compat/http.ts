// Request parsing helpers for the REST layer: JSON bodies and query parameters.
import type Koa from "koa";
import { badRequest } from "../src/errors.js";
import { readJsonBody } from "../src/server/body.js";

/** Reads a JSON object body. Empty body -> {} unless required. */
export async function jsonBody(ctx: Koa.Context, opts: { required?: boolean } = {}): Promise<Record<string, unknown>> {
  const parsed = await readJsonBody(ctx);
  if (parsed === undefined) {
    if (opts.required) throw badRequest("Request body must be a JSON object");
    return {};
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw badRequest("Request body must be a JSON object");
  return parsed as Record<string, unknown>;
}

/** A query parameter as a string (first value when repeated). */
export function queryString(ctx: Koa.Context, name: string): string | undefined {
  const v = ctx.query[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === "" ? undefined : s;
}

/** A non-negative integer query parameter. */
export function queryInt(ctx: Koa.Context, name: string): number | undefined {
  const s = queryString(ctx, name);
  if (s === undefined) return undefined;
  if (!/^\d{1,9}$/.test(s)) throw badRequest(`'${name}' must be a non-negative integer`);
  return Number(s);
}

/** The documented list parameters: page, size, q, sort, sort_dir. */
export function listParams(ctx: Koa.Context) {
  return {
    page: queryInt(ctx, "page"),
    size: queryInt(ctx, "size"),
    q: queryString(ctx, "q"),
    sort: queryString(ctx, "sort"),
    sortDir: queryString(ctx, "sort_dir"),
  };
}

/** The REST page envelope (section 18) of a GraphQL page, each item mapped to its REST shape. */
export function pageBody<T, U>(p: { items: T[]; page: number; size: number; total: number; hasMore: boolean }, item: (i: T) => U) {
  return { items: p.items.map(item), page: p.page, size: p.size, total: p.total, hasMore: p.hasMore };
}

/**
 * Passes a body field through as-is. Typed `never` so it fits any variable: the values are
 * checked at run time by GraphQL's variable coercion, which turns wrong types into 400s.
 */
export const field = (body: Record<string, unknown>, name: string): never => body[name] as never;

export function noContent(ctx: Koa.Context, status = 204) {
  ctx.status = status;
  ctx.body = null;
}

/** 200/201 with an empty body, as the reference documents for most writes. */
export function empty(ctx: Koa.Context, status = 200) {
  ctx.status = status;
  ctx.body = "";
}
