// Writes to a hosted npm repository (or a group's first hosted member): publish, metadata updates
// (deprecate, unpublish of versions), unpublish of a whole package, tarball deletes, dist-tags.
// Every packument change happens under the package's cluster-wide lock and updates the search index.
import { createHash } from "node:crypto";
import { badRequest, conflict, notFound, payloadTooLarge } from "../../errors.js";
import { putLocalFile, readStoredJson } from "../../storage/types.js";
import { readJson, withPackageLock } from "../kit/body.js";
import type { FormatRequest, FormatServices, HostedTarget, Reply } from "../kit/contract.js";
import { requireRepository } from "../kit/request.js";
import { discardStaged, scanPublishBody, type ScannedPublish, type StagedAttachment } from "./publish-stream.js";
import {
  highestVersion,
  packumentKey,
  parsePublish,
  tarballFile,
  validateTag,
  versionFromTarball,
  type Json,
  type Packument,
  type ParsedPublish,
} from "./packument.js";
import { packageName, tarballKey } from "./reads.js";
import type { NpmSearchIndex } from "./search-index.js";

/** JSON of a publish body outside the tarball data (manifests, readme). */
const PUBLISH_META_LIMIT = 64 * 1024 * 1024;
/** Decoded size of one published tarball; its bytes are streamed to a staging file, never held. */
const MAX_TARBALL = 8 * 1024 * 1024 * 1024;

/** What writes need besides the request: the search index kept in line with every packument. */
export interface WriteDeps {
  index: NpmSearchIndex;
}

export const readPackument = (t: HostedTarget, name: string) => readStoredJson<Packument>(t.storage, packumentKey(name));

/** Stores `p` with a new revision and modification time, and brings its search row in line. */
export async function storePackument(deps: WriteDeps, services: FormatServices, t: HostedTarget, p: Packument): Promise<void> {
  const n = Number(String(p._rev ?? "0").split("-")[0]) || 0;
  p._rev = `${n + 1}-${createHash("md5").update(JSON.stringify(p.versions)).update(String(Date.now())).digest("hex").slice(0, 16)}`;
  p.time = { ...(p.time ?? {}), modified: new Date().toISOString() };
  await t.storage.put(packumentKey(p.name), JSON.stringify(p));
  await deps.index.indexPackument(services, t.repo, p.name, p);
}

/** PUT /<name>: `npm publish` (with attachments) or a whole-document metadata update (without). */
export async function publish(deps: WriteDeps, req: FormatRequest): Promise<Reply> {
  const name = packageName(req);
  const target = await req.writeTarget();
  if (Number(req.header("content-length") || "0") > PUBLISH_META_LIMIT + 2 * MAX_TARBALL) throw payloadTooLarge("Request body exceeds the publish limit");
  let scanned: ScannedPublish | undefined;
  try {
    scanned = await scanPublishBody(req.body, { stagingDir: req.services.tmpDir, metaLimit: PUBLISH_META_LIMIT, attachmentLimit: MAX_TARBALL });
    const body = scanned.body as Json;
    if (!body || typeof body !== "object" || Array.isArray(body)) throw badRequest("Request body must be a JSON object");
    if (!body._attachments || Object.keys(body._attachments).length === 0) return await updateMetadata(deps, req, target, name, body);
    await storePublish(deps, req, target, name, parsePublish(name, body, scanned.attachments));
  } finally {
    await discardStaged(scanned);
  }
  return { status: 201, body: { ok: true, id: name, success: true } };
}

async function storePublish(deps: WriteDeps, req: FormatRequest, target: HostedTarget, name: string, pub: ParsedPublish<StagedAttachment>): Promise<void> {
  const { actor, services } = req;
  await withPackageLock(req, target, name, async () => {
    const existing = (await readPackument(target, name)) ?? null;
    for (const v of Object.keys(pub.versions)) {
      if (existing?.versions?.[v]) throw conflict(`Cannot publish over the previously published version ${name}@${v}`);
    }
    const now = new Date().toISOString();
    const p: Packument = existing ?? { _id: name, name, "dist-tags": {}, versions: {}, time: { created: now } };
    // Tarballs first: a version appears in the packument only once its tarball is stored.
    for (const a of pub.attachments) {
      const manifest = pub.versions[a.version];
      const { sha512, digests } = a.staged;
      const sha1 = digests.sha1;
      const dist = (manifest.dist ?? {}) as Json;
      if (dist.shasum && dist.shasum !== sha1) throw badRequest(`Tarball of ${name}@${a.version} does not match dist.shasum`);
      if (typeof dist.integrity === "string" && dist.integrity.startsWith("sha512-") && dist.integrity !== `sha512-${sha512}`) {
        throw badRequest(`Tarball of ${name}@${a.version} does not match dist.integrity`);
      }
      const key = tarballKey(name, a.file);
      // The staged file is moved into place (fs) rather than copied: its digests were taken as it was written.
      const put = await putLocalFile(target.storage, key, a.staged.file, { size: a.staged.size, digests }, { expect: { sha1 } });
      manifest.dist = { ...dist, shasum: sha1, integrity: `sha512-${sha512}`, tarball: key };
      manifest._id = `${name}@${a.version}`;
      manifest._npmUser = { name: actor.name, email: actor.email ?? "" };
      p.versions[a.version] = manifest;
      p.time = { ...(p.time ?? {}), [a.version]: now };
      await services.artifacts.record(target.repo, {
        path: key,
        name,
        version: a.version,
        size: put.size,
        checksums: { ...put.digests },
        owner: actor.name,
        releasedAt: new Date(now),
      });
    }
    const unattached = Object.keys(pub.versions).filter((v) => !p.versions[v]);
    if (unattached.length) throw badRequest(`No tarball attached for version(s) ${unattached.join(", ")}`);
    const tags = Object.keys(pub.tags).length ? pub.tags : { latest: Object.keys(pub.versions)[0] };
    for (const [tag, v] of Object.entries(tags)) {
      if (!p.versions[v]) throw badRequest(`dist-tag '${tag}' points at unknown version '${v}'`);
      p["dist-tags"][tag] = v;
    }
    for (const [k, val] of Object.entries(pub.meta)) if (!k.startsWith("_")) p[k] = val;
    p.name = name;
    p._id = name;
    if (!Array.isArray(p.maintainers) || p.maintainers.length === 0) p.maintainers = [{ name: actor.name, email: actor.email ?? "" }];
    await storePackument(deps, services, target, p);
  });
}

/** PUT without attachments: deprecate / unpublish of versions / dist-tag changes on the whole document. */
async function updateMetadata(deps: WriteDeps, req: FormatRequest, target: HostedTarget, name: string, body: Json): Promise<Reply> {
  if (body.name !== undefined && body.name !== name) throw badRequest(`Package name in the body ('${body.name}') does not match the URL ('${name}')`);
  if (!body.versions || typeof body.versions !== "object") throw badRequest("Body must contain 'versions'");
  const { services } = req;
  await withPackageLock(req, target, name, async () => {
    const p = await readPackument(target, name);
    if (!p) throw notFound(`Package '${name}' not found`);
    const incoming = body.versions as Record<string, Json>;
    for (const v of Object.keys(incoming)) if (!p.versions[v]) throw badRequest(`Version '${v}' cannot be added without a tarball`);
    const removed = Object.keys(p.versions).filter((v) => !(v in incoming));
    if (removed.length) requireRepository(req.actor, target.repo.name, "delete");
    for (const v of removed) {
      delete p.versions[v];
      if (p.time) delete p.time[v];
    }
    for (const [v, m] of Object.entries(incoming)) {
      const dep = m?.deprecated;
      if (typeof dep === "string" && dep !== "") p.versions[v].deprecated = dep;
      else delete p.versions[v].deprecated;
    }
    const tags: Record<string, string> = {};
    for (const [tag, v] of Object.entries((body["dist-tags"] ?? p["dist-tags"]) as Json))
      if (typeof v === "string" && p.versions[v]) tags[validateTag(tag)] = v;
    p["dist-tags"] = tags;
    if (Object.keys(p.versions).length > 0 && !tags.latest) tags.latest = highestVersion(Object.keys(p.versions))!;
    await storePackument(deps, services, target, p);
    // Tarballs of removed versions go with them.
    for (const v of removed) {
      const key = tarballKey(name, tarballFile(name, v));
      await target.storage.delete(key);
      await services.artifacts.forget(target.repo, key);
    }
  });
  return { status: 200, body: { ok: true, id: name } };
}

/** DELETE /<name>/-rev/<rev>: `npm unpublish <name> --force`. */
export async function unpublish(deps: WriteDeps, req: FormatRequest): Promise<Reply> {
  const name = packageName(req);
  const target = await req.writeTarget();
  requireRepository(req.actor, target.repo.name, "delete");
  await withPackageLock(req, target, name, async () => {
    const p = await readPackument(target, name);
    if (!p) throw notFound(`Package '${name}' not found`);
    for (const v of Object.keys(p.versions ?? {})) await req.services.artifacts.forget(target.repo, tarballKey(name, tarballFile(name, v)));
    await target.storage.deletePrefix(`${name}/`);
    await deps.index.indexPackument(req.services, target.repo, name, null);
  });
  return { status: 200, body: { ok: true, id: name } };
}

/** DELETE /<name>/-/<file>/-rev/<rev>: the tarball of a version already taken out of the packument. */
export async function deleteTarball(req: FormatRequest): Promise<Reply> {
  const name = packageName(req);
  const file = req.params.file;
  const target = await req.writeTarget();
  requireRepository(req.actor, target.repo.name, "delete");
  await withPackageLock(req, target, name, async () => {
    const p = await readPackument(target, name);
    const version = versionFromTarball(name, file);
    if (p && version && p.versions?.[version]) throw conflict(`Version ${version} is still in the packument; unpublish it first`);
    const key = tarballKey(name, file);
    if (!(await target.storage.delete(key))) throw notFound(`Tarball '${file}' not found`);
    await req.services.artifacts.forget(target.repo, key);
  });
  return { status: 200, body: { ok: true } };
}

/** PUT|POST|DELETE /-/package/<name>/dist-tags without a tag name. */
export function distTagRequired(req: FormatRequest): never {
  packageName(req);
  throw badRequest("A dist-tag name is required");
}

/** PUT|POST /-/package/<name>/dist-tags/<tag> with a JSON string body naming the version; DELETE removes the tag. */
export async function changeDistTag(deps: WriteDeps, req: FormatRequest): Promise<Reply> {
  const name = packageName(req);
  const tag = validateTag(req.params.tag);
  const target = await req.writeTarget();
  let version: string | undefined;
  if (req.method === "DELETE") {
    if (tag === "latest") throw badRequest("The 'latest' dist-tag cannot be removed");
  } else {
    const body = await readJson(req, 64 * 1024);
    if (typeof body !== "string") throw badRequest("Body must be a JSON string naming a version");
    version = body;
  }
  const tags = await withPackageLock(req, target, name, async () => {
    const p = await readPackument(target, name);
    if (!p) throw notFound(`Package '${name}' not found`);
    if (version !== undefined) {
      if (!p.versions[version]) throw badRequest(`Version '${version}' of '${name}' does not exist`);
      p["dist-tags"][tag] = version;
    } else {
      if (!(tag in p["dist-tags"])) throw notFound(`dist-tag '${tag}' not found`);
      delete p["dist-tags"][tag];
    }
    await storePackument(deps, req.services, target, p);
    return p["dist-tags"];
  });
  return { status: req.method === "DELETE" ? 200 : 201, body: tags };
}
