// Reading request bodies that formats parse whole (publish documents, logins, dist-tags).
import type { Readable } from "node:stream";
import { badRequest, payloadTooLarge } from "../../errors.js";
import { readBounded } from "../../streams.js";
import type { FormatRequest } from "./contract.js";

/** The whole body, up to `limit` bytes (413 beyond, before reading when Content-Length says so). */
export function readBody(req: Pick<FormatRequest, "body" | "header">, limit: number): Promise<Buffer> {
  const tooLarge = () => payloadTooLarge(`Request body exceeds ${limit} bytes`);
  if (Number(req.header("content-length") || "0") > limit) return Promise.reject(tooLarge());
  return readBounded(req.body as Readable, limit, tooLarge);
}

/** The body parsed as JSON (400 when empty or not JSON). */
export async function readJson(req: Pick<FormatRequest, "body" | "header">, limit: number): Promise<unknown> {
  const buf = await readBody(req, limit);
  if (buf.length === 0) throw badRequest("Request body is empty");
  try {
    return JSON.parse(buf.toString("utf8"));
  } catch {
    throw badRequest("Request body is not valid JSON");
  }
}

/** Serialises read-modify-write sections of one package's metadata across every node. */
export function withPackageLock<T>(
  req: Pick<FormatRequest, "services">,
  target: { repo: { format: string; name: string } },
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  return req.services.withLock(`${target.repo.format}\0${target.repo.name}\0${name}`, fn);
}
