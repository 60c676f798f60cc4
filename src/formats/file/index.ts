// Generic file repositories: any path is a file. Hosted: PUT/POST to store, GET/HEAD, DELETE and
// folder listings; proxies cache their remotes' files; groups read their members in order.
import { notFound } from "../../errors.js";
import type { FormatPlugin, FormatRequest, OperationResult } from "../kit/contract.js";
import { listingReply, requireFilePath } from "../kit/listing.js";
import { fileConfig } from "./config.js";

/**
 * Cooldown identity of a proxied file: package = its folder ("/" for top-level files), version =
 * its file name. `releases/v1/tool.tgz` is package `releases/v1`, version `tool.tgz`.
 */
export function fileCooldownId(key: string): { name: string; version: string } {
  const slash = key.lastIndexOf("/");
  return slash < 0 ? { name: "/", version: key } : { name: key.slice(0, slash) || "/", version: key.slice(slash + 1) };
}

const baseName = (key: string) => key.slice(key.lastIndexOf("/") + 1);

/** A file, or the listing of a folder (the root, a path ending in '/', or a path that is no file). */
async function read(req: FormatRequest): Promise<OperationResult> {
  req.require("read");
  const { path } = req;
  if (path && !req.trailingSlash) {
    const file = await req.files.open(path);
    if (file) return { file };
  }
  const entries = await req.files.list(path);
  if (entries.length === 0 && path !== "") throw notFound(`'${path}' not found in repository '${req.repo.name}'`);
  return listingReply(req, path, entries);
}

async function upload(req: FormatRequest): Promise<OperationResult> {
  const { repo, storage } = await req.writeTarget();
  const key = requireFilePath(req.path);
  const existed = await storage.exists(key);
  const put = await storage.put(key, req.body);
  await req.services.artifacts.record(repo, { path: key, name: baseName(key), version: "", size: put.size, checksums: put.digests, owner: req.actor.name });
  return { status: existed ? 200 : 201, body: { path: key, size: put.size, checksums: put.digests } };
}

async function remove(req: FormatRequest): Promise<OperationResult> {
  const { repo, storage } = await req.writeTarget();
  req.require("delete");
  const key = requireFilePath(req.path);
  if (!(await storage.delete(key))) throw notFound(`'${key}' not found in repository '${repo.name}'`);
  await req.services.artifacts.forget(repo, key);
  return { status: 204 };
}

export const filePlugin: FormatPlugin = {
  format: "file",
  config: fileConfig,
  routes: [
    { method: "GET", path: "/", op: "read" },
    { method: "GET", path: "/*path", op: "read" },
    { method: ["PUT", "POST"], path: "/*path", op: "upload", write: true },
    { method: "DELETE", path: "/*path", op: "remove", write: true },
  ],
  operations: { read, upload, remove },
  layout: {
    describe: (path) => ({ name: baseName(path), version: "" }),
    isMetadata: () => false,
    cooldownId: fileCooldownId,
  },
  pullInstructions(_repo, path, baseUrl) {
    const url = `${baseUrl}/${path}`;
    return [`curl -fO ${url}`, `wget ${url}`];
  },
};
