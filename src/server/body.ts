// Reads a small JSON request body (management endpoints on either port).
import type Koa from "koa";
import { badRequest } from "../errors.js";

const MAX_JSON_BYTES = 1 << 20;

/** The parsed body, or undefined when it is empty; 400 when too large or not JSON. */
export async function readJsonBody(ctx: Koa.Context): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON_BYTES) throw badRequest("Request body too large");
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest("Malformed JSON body");
  }
}
