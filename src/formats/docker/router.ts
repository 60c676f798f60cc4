// The OCI distribution API on the repository port: /v2/<repo>/<image>/... for docker,
// docker-proxy and docker-group repositories, plus /v2/ (version check), /v2/_catalog
// and /v2/token (the Bearer token endpoint docker clients call after a 401 challenge).
import type Koa from "koa";
import type { Readable } from "node:stream";
import type { Principal, RepositoryAction } from "../../auth/permissions.js";
import { DomainError } from "../../errors.js";
import type { RepositoryRecord } from "../../repositories/types.js";
import { parseDigest, requireDigest } from "./digest.js";
import { OciError, ociError } from "./errors.js";
import { DATABASE_RETRY_AFTER, isDatabaseUnavailable } from "../../db/errors.js";
import { MAX_MANIFEST_BYTES, MEDIA } from "./manifest.js";
import { isValidReference, parseV2Path, type V2Route } from "./names.js";
import { bearerChallenge, linkHeader, paginate, parsePageSize, parseContentRange, parseScopes, uploadRange } from "./protocol.js";
import { resolveRepository, type DockerEnv, type PullSource } from "./sources.js";
import { DockerStore, readAll } from "./store.js";

export const SERVICE = "pantera";
/** The token handed to anonymous token requests; it authenticates as the anonymous principal. */
export const ANONYMOUS_TOKEN = "anonymous";

export interface AuthPort {
  authenticateHeader(header: string | undefined, opts?: { ip?: string }): Promise<{ actor: Principal | null; error?: Error }>;
  authenticateBasic(name: string, secret: string, opts?: { ip?: string }): Promise<Principal>;
  anonymous(): Promise<Principal>;
  issueAccessToken(user: { id: string; name: string }): Promise<{ token: string; expiresIn: number }>;
}

type Ctx = Koa.Context;
type RepoRoute = Exclude<V2Route, { kind: "base" } | { kind: "catalog" } | { kind: "token" }>;

const baseUrl = (ctx: Ctx) => `${ctx.protocol}://${ctx.host}`;

function ociHeaders(ctx: Ctx) {
  ctx.set("Docker-Distribution-API-Version", "registry/2.0");
}

function sendError(ctx: Ctx, err: OciError) {
  ctx.status = err.status;
  ctx.type = "application/json";
  ctx.body = err.body();
}

function challenge(ctx: Ctx, scope?: string) {
  ctx.set("WWW-Authenticate", bearerChallenge(`${baseUrl(ctx)}/v2/token`, SERVICE, scope));
}

const hasBody = (ctx: Ctx) => {
  const len = ctx.get("content-length");
  if (len) return Number(len) > 0;
  return !!ctx.get("transfer-encoding");
};

function query(ctx: Ctx, name: string): string | undefined {
  const v = ctx.query[name];
  return Array.isArray(v) ? v[0] : v;
}

export function createOciMiddleware(env: DockerEnv, auth: AuthPort): Koa.Middleware {
  async function actorOf(ctx: Ctx): Promise<Principal> {
    const header = ctx.get("authorization");
    if (!header) return auth.anonymous();
    if (/^bearer\s+/i.test(header) && header.replace(/^bearer\s+/i, "").trim() === ANONYMOUS_TOKEN) return auth.anonymous();
    const res = await auth.authenticateHeader(header, { ip: ctx.ip });
    if (res.error instanceof DomainError && res.error.code === "TOO_MANY_REQUESTS") throw res.error;
    if (!res.actor) throw ociError("UNAUTHORIZED", res.error?.message ?? "Invalid credentials");
    return res.actor;
  }

  function check(ctx: Ctx, actor: Principal, repo: string, image: string, action: RepositoryAction) {
    if (actor.permissions.allowsRepository(repo, action)) return;
    const scopeAction = action === "read" ? "pull" : action === "write" ? "pull,push" : "delete";
    if (actor.via === "anonymous") {
      challenge(ctx, `repository:${repo}/${image}:${scopeAction}`);
      throw ociError("UNAUTHORIZED", "Authentication required", [{ Type: "repository", Name: `${repo}/${image}`, Action: scopeAction }]);
    }
    throw ociError("DENIED", `'${actor.name}' may not ${action} repository '${repo}'`);
  }

  async function repository(name: string): Promise<RepositoryRecord> {
    const repo = await env.findRepository(name);
    if (!repo || repo.format !== "docker") throw ociError("NAME_UNKNOWN", `Repository '${name}' is not a docker repository`, { name });
    return repo;
  }

  // ---- endpoints ---------------------------------------------------------

  async function token(ctx: Ctx) {
    const header = ctx.get("authorization");
    let actor: Principal | null = null;
    if (header) {
      const m = /^basic\s+(.+)$/i.exec(header);
      if (!m) throw ociError("UNAUTHORIZED", "The token endpoint takes HTTP Basic credentials");
      const decoded = Buffer.from(m[1], "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0) throw ociError("UNAUTHORIZED", "Malformed Basic credentials");
      try {
        actor = await auth.authenticateBasic(decoded.slice(0, colon), decoded.slice(colon + 1), { ip: ctx.ip });
      } catch (err) {
        if (err instanceof DomainError && err.code === "TOO_MANY_REQUESTS") throw err;
        ctx.set("WWW-Authenticate", `Basic realm="${SERVICE}"`);
        throw ociError("UNAUTHORIZED", (err as Error).message || "Invalid credentials");
      }
    }
    const scopes = parseScopes(([] as string[]).concat(ctx.query.scope ?? []));
    const issued = new Date().toISOString();
    if (!actor) {
      ctx.body = { token: ANONYMOUS_TOKEN, access_token: ANONYMOUS_TOKEN, expires_in: 300, issued_at: issued, scope: scopes };
      return;
    }
    const t = await auth.issueAccessToken({ id: actor.userId, name: actor.name });
    ctx.body = { token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: issued };
  }

  async function catalog(ctx: Ctx, actor: Principal) {
    const n = parsePageSize(query(ctx, "n"));
    const last = query(ctx, "last");
    const names: string[] = [];
    for (const repo of await env.allRepositories()) {
      if (repo.format !== "docker" || repo.kind === "group") continue;
      if (!actor.permissions.allowsRepository(repo.name, "read")) continue;
      const store = new DockerStore(await env.storageFor(repo));
      for (const image of await store.images()) names.push(`${repo.name}/${image}`);
    }
    const page = paginate(names, n, last);
    if (page.next !== undefined && n !== undefined) ctx.set("Link", linkHeader("/v2/_catalog", n, page.next));
    ctx.body = { repositories: page.items };
  }

  async function manifests(ctx: Ctx, r: Extract<RepoRoute, { kind: "manifest" }>, actor: Principal, repo: RepositoryRecord) {
    const method = ctx.method;
    if (!isValidReference(r.reference)) {
      // A malformed digest is a bad request; a name that cannot be a tag names no manifest
      // (pulls and deletes: 404 MANIFEST_UNKNOWN, as the conformance suite expects), and a
      // push cannot create it (400 TAG_INVALID).
      if (r.reference.includes(":")) throw ociError("DIGEST_INVALID", `Invalid digest '${r.reference}'`, { digest: r.reference });
      if (method === "PUT") throw ociError("TAG_INVALID", `Invalid tag '${r.reference}'`, { tag: r.reference });
      throw ociError("MANIFEST_UNKNOWN", `Manifest '${r.reference}' of '${r.image}' is unknown`, { name: r.image, reference: r.reference });
    }
    if (method === "GET" || method === "HEAD") {
      const { source } = await resolveRepository(env, repo);
      const m = await source.manifest(r.image, r.reference);
      if (!m) throw ociError("MANIFEST_UNKNOWN", `Manifest '${r.reference}' of '${r.image}' is unknown`, { name: r.image, reference: r.reference });
      ctx.status = 200;
      ctx.set("Docker-Content-Digest", m.digest);
      ctx.set("ETag", `"${m.digest}"`);
      ctx.type = m.mediaType;
      ctx.length = m.body.length;
      if (method === "GET") ctx.body = m.body;
      return;
    }
    if (method === "PUT") {
      const { hosted, hostedRepo } = await writable(repo);
      const body = await readAll(ctx.req, MAX_MANIFEST_BYTES);
      const { digest, parsed } = await hosted.putManifest(r.image, r.reference, body, ctx.get("content-type"), { verifyBlobs: true });
      if (!parseDigest(r.reference)) {
        const size = body.length + parsed.blobs.reduce((n, b) => n + b.size, 0) + parsed.manifests.reduce((n, m) => n + m.size, 0);
        await env.recordArtifact({
          repo: hostedRepo,
          path: `${r.image}/_manifests/tags/${r.reference}`,
          name: r.image,
          version: r.reference,
          size,
          owner: actor.name,
          checksums: { sha256: digest.replace(/^sha256:/, "") },
        });
      }
      ctx.status = 201;
      ctx.set("Location", `/v2/${repo.name}/${r.image}/manifests/${digest}`);
      ctx.set("Docker-Content-Digest", digest);
      if (parsed.subject) ctx.set("OCI-Subject", parsed.subject.digest);
      ctx.body = "";
      return;
    }
    if (method === "DELETE") {
      const { hosted, hostedRepo } = await writable(repo);
      const removedTags = await hosted.deleteManifest(r.image, r.reference);
      if (!removedTags) {
        throw ociError("MANIFEST_UNKNOWN", `Manifest '${r.reference}' of '${r.image}' is unknown`, { name: r.image, reference: r.reference });
      }
      for (const tag of removedTags) await env.removeArtifact(hostedRepo, `${r.image}/_manifests/tags/${tag}`);
      ctx.status = 202;
      ctx.body = "";
      return;
    }
    throw ociError("UNSUPPORTED", `${method} is not supported on manifests`);
  }

  async function writable(repo: RepositoryRecord): Promise<{ hosted: DockerStore; hostedRepo: RepositoryRecord }> {
    if (repo.kind === "proxy") throw ociError("UNSUPPORTED", `'${repo.name}' is a proxy repository and takes no pushes`);
    const { hosted, hostedRepo } = await resolveRepository(env, repo);
    if (!hosted || !hostedRepo) throw ociError("UNSUPPORTED", `Group '${repo.name}' has no hosted member to push to`);
    return { hosted, hostedRepo };
  }

  async function blobs(ctx: Ctx, r: Extract<RepoRoute, { kind: "blob" }>, repo: RepositoryRecord) {
    const method = ctx.method;
    if (method === "GET" || method === "HEAD") {
      requireDigest(r.digest);
      const { source } = await resolveRepository(env, repo);
      if (method === "HEAD") {
        const size = await source.blobSize(r.image, r.digest);
        if (size === null) throw ociError("BLOB_UNKNOWN", `Blob ${r.digest} is unknown`, { digest: r.digest });
        ctx.status = 200;
        ctx.set("Docker-Content-Digest", r.digest);
        ctx.set("Accept-Ranges", "bytes");
        ctx.type = "application/octet-stream";
        ctx.length = size;
        return;
      }
      const range = parseRange(ctx.get("range"));
      const b = await source.blob(r.image, r.digest, range);
      if (!b) throw ociError("BLOB_UNKNOWN", `Blob ${r.digest} is unknown`, { digest: r.digest });
      ctx.set("Docker-Content-Digest", r.digest);
      ctx.set("Accept-Ranges", "bytes");
      ctx.type = "application/octet-stream";
      if (b.range) {
        ctx.status = 206;
        ctx.set("Content-Range", `bytes ${b.range.start}-${b.range.end}/${b.size}`);
        ctx.length = b.range.end - b.range.start + 1;
      } else {
        ctx.status = 200;
        ctx.length = b.size;
      }
      ctx.body = b.data ?? b.stream;
      return;
    }
    if (method === "DELETE") {
      requireDigest(r.digest);
      const { hosted } = await writable(repo);
      if (!(await hosted.deleteBlob(r.digest))) throw ociError("BLOB_UNKNOWN", `Blob ${r.digest} is unknown`, { digest: r.digest });
      ctx.status = 202;
      ctx.body = "";
      return;
    }
    throw ociError("UNSUPPORTED", `${method} is not supported on blobs`);
  }

  function uploadLocation(repo: string, image: string, id: string) {
    return `/v2/${repo}/${image}/blobs/uploads/${id}`;
  }

  async function finishBlob(ctx: Ctx, repo: RepositoryRecord, image: string, digest: string) {
    ctx.status = 201;
    ctx.set("Location", `/v2/${repo.name}/${image}/blobs/${digest}`);
    ctx.set("Docker-Content-Digest", digest);
    ctx.body = "";
  }

  async function startUpload(ctx: Ctx, r: Extract<RepoRoute, { kind: "upload-start" }>, actor: Principal, repo: RepositoryRecord) {
    if (ctx.method !== "POST") throw ociError("UNSUPPORTED", `${ctx.method} is not supported here`);
    const { hosted } = await writable(repo);
    const mount = query(ctx, "mount");
    const from = query(ctx, "from");
    if (mount) {
      requireDigest(mount);
      if (await hosted.statBlob(mount)) return finishBlob(ctx, repo, r.image, mount);
      const fromRoute = from ? parseV2Path(`/${from}/tags/list`) : null;
      if (fromRoute && "kind" in fromRoute && fromRoute.kind === "tags" && actor.permissions.allowsRepository(fromRoute.repo, "read")) {
        const src = await env.findRepository(fromRoute.repo);
        if (src && src.format === "docker") {
          const { source } = await resolveRepository(env, src);
          const blob = await source.blob(fromRoute.image, mount);
          if (blob) {
            await hosted.putBlob(mount, blob.stream);
            return finishBlob(ctx, repo, r.image, mount);
          }
        }
      }
      // Mount not possible: fall back to a regular upload session, as the spec requires.
    }
    const digest = query(ctx, "digest");
    if (digest !== undefined && !mount) {
      requireDigest(digest);
      await hosted.putBlob(digest, ctx.req);
      return finishBlob(ctx, repo, r.image, digest);
    }
    const id = await hosted.startUpload(r.image);
    sweepNow(repo.name, hosted);
    ctx.status = 202;
    ctx.set("Location", uploadLocation(repo.name, r.image, id));
    ctx.set("Range", "0-0");
    ctx.set("Docker-Upload-UUID", id);
    ctx.set("OCI-Chunk-Min-Length", "0");
    ctx.body = "";
  }

  async function upload(ctx: Ctx, r: Extract<RepoRoute, { kind: "upload" }>, repo: RepositoryRecord) {
    const method = ctx.method;
    const { hosted } = await writable(repo);
    const state = await hosted.uploadState(r.id);
    if (!state || state.image !== r.image) throw ociError("BLOB_UPLOAD_UNKNOWN", `Upload ${r.id} is unknown`, { uuid: r.id });
    const location = uploadLocation(repo.name, r.image, r.id);
    const progress = (size: number) => {
      ctx.set("Location", location);
      ctx.set("Range", uploadRange(size));
      ctx.set("Docker-Upload-UUID", r.id);
      ctx.body = "";
    };
    if (method === "GET") {
      ctx.status = 204;
      progress(state.size);
      return;
    }
    if (method === "DELETE") {
      await hosted.cancelUpload(r.id);
      ctx.status = 204;
      ctx.body = "";
      return;
    }
    if (method === "PATCH") {
      const cr = parseContentRange(ctx.get("content-range") || undefined);
      if (cr && cr.start !== state.size) {
        ctx.set("Location", location);
        ctx.set("Range", uploadRange(state.size));
        throw ociError("RANGE_INVALID", `Chunk starts at ${cr.start} but the upload holds ${state.size} bytes`, { size: state.size }, 416);
      }
      const added = await hosted.appendUpload(r.id, state.size, ctx.req as Readable);
      if (cr && cr.end - cr.start + 1 !== added) {
        throw ociError("SIZE_INVALID", `Content-Range announced ${cr.end - cr.start + 1} bytes but ${added} arrived`, undefined, 416);
      }
      ctx.status = 202;
      progress(state.size + added);
      return;
    }
    if (method === "PUT") {
      const digest = query(ctx, "digest");
      requireDigest(digest);
      if (hasBody(ctx)) {
        const cr = parseContentRange(ctx.get("content-range") || undefined);
        if (cr && cr.start !== state.size) throw ociError("RANGE_INVALID", `Chunk starts at ${cr.start} but the upload holds ${state.size} bytes`, { size: state.size }, 416);
        await hosted.appendUpload(r.id, state.size, ctx.req as Readable);
      }
      await hosted.completeUpload(r.id, digest!).catch(async (err) => {
        if (err instanceof OciError && err.code === "DIGEST_INVALID") await hosted.cancelUpload(r.id);
        throw err;
      });
      return finishBlob(ctx, repo, r.image, digest!);
    }
    throw ociError("UNSUPPORTED", `${method} is not supported on uploads`);
  }

  async function tags(ctx: Ctx, r: Extract<RepoRoute, { kind: "tags" }>, repo: RepositoryRecord) {
    if (ctx.method !== "GET" && ctx.method !== "HEAD") throw ociError("UNSUPPORTED", `${ctx.method} is not supported on tags`);
    const n = parsePageSize(query(ctx, "n"));
    const last = query(ctx, "last");
    const { source } = await resolveRepository(env, repo);
    const all = await source.tags(r.image);
    if (!all) throw ociError("NAME_UNKNOWN", `Image '${r.image}' is unknown in '${repo.name}'`, { name: `${repo.name}/${r.image}` });
    const page = paginate(all, n, last);
    if (page.next !== undefined && n !== undefined) ctx.set("Link", linkHeader(`/v2/${repo.name}/${r.image}/tags/list`, n, page.next));
    ctx.body = { name: `${repo.name}/${r.image}`, tags: page.items };
  }

  async function referrers(ctx: Ctx, r: Extract<RepoRoute, { kind: "referrers" }>, repo: RepositoryRecord) {
    if (ctx.method !== "GET") throw ociError("UNSUPPORTED", `${ctx.method} is not supported on referrers`);
    requireDigest(r.digest);
    const { source } = await resolveRepository(env, repo);
    let list = await source.referrers(r.image, r.digest);
    const artifactType = query(ctx, "artifactType");
    if (artifactType) {
      list = list.filter((d) => d.artifactType === artifactType);
      ctx.set("OCI-Filters-Applied", "artifactType");
    }
    ctx.status = 200;
    ctx.type = MEDIA.ociIndex;
    ctx.body = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: list });
  }

  return async (ctx, next) => {
    if (ctx.path !== "/v2" && !ctx.path.startsWith("/v2/")) return next();
    ociHeaders(ctx);
    try {
      let sub: string;
      try {
        sub = decodeURIComponent(ctx.path.slice(3)); // some clients send digests as sha256%3A...
      } catch {
        throw ociError("NAME_INVALID", "Malformed percent-encoding in path");
      }
      const route = parseV2Path(sub);
      if (!route) throw ociError("NAME_UNKNOWN", `No OCI route for ${ctx.path}`, undefined, 404);
      if ("invalid" in route) throw ociError("NAME_INVALID", `Invalid repository name '${route.name}'`, { name: route.name });
      if (route.kind === "token") {
        if (ctx.method !== "GET" && ctx.method !== "POST") throw ociError("UNSUPPORTED", "Use GET");
        return await token(ctx);
      }
      const actor = await actorOf(ctx).catch((err) => {
        challenge(ctx);
        throw err;
      });
      if (route.kind === "base") {
        if (actor.via === "anonymous") {
          challenge(ctx);
          throw ociError("UNAUTHORIZED", "Authentication required");
        }
        ctx.body = {};
        return;
      }
      if (route.kind === "catalog") return await catalog(ctx, actor);
      // Permission first (no existence leak to strangers), then the repository. This is the
      // only permission check for repository routes: the handlers below rely on it.
      const action: RepositoryAction = ctx.method === "GET" || ctx.method === "HEAD" ? "read" : ctx.method === "DELETE" && route.kind !== "upload" ? "delete" : "write";
      check(ctx, actor, route.repo, route.image, action);
      const repo = await repository(route.repo);
      switch (route.kind) {
        case "manifest":
          return await manifests(ctx, route, actor, repo);
        case "blob":
          return await blobs(ctx, route, repo);
        case "upload-start":
          return await startUpload(ctx, route, actor, repo);
        case "upload":
          return await upload(ctx, route, repo);
        case "tags":
          return await tags(ctx, route, repo);
        case "referrers":
          return await referrers(ctx, route, repo);
      }
    } catch (err) {
      if (err instanceof OciError) return sendError(ctx, err);
      if ((!(err instanceof DomainError) || err.code === "INTERNAL_ERROR") && isDatabaseUnavailable(err)) {
        ctx.set("Retry-After", String(DATABASE_RETRY_AFTER));
        return sendError(ctx, ociError("UNAVAILABLE", "The database is unavailable; retry later"));
      }
      if (err instanceof DomainError) {
        const code = err.code === "UNAUTHORIZED" ? "UNAUTHORIZED" : err.code === "FORBIDDEN" ? "DENIED" : err.code === "NOT_FOUND" ? "NAME_UNKNOWN" : err.code === "UNAVAILABLE" ? "UNAVAILABLE" : err.code === "BAD_REQUEST" ? "BLOB_UPLOAD_INVALID" : err.code === "TOO_MANY_REQUESTS" ? "TOOMANYREQUESTS" : null;
        if (code) {
          if (code === "UNAUTHORIZED") challenge(ctx);
          if (err.retryAfter !== undefined) ctx.set("Retry-After", String(err.retryAfter));
          return sendError(ctx, ociError(code, err.message, undefined, err.status));
        }
      }
      throw err;
    }
  };
}

/** Abandoned upload sessions are swept at most once an hour per repository and node, after a day. */
const UPLOAD_MAX_AGE_MS = 24 * 3600_000;
const lastSweep = new Map<string, number>();
function sweepNow(repo: string, store: DockerStore) {
  const now = Date.now();
  if (now - (lastSweep.get(repo) ?? 0) < 3600_000) return;
  lastSweep.set(repo, now);
  store.sweepUploads(UPLOAD_MAX_AGE_MS).catch(() => undefined);
}

function parseRange(header: string): { start: number; end?: number } | undefined {
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  return { start: Number(m[1]), end: m[2] ? Number(m[2]) : undefined };
}
