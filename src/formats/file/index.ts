// Generic file repositories: file (hosted: PUT/GET/HEAD/DELETE, listings),
// file-proxy (cached reads from remotes), file-group (members in order, first hit wins).
import type Koa from "koa";
import { DomainError, notFound } from "../../errors.js";
import { enforceUpstreamCooldown } from "../../cooldown/formats.js";
import type { RepositoryRecord } from "../../repositories/types.js";
import type { ListEntry, Storage, StoredObject } from "../../storage/types.js";
import { cachedFetch } from "../proxy.js";
import { listFolderUnion, MAX_GROUP_DEPTH, memberScopes } from "../scope.js";
import { requireFilePath, sendListing, sendStored } from "../http.js";
import type { FormatModule, RequestScope } from "../types.js";

/**
 * Cooldown identity of a file-proxy file: package = its directory ("/" for top-level files),
 * version = its file name. `releases/v1/tool.tgz` is package `releases/v1`, version `tool.tgz`.
 */
export function fileCooldownId(key: string): { name: string; version: string } {
  const slash = key.lastIndexOf("/");
  return slash < 0 ? { name: "/", version: key } : { name: key.slice(0, slash) || "/", version: key.slice(slash + 1) };
}

/** Finds `key` for a read through any kind of repository: the storage holding it and its stat. */
export async function locateFile(scope: RequestScope, key: string, depth = 0): Promise<{ storage: Storage; stat: StoredObject; repo: RepositoryRecord } | null> {
  const { repo, storage } = scope;
  if (repo.kind === "hosted") {
    const stat = await storage.stat(key);
    return stat ? { storage, stat, repo } : null;
  }
  if (repo.kind === "proxy") {
    // Cooldown: the upstream Last-Modified is the release date; too young -> 403 (block recorded).
    const id = fileCooldownId(key);
    await enforceUpstreamCooldown(scope, key, id.name, id.version);
    const res = await cachedFetch(scope, key, {
      onStored: async ({ size, digests, upstream }) => {
        await scope.app.artifacts.record({
          repo,
          path: key,
          name: key.slice(key.lastIndexOf("/") + 1),
          size,
          checksums: digests,
          owner: "",
          releasedAt: upstream.lastModified,
        });
      },
    });
    return res ? { storage, stat: res.stat, repo } : null;
  }
  if (depth >= MAX_GROUP_DEPTH) return null;
  for (const member of await memberScopes(scope, key)) {
    const hit = await locateFile(member, key, depth + 1).catch((err) => {
      // A cooldown refusal is the answer; one broken upstream must not hide the other members' files.
      if (err instanceof DomainError && err.code === "FORBIDDEN") throw err;
      scope.app.log.warn("group member failed", { group: repo.name, member: member.repo.name, err: (err as Error).message });
      return null;
    });
    if (hit) return hit;
  }
  return null;
}

/** Cooldown: cached files of a proxy with an active block are not listed. */
async function hideBlocked(scope: RequestScope, dir: string, entries: Map<string, ListEntry>): Promise<void> {
  if (scope.repo.kind !== "proxy") return;
  const blocked = await scope.app.cooldown.activeBlocks([scope.repo.name], fileCooldownId(dir ? `${dir}/x` : "x").name);
  for (const b of blocked) entries.delete(dir ? `${dir}/${b.version}` : b.version);
}

async function handle(ctx: Koa.Context, scope: RequestScope): Promise<void> {
  const { repo, storage, path } = scope;
  const method = ctx.method;
  if (method === "GET" || method === "HEAD") {
    scope.require("read");
    const folderRequested = path === "" || ctx.path.endsWith("/");
    if (!folderRequested) {
      if (repo.kind === "hosted" && (await sendStored(ctx, storage, path))) return;
      const hit = repo.kind === "hosted" ? null : await locateFile(scope, path);
      if (hit) {
        await sendStored(ctx, hit.storage, path, { stat: hit.stat });
        return;
      }
    }
    const entries = await listFolderUnion(scope, path, hideBlocked);
    if (entries.size === 0 && path !== "") throw notFound(`'${path}' not found in repository '${repo.name}'`);
    sendListing(ctx, scope.baseUrl, path, [...entries.values()]);
    return;
  }
  if ((method === "PUT" || method === "POST" || method === "DELETE") && repo.kind !== "hosted") {
    ctx.status = 405;
    ctx.body = { error: "METHOD_NOT_ALLOWED", message: `Repository '${repo.name}' (${repo.type}) is read-only`, status: 405 };
    return;
  }
  if (method === "PUT" || method === "POST") {
    scope.require("write");
    const key = requireFilePath(path);
    const existed = await storage.exists(key);
    const put = await storage.put(key, ctx.req);
    await scope.app.artifacts.record({
      repo,
      path: key,
      name: key.slice(key.lastIndexOf("/") + 1),
      size: put.size,
      checksums: put.digests,
      owner: scope.actor.name,
    });
    ctx.status = existed ? 200 : 201;
    ctx.body = { path: key, size: put.size, checksums: put.digests };
    return;
  }
  if (method === "DELETE") {
    scope.require("delete");
    const key = requireFilePath(path);
    if (!(await storage.delete(key))) throw notFound(`'${key}' not found in repository '${repo.name}'`);
    await scope.app.artifacts.remove(repo.name, key);
    ctx.status = 204;
    return;
  }
  ctx.status = 405;
  ctx.set("Allow", repo.kind === "hosted" ? "GET, HEAD, PUT, POST, DELETE" : "GET, HEAD");
  ctx.body = { error: "METHOD_NOT_ALLOWED", message: `${method} is not supported here`, status: 405 };
}

export const fileFormat: FormatModule = {
  format: "file",
  handle,
  pullInstructions(_repo, path, baseUrl) {
    const url = `${baseUrl}/${path}`;
    return [`curl -fO ${url}`, `wget ${url}`];
  },
  describeArtifact(_repo, path) {
    return { name: path.slice(path.lastIndexOf("/") + 1), version: "" };
  },
};
