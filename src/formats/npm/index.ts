// npm format module: hosted (npm), proxy (npm-proxy) and group (npm-group) registries.
//
// Storage layout (per repository):
//   <name>/package.json        hosted: the packument (tarball URLs rewritten on every read)
//                              proxy:  the upstream packument as fetched (re-checked after metadata_ttl)
//   <name>/-/<bare>-<v>.tgz    tarballs
// Names may be scoped: '@scope/pkg/package.json'.
import { createHash } from "node:crypto";
import path from "node:path";
import type Koa from "koa";
import type { Readable } from "node:stream";
import { DomainError, badRequest, conflict, notFound, unauthorized } from "../../errors.js";
import type { RepositoryRecord } from "../../repositories/types.js";
import { putLocalFile, readStoredJson } from "../../storage/types.js";
import { cooldownNotice, cooldownPackument, enforceCooldown } from "../../cooldown/formats.js";
import { cachedFetch, metadataTtlMs, readBody, upstreamFetch, UpstreamError } from "../proxy.js";
import { makeScope, MAX_GROUP_DEPTH, memberScopes } from "../scope.js";
import type { FormatModule, RequestScope } from "../types.js";
import { forgetArtifact, readJsonBody, recordArtifact, sendJson, withPackageLock } from "../package-helpers.js";
import { ensureSearchIndex, indexPackument, rebuildSearchIndex, reindexPackage, reindexPackagesUnder, searchPackages } from "./search-index.js";
import { discardStaged, scanPublishBody, type ScannedPublish, type StagedAttachment } from "./publish-stream.js";
import {
  abbreviate,
  assembleVersions,
  encodeName,
  highestVersion,
  mergePackuments,
  packageOfPackumentKey,
  packumentKey,
  parseName,
  parsePublish,
  type ParsedPublish,
  rewriteTarballs,
  tarballFile,
  upstreamTarballUrl,
  validateTag,
  versionFromTarball,
  type Json,
  type Packument,
} from "./packument.js";

const ABBREVIATED = "application/vnd.npm.install-v1+json";
/** JSON of a publish body outside the tarball data (manifests, readme). */
const PUBLISH_META_LIMIT = 64 * 1024 * 1024;
/** Decoded size of one published tarball; its bytes are streamed to a staging file, never held. */
const MAX_TARBALL = 8 * 1024 * 1024 * 1024;
/** Tarballs up to this size that the storage did not hand over whole (`data`) are collected and sent as one buffer (fewer event-loop turns than a file stream). */
const SMALL_TARBALL = 256 * 1024;

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

// ---- request routing (pure) -----------------------------------------------------------

export type NpmRoute =
  | { kind: "whoami" }
  | { kind: "login"; user: string }
  | { kind: "logout"; token: string }
  | { kind: "weblogin" }
  | { kind: "search" }
  | { kind: "distTags"; name: string; tag?: string }
  | { kind: "packument"; name: string; rev?: string }
  | { kind: "version"; name: string; spec: string }
  | { kind: "tarball"; name: string; file: string; rev?: string }
  | { kind: "unknown" };

/** Maps a decoded repository-relative path to an npm registry endpoint. */
export function parseRoute(path: string): NpmRoute {
  const seg = path.split("/").filter(Boolean);
  if (seg.length === 0) return { kind: "unknown" };
  if (seg[0] === "-") {
    const rest = seg.slice(1);
    if (rest.length === 1 && rest[0] === "whoami") return { kind: "whoami" };
    if (rest.length === 2 && rest[0] === "v1" && rest[1] === "search") return { kind: "search" };
    if (rest.length >= 2 && rest[0] === "v1" && rest[1] === "login") return { kind: "weblogin" };
    if (rest.length === 2 && rest[0] === "user" && rest[1].startsWith("org.couchdb.user:")) return { kind: "login", user: rest[1].slice("org.couchdb.user:".length) };
    if (rest.length === 3 && rest[0] === "user" && rest[1] === "token") return { kind: "logout", token: rest[2] };
    if (rest[0] === "package") {
      const at = rest[1]?.startsWith("@") ? 3 : 2;
      const name = rest.slice(1, at).join("/");
      if (rest[at] === "dist-tags" && rest.length <= at + 2) return { kind: "distTags", name, tag: rest[at + 1] };
    }
    return { kind: "unknown" };
  }
  const at = seg[0].startsWith("@") ? 2 : 1;
  if (seg.length < at) return { kind: "unknown" };
  const name = seg.slice(0, at).join("/");
  const rest = seg.slice(at);
  if (rest.length === 0) return { kind: "packument", name };
  if (rest[0] === "-rev" && rest.length === 2) return { kind: "packument", name, rev: rest[1] };
  if (rest[0] === "-" && rest.length === 2) return { kind: "tarball", name, file: rest[1] };
  if (rest[0] === "-" && rest.length === 4 && rest[2] === "-rev") return { kind: "tarball", name, file: rest[1], rev: rest[3] };
  if (rest.length === 1) return { kind: "version", name, spec: rest[0] };
  return { kind: "unknown" };
}

// ---- reading packuments and tarballs from one repository (any kind) ---------------------

const tarballKey = (name: string, file: string) => `${name}/-/${file}`;

const readStoredPackument = (scope: RequestScope, key: string) => readStoredJson<Packument>(scope.storage, key);

/** The packument of `name` in this repository (group: merged), tarball URLs as stored; null when absent. */
export async function readPackument(scope: RequestScope, name: string, depth = 0): Promise<Packument | null> {
  const { repo } = scope;
  if (repo.kind === "hosted") return readStoredPackument(scope, packumentKey(name));
  if (repo.kind === "proxy") return cooldownPackument(scope, name, await readProxyPackument(scope, name));
  if (depth > MAX_GROUP_DEPTH) return null;
  const parts: Packument[] = [];
  let failure: unknown = null;
  const members = await memberScopes(scope, scope.path);
  const results = await Promise.allSettled(members.filter((m) => m.repo.format === "npm").map((m) => readPackument(m, name, depth + 1).then((p) => (p ? rewriteTarballs(p, scope.baseUrl) : null))));
  for (const r of results) {
    if (r.status === "fulfilled") {
      if (r.value) parts.push(r.value);
    } else failure = r.reason;
  }
  if (parts.length === 0 && failure) throw failure;
  return mergePackuments(parts);
}

async function readProxyPackument(scope: RequestScope, name: string): Promise<Packument | null> {
  const key = packumentKey(name);
  const res = await cachedFetch(scope, key, {
    remotePath: encodeName(name),
    maxAgeMs: metadataTtlMs(scope.repo),
    headers: { accept: "application/json" },
    transform: async (body, up) => {
      const buf = await readBody({ ...up, body });
      try {
        const doc = JSON.parse(buf.toString("utf8"));
        if (!doc || typeof doc !== "object" || typeof doc.versions !== "object") throw new Error("no versions");
      } catch (err) {
        throw new UpstreamError(502, `Upstream packument for '${name}' is not valid: ${(err as Error).message}`);
      }
      return buf;
    },
  });
  if (!res) return null;
  return readStoredPackument(scope, key);
}

interface TarballHit {
  stream: Readable;
  size: number;
  /** The whole tarball when the storage driver holds it in memory (GetResult.data). */
  data?: Buffer;
}

/** A tarball from this repository (group: first member that has it). */
export async function readTarball(scope: RequestScope, name: string, file: string, depth = 0): Promise<TarballHit | null> {
  const { repo, storage } = scope;
  const key = tarballKey(name, file);
  if (repo.kind === "hosted") return storage.get(key);
  if (repo.kind === "proxy") {
    const existing = await storage.get(key);
    if (existing) return existing;
    // Where the upstream keeps it: the URL in the cached packument, else the conventional layout.
    const packument = await readProxyPackument(scope, name).catch(() => null);
    const version = versionFromTarball(name, file);
    await enforceCooldown(scope, name, version, version ? packument?.time?.[version] : null);
    const remotePath = upstreamTarballUrl(packument, file) ?? `${encodeName(name)}/-/${encodeURIComponent(file)}`;
    const got = await cachedFetch(scope, key, {
      remotePath,
      onStored: async ({ size, digests }) => {
        const t = version ? packument?.time?.[version] : undefined;
        await recordArtifact(scope.app, repo, {
          path: key,
          name,
          version: version ?? "",
          size,
          checksums: { ...digests },
          owner: "",
          releasedAt: t && !Number.isNaN(Date.parse(t)) ? new Date(t) : null,
        });
      },
    });
    if (!got) return null;
    return storage.get(key);
  }
  if (depth > MAX_GROUP_DEPTH) return null;
  let failure: unknown = null;
  for (const m of await memberScopes(scope, scope.path)) {
    if (m.repo.format !== "npm") continue;
    try {
      const hit = await readTarball(m, name, file, depth + 1);
      if (hit) return hit;
    } catch (err) {
      failure = err;
    }
  }
  if (failure) throw failure;
  return null;
}

/** The packument as clients see it: version list assembled, tarballs on this server. */
export async function servedPackument(scope: RequestScope, name: string): Promise<Packument | null> {
  const raw = await readPackument(scope, name);
  if (!raw) return null;
  const assembled = assembleVersions(raw);
  if (Object.keys(assembled.versions).length === 0 && scope.repo.kind !== "hosted") return null;
  const out = rewriteTarballs(assembled, scope.baseUrl);
  out._id = name;
  return out;
}

// ---- hosted writes ------------------------------------------------------------------------

/** The hosted repository that takes writes: the repository itself, or a group's first hosted member. */
async function writeTarget(scope: RequestScope): Promise<RequestScope> {
  scope.require("write");
  if (scope.repo.kind === "hosted") return scope;
  if (scope.repo.kind === "group") {
    for (const m of await memberScopes(scope, scope.path)) {
      if (m.repo.format === "npm" && m.repo.kind === "hosted") {
        const target = makeScope(scope.app, m.repo, m.storage, scope.actor, scope.path, scope.baseUrl);
        target.require("write");
        return target;
      }
    }
  }
  throw Object.assign(new Error(`Repository '${scope.repo.name}' (${scope.repo.type}) does not accept publishing`), { status: 405, expose: true });
}

async function storePackument(scope: RequestScope, p: Packument): Promise<void> {
  const n = Number(String(p._rev ?? "0").split("-")[0]) || 0;
  p._rev = `${n + 1}-${createHash("md5").update(JSON.stringify(p.versions)).update(String(Date.now())).digest("hex").slice(0, 16)}`;
  p.time = { ...(p.time ?? {}), modified: new Date().toISOString() };
  await scope.storage.put(packumentKey(p.name), JSON.stringify(p));
  await indexPackument(scope.app, scope.repo, p.name, p);
}

async function publish(ctx: Koa.Context, scope: RequestScope, name: string): Promise<void> {
  const target = await writeTarget(scope);
  const declared = Number(ctx.get("content-length") || "0");
  if (declared > PUBLISH_META_LIMIT + 2 * MAX_TARBALL) throw Object.assign(new Error(`Request body exceeds the publish limit`), { status: 413, expose: true });
  let scanned: ScannedPublish | undefined;
  try {
    scanned = await scanPublishBody(ctx.req, {
      stagingDir: path.join(scope.app.config.dataDir, "tmp"),
      metaLimit: PUBLISH_META_LIMIT,
      attachmentLimit: MAX_TARBALL,
    });
    const body = scanned.body as Json;
    if (!body || typeof body !== "object" || Array.isArray(body)) throw badRequest("Request body must be a JSON object");
    if (!body._attachments || Object.keys(body._attachments).length === 0) return await updateMetadata(ctx, target, name, body);
    await storePublish(scope, target, name, parsePublish(name, body, scanned.attachments));
  } finally {
    await discardStaged(scanned);
  }
  sendJson(ctx, 201, { ok: true, id: name, success: true });
}

async function storePublish(scope: RequestScope, target: RequestScope, name: string, pub: ParsedPublish<StagedAttachment>): Promise<void> {
  await withPackageLock(target.app, target.repo, name, async () => {
    const existing = (await readStoredPackument(target, packumentKey(name))) ?? null;
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
      manifest._npmUser = { name: scope.actor.name, email: scope.actor.email ?? "" };
      p.versions[a.version] = manifest;
      p.time = { ...(p.time ?? {}), [a.version]: now };
      await recordArtifact(scope.app, target.repo, {
        path: key,
        name,
        version: a.version,
        size: put.size,
        checksums: { ...put.digests },
        owner: scope.actor.name,
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
    if (!Array.isArray(p.maintainers) || p.maintainers.length === 0) p.maintainers = [{ name: scope.actor.name, email: scope.actor.email ?? "" }];
    await storePackument(target, p);
  });
}

/** PUT without attachments: deprecate / unpublish of versions / dist-tag changes on the whole document. */
async function updateMetadata(ctx: Koa.Context, target: RequestScope, name: string, body: Json): Promise<void> {
  if (body.name !== undefined && body.name !== name) throw badRequest(`Package name in the body ('${body.name}') does not match the URL ('${name}')`);
  if (!body.versions || typeof body.versions !== "object") throw badRequest("Body must contain 'versions'");
  await withPackageLock(target.app, target.repo, name, async () => {
    const p = await readStoredPackument(target, packumentKey(name));
    if (!p) throw notFound(`Package '${name}' not found`);
    const incoming = body.versions as Record<string, Json>;
    for (const v of Object.keys(incoming)) if (!p.versions[v]) throw badRequest(`Version '${v}' cannot be added without a tarball`);
    const removed = Object.keys(p.versions).filter((v) => !(v in incoming));
    if (removed.length) target.require("delete");
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
    for (const [tag, v] of Object.entries((body["dist-tags"] ?? p["dist-tags"]) as Json)) if (typeof v === "string" && p.versions[v]) tags[validateTag(tag)] = v;
    p["dist-tags"] = tags;
    if (Object.keys(p.versions).length > 0 && !tags.latest) tags.latest = highestVersion(Object.keys(p.versions))!;
    await storePackument(target, p);
    // Tarballs of removed versions go with them.
    for (const v of removed) {
      const key = tarballKey(name, tarballFile(name, v));
      await target.storage.delete(key);
      await forgetArtifact(target.app, target.repo, key);
    }
  });
  sendJson(ctx, 200, { ok: true, id: name });
}

async function unpublishAll(ctx: Koa.Context, scope: RequestScope, name: string): Promise<void> {
  const target = await writeTarget(scope);
  target.require("delete");
  await withPackageLock(target.app, target.repo, name, async () => {
    const p = await readStoredPackument(target, packumentKey(name));
    if (!p) throw notFound(`Package '${name}' not found`);
    for (const v of Object.keys(p.versions ?? {})) await forgetArtifact(target.app, target.repo, tarballKey(name, tarballFile(name, v)));
    await target.storage.deletePrefix(`${name}/`);
    await indexPackument(target.app, target.repo, name, null);
  });
  sendJson(ctx, 200, { ok: true, id: name });
}

async function deleteTarball(ctx: Koa.Context, scope: RequestScope, name: string, file: string): Promise<void> {
  const target = await writeTarget(scope);
  target.require("delete");
  await withPackageLock(target.app, target.repo, name, async () => {
    const p = await readStoredPackument(target, packumentKey(name));
    const version = versionFromTarball(name, file);
    if (p && version && p.versions?.[version]) throw conflict(`Version ${version} is still in the packument; unpublish it first`);
    const key = tarballKey(name, file);
    if (!(await target.storage.delete(key))) throw notFound(`Tarball '${file}' not found`);
    await forgetArtifact(target.app, target.repo, key);
  });
  sendJson(ctx, 200, { ok: true });
}

async function distTags(ctx: Koa.Context, scope: RequestScope, name: string, tag: string | undefined): Promise<void> {
  parseName(name);
  if (ctx.method === "GET" && !tag) {
    scope.require("read");
    const p = await servedPackument(scope, name);
    if (!p) throw notFound(`Package '${name}' not found`);
    return sendJson(ctx, 200, p["dist-tags"]);
  }
  if (!tag) throw badRequest("A dist-tag name is required");
  validateTag(tag);
  const target = await writeTarget(scope);
  let version: string | undefined;
  if (ctx.method === "PUT" || ctx.method === "POST") {
    const body = await readJsonBody(ctx, 64 * 1024);
    if (typeof body !== "string") throw badRequest("Body must be a JSON string naming a version");
    version = body;
  } else if (ctx.method === "DELETE") {
    if (tag === "latest") throw badRequest("The 'latest' dist-tag cannot be removed");
  } else throw Object.assign(new Error("Method not allowed"), { status: 405, expose: true });
  const tags = await withPackageLock(target.app, target.repo, name, async () => {
    const p = await readStoredPackument(target, packumentKey(name));
    if (!p) throw notFound(`Package '${name}' not found`);
    if (version !== undefined) {
      if (!p.versions[version]) throw badRequest(`Version '${version}' of '${name}' does not exist`);
      p["dist-tags"][tag] = version;
    } else {
      if (!(tag in p["dist-tags"])) throw notFound(`dist-tag '${tag}' not found`);
      delete p["dist-tags"][tag];
    }
    await storePackument(target, p);
    return p["dist-tags"];
  });
  sendJson(ctx, ctx.method === "DELETE" ? 200 : 201, tags);
}

// ---- auth endpoints ------------------------------------------------------------------------

async function login(ctx: Koa.Context, scope: RequestScope, user: string): Promise<void> {
  if (ctx.method !== "PUT") throw Object.assign(new Error("Method not allowed"), { status: 405, expose: true });
  const body = (await readJsonBody(ctx, 64 * 1024)) as Json;
  const name = typeof body?.name === "string" ? body.name : user;
  const password = body?.password;
  if (typeof password !== "string" || !password) throw badRequest("'password' is required");
  if (name !== user) throw badRequest("User name in the body does not match the URL");
  let principal;
  try {
    principal = await scope.app.auth.authenticateBasic(name, password, { ip: ctx.ip });
  } catch (err) {
    if (err instanceof DomainError && err.code === "TOO_MANY_REQUESTS") throw err;
    throw unauthorized("Invalid user name or password; users are created through the management API");
  }
  const token = await scope.app.auth.generateApiToken(principal, `npm login (${scope.repo.name})`, null);
  sendJson(ctx, 201, { ok: true, id: `org.couchdb.user:${name}`, rev: "1", token: token.token });
}

async function logout(ctx: Koa.Context, scope: RequestScope, token: string): Promise<void> {
  if (ctx.method !== "DELETE") throw Object.assign(new Error("Method not allowed"), { status: 405, expose: true });
  if (scope.actor.via === "anonymous") throw unauthorized();
  // API tokens carry their id as `jti`; revoke it when the token is the caller's own.
  try {
    const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"));
    if (claims?.type === "api" && typeof claims.jti === "string") await scope.app.auth.revokeApiToken(scope.actor, claims.jti);
  } catch {
    /* not one of ours or already revoked: nothing to do */
  }
  sendJson(ctx, 200, { ok: true });
}

// ---- search --------------------------------------------------------------------------------

interface SearchHit {
  package: Json;
  score: Json;
  searchScore: number;
}

interface SearchResult {
  hits: SearchHit[];
  /** How many packages match in all (hits holds at most the limit asked for). */
  total: number;
}

const MAX_SEARCH_OFFSET = 5000;

async function searchRepo(scope: RequestScope, text: string, limit: number, depth = 0): Promise<SearchResult> {
  const { repo } = scope;
  if (repo.kind === "proxy") {
    const remote = repo.remotes[0];
    if (!remote) return { hits: [], total: 0 };
    const res = await upstreamFetch(scope.app, remote, `-/v1/search?text=${encodeURIComponent(text)}&size=${limit}`, { headers: { accept: "application/json" } });
    if (res.status !== 200) {
      res.body?.destroy();
      return { hits: [], total: 0 };
    }
    try {
      const doc = JSON.parse((await readBody(res, 16 * 1024 * 1024)).toString("utf8"));
      const hits = (Array.isArray(doc?.objects) ? doc.objects : []) as SearchHit[];
      return { hits, total: typeof doc?.total === "number" ? Math.max(doc.total, hits.length) : hits.length };
    } catch {
      return { hits: [], total: 0 };
    }
  }
  if (repo.kind === "group") {
    if (depth > MAX_GROUP_DEPTH) return { hits: [], total: 0 };
    const members = (await memberScopes(scope, scope.path)).filter((m) => m.repo.format === "npm");
    const parts = await Promise.all(members.map((m) => searchRepo(m, text, limit, depth + 1).catch(() => ({ hits: [], total: 0 }))));
    return { hits: parts.flatMap((r) => r.hits), total: parts.reduce((n, r) => n + r.total, 0) };
  }
  await ensureSearchIndex(scope.app, repo, scope.storage);
  const { hits, total } = await searchPackages(scope.app, repo.name, text, limit);
  return {
    total,
    hits: hits.map((h) => ({
      package: {
        name: h.name,
        version: h.version,
        description: h.description,
        keywords: h.keywords,
        date: h.publishedAt?.toISOString(),
        links: { npm: `${scope.baseUrl}/${encodeName(h.name)}` },
        publisher: h.publisher ?? undefined,
        maintainers: h.maintainers,
      },
      score: { final: h.score, detail: { quality: 1, popularity: 1, maintenance: 1 } },
      searchScore: h.score,
    })),
  };
}

async function search(ctx: Koa.Context, scope: RequestScope): Promise<void> {
  scope.require("read");
  const text = String(ctx.query.text ?? "");
  const size = Math.min(250, Math.max(1, Math.floor(Number(ctx.query.size ?? 20)) || 20));
  const from = Math.max(0, Math.floor(Number(ctx.query.from ?? 0)) || 0);
  // Paging deeper than this is not browsing: members are never asked for more, and pages past it are empty.
  const { hits: all, total } = await searchRepo(scope, text, Math.min(from, MAX_SEARCH_OFFSET) + size);
  const seen = new Set<string>();
  const unique = all.filter((h) => {
    const n = h.package?.name;
    if (typeof n !== "string" || seen.has(n)) return false;
    seen.add(n);
    return true;
  });
  unique.sort((a, b) => (b.searchScore ?? 0) - (a.searchScore ?? 0));
  // A package found in several group members counts once (exact while no member hit the limit).
  const matched = Math.max(unique.length, total - (all.length - unique.length));
  sendJson(ctx, 200, { objects: from > MAX_SEARCH_OFFSET ? [] : unique.slice(from, from + size), total: matched, time: new Date().toUTCString() });
}

// ---- the module ----------------------------------------------------------------------------

async function servePackument(ctx: Koa.Context, scope: RequestScope, name: string): Promise<void> {
  scope.require("read");
  const p = await servedPackument(scope, name);
  if (!p) throw notFound(`Package '${name}' not found`);
  await cooldownNotice(ctx, scope, name);
  const accept = ctx.get("accept");
  // npm install sends "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*".
  const wantsAbbreviated = accept.includes(ABBREVIATED) && ctx.query.write !== "true";
  if (wantsAbbreviated) return sendJson(ctx, 200, abbreviate(p), ABBREVIATED);
  sendJson(ctx, 200, p);
}

async function handle(ctx: Koa.Context, scope: RequestScope): Promise<void> {
  const route = parseRoute(scope.path);
  const m = ctx.method;
  switch (route.kind) {
    case "whoami":
      if (scope.actor.via === "anonymous") throw unauthorized();
      return sendJson(ctx, 200, { username: scope.actor.name });
    case "login":
      return login(ctx, scope, route.user);
    case "logout":
      return logout(ctx, scope, route.token);
    case "weblogin":
      // No web login flow: the client falls back to user/password (couch) login.
      ctx.status = 404;
      ctx.body = { error: "NOT_FOUND", message: "Web login is not supported; use --auth-type=legacy", status: 404 };
      return;
    case "search":
      return search(ctx, scope);
    case "distTags":
      return distTags(ctx, scope, route.name, route.tag);
    case "packument":
      parseName(route.name);
      if (m === "GET" || m === "HEAD") return servePackument(ctx, scope, route.name);
      if (m === "PUT") return publish(ctx, scope, route.name);
      if (m === "DELETE") return unpublishAll(ctx, scope, route.name);
      break;
    case "version": {
      parseName(route.name);
      if (m !== "GET" && m !== "HEAD") break;
      scope.require("read");
      const p = await servedPackument(scope, route.name);
      const v = p ? (p["dist-tags"][route.spec] ?? route.spec) : undefined;
      if (!p || !v || !p.versions[v]) throw notFound(`Version '${route.spec}' of '${route.name}' not found`);
      return sendJson(ctx, 200, p.versions[v]);
    }
    case "tarball": {
      parseName(route.name);
      if (!route.file || route.file.includes("/")) throw badRequest("Invalid tarball file name");
      if (m === "DELETE") return deleteTarball(ctx, scope, route.name, route.file);
      if (m !== "GET" && m !== "HEAD") break;
      scope.require("read");
      const hit = await readTarball(scope, route.name, route.file);
      if (!hit) throw notFound(`Tarball '${route.file}' of '${route.name}' not found`);
      ctx.status = 200;
      ctx.type = "application/octet-stream";
      ctx.length = hit.size;
      if (m === "HEAD") {
        hit.stream.destroy();
        return;
      }
      ctx.body = hit.data ?? (hit.size <= SMALL_TARBALL ? await collect(hit.stream) : hit.stream);
      return;
    }
    case "unknown":
      throw notFound(`No npm endpoint at '/${scope.path}'`);
  }
  throw Object.assign(new Error(`Method ${m} not allowed here`), { status: 405, expose: true });
}

function pullInstructions(repo: RepositoryRecord, path: string, baseUrl: string): string[] {
  const route = parseRoute(path);
  const name = route.kind === "packument" || route.kind === "tarball" || route.kind === "version" ? route.name : path.split("/-/")[0];
  const version = route.kind === "tarball" ? versionFromTarball(route.name, route.file) : route.kind === "version" ? route.spec : null;
  return [`npm install ${name}${version ? "@" + version : ""} --registry ${baseUrl}/`];
}

/** `<name>/-/<file>.tgz` → name and version; packuments and anything else are not artifacts. */
function describeArtifact(_repo: RepositoryRecord, path: string): { name: string; version: string } | null {
  const route = parseRoute(path);
  if (route.kind !== "tarball" || route.rev) return null;
  try {
    const version = versionFromTarball(route.name, route.file);
    return version ? { name: route.name, version } : null;
  } catch {
    return null;
  }
}

/** A tarball deleted through the management API takes its version out of the hosted packument. */
async function afterDelete(info: Parameters<NonNullable<FormatModule["afterDelete"]>>[0]): Promise<void> {
  if (info.repo.kind !== "hosted") return;
  if (info.folder) return reindexPackagesUnder(info.app, info.repo, info.storage, info.path);
  const packument = packageOfPackumentKey(info.path);
  if (packument) return reindexPackage(info.app, info.repo, info.storage, packument);
  const described = describeArtifact(info.repo, info.path);
  if (!described) return;
  const { name, version } = described;
  const scope = makeScope(info.app, info.repo, info.storage, await info.app.auth.anonymous(), info.path, "");
  await withPackageLock(info.app, info.repo, name, async () => {
    const p = await readStoredPackument(scope, packumentKey(name));
    if (!p?.versions?.[version]) return;
    delete p.versions[version];
    if (p.time) delete p.time[version];
    if (Object.keys(p.versions).length === 0) {
      await info.storage.delete(packumentKey(name));
      await indexPackument(info.app, info.repo, name, null);
      return;
    }
    for (const [tag, v] of Object.entries(p["dist-tags"] ?? {})) if (v === version) delete p["dist-tags"][tag];
    if (!p["dist-tags"].latest) p["dist-tags"].latest = highestVersion(Object.keys(p.versions))!;
    await storePackument(scope, p);
  });
}

/** An imported packument (metadata-only import of a hosted repository) becomes searchable. */
async function afterImport(info: Parameters<NonNullable<FormatModule["afterImport"]>>[0]): Promise<void> {
  const name = info.repo.kind === "hosted" ? packageOfPackumentKey(info.path) : null;
  if (name) await reindexPackage(info.app, info.repo, info.storage, name);
}

async function reindex(info: Parameters<NonNullable<FormatModule["reindex"]>>[0]): Promise<void> {
  if (info.repo.kind === "hosted") await rebuildSearchIndex(info.app, info.repo, info.storage);
}

export const npmFormat: FormatModule = { format: "npm", handle, pullInstructions, describeArtifact, afterDelete, afterImport, reindex };

