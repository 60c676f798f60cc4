// Helpers shared by the npm and PyPI modules: bounded body reading, cluster-wide write locks,
// recording stored artifacts in the artifacts index.
import type Koa from "koa";
import type { AppContext } from "../context.js";
import { badRequest } from "../errors.js";
import type { RepositoryRecord } from "../repositories/types.js";
import type { Digests } from "../storage/types.js";
import { readBounded } from "../streams.js";

/** Reads a request body into memory up to `limit` bytes (413 beyond). */
function readRequestBody(ctx: Koa.Context, limit: number): Promise<Buffer> {
  const tooLarge = () => Object.assign(new Error(`Request body exceeds ${limit} bytes`), { status: 413, expose: true });
  if (Number(ctx.get("content-length") || "0") > limit) throw tooLarge();
  return readBounded(ctx.req, limit, tooLarge);
}

export async function readJsonBody(ctx: Koa.Context, limit: number): Promise<unknown> {
  const buf = await readRequestBody(ctx, limit);
  if (buf.length === 0) throw badRequest("Request body is empty");
  try {
    return JSON.parse(buf.toString("utf8"));
  } catch {
    throw badRequest("Request body is not valid JSON");
  }
}

/** Serialises read-modify-write sections of one package's metadata (packument, project page) across every node. */
export function withPackageLock<T>(app: AppContext, repo: RepositoryRecord, name: string, fn: () => Promise<T>): Promise<T> {
  return app.db.withLock(`${repo.format}\0${repo.name}\0${name}`, fn);
}

export interface ArtifactEntry {
  path: string;
  name: string;
  version: string;
  size: number;
  checksums: Partial<Digests> & Record<string, string>;
  owner: string;
  /** Upstream release date for proxied artifacts (npm `time`, PyPI `upload-time`). */
  releasedAt?: Date | null;
}

/** Records a stored artifact in the index (name, version, size, checksums, owner, dates). Never fails the request. */
export async function recordArtifact(app: AppContext, repo: RepositoryRecord, entry: ArtifactEntry): Promise<void> {
  try {
    await app.artifacts.record({ repo, ...entry });
  } catch (err) {
    app.log.warn("artifact index update failed", { repo: repo.name, path: entry.path, err: String(err) });
  }
}

export async function forgetArtifact(app: AppContext, repo: RepositoryRecord, path: string): Promise<void> {
  try {
    await app.artifacts.remove(repo.name, path);
  } catch (err) {
    app.log.warn("artifact index delete failed", { repo: repo.name, path, err: String(err) });
  }
}

export function sendJson(ctx: Koa.Context, status: number, body: unknown, type = "application/json"): void {
  ctx.status = status;
  ctx.type = type;
  ctx.body = JSON.stringify(body);
}
