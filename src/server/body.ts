// Reads a small JSON request body (management endpoints on either port).
import type Koa from "koa";
import { badRequest } from "../errors.js";
import { readBounded } from "../streams.js";

const MAX_JSON_BYTES = 1 << 20;

/** The parsed body, or undefined when it is empty; 400 when too large or not JSON. */
export async function readJsonBody(ctx: Koa.Context): Promise<unknown> {
  const body = await readBounded(ctx.req, MAX_JSON_BYTES, () => badRequest("Request body too large"));
  const text = body.toString("utf8").trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest("Malformed JSON body");
  }
}
