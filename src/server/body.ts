// Reads a small JSON request body (management endpoints on either port).
import type Koa from "koa";
import { badRequest, payloadTooLarge } from "../errors.js";
import { jsonDepthExceeds, MAX_JSON_DEPTH } from "../json.js";
import { discardRequestBody, readBounded } from "../streams.js";

const MAX_JSON_BYTES = 1 << 20;

/** The parsed body, or undefined when it is empty; 413 when too large, 400 when not JSON or nested too deeply. */
export async function readJsonBody(ctx: Koa.Context): Promise<unknown> {
  const tooLarge = () => {
    // The rest of the body is drained unread (up to a bound), then the connection closes.
    ctx.set("Connection", "close");
    return payloadTooLarge(`Request body exceeds ${MAX_JSON_BYTES} bytes`);
  };
  if (Number(ctx.get("content-length") || "0") > MAX_JSON_BYTES) {
    discardRequestBody(ctx.req);
    throw tooLarge();
  }
  const body = await readBounded(ctx.req, MAX_JSON_BYTES, tooLarge);
  const text = body.toString("utf8").trim();
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badRequest("Malformed JSON body");
  }
  // Deeper documents overflow the stack of whatever walks them next (JSON.stringify, Prisma).
  if (jsonDepthExceeds(parsed)) throw badRequest(`JSON body nests deeper than ${MAX_JSON_DEPTH} levels`);
  return parsed;
}
