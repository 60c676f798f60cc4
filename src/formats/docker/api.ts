// The OCI distribution API, mounted by the kit at the root of the repository port:
// /v2/<repo>/<image>/... for docker, docker-proxy and docker-group repositories, plus /v2/
// (version check), /v2/_catalog and /v2/token (the Bearer token endpoint docker clients call
// after a 401 challenge). Every answer, errors included, is a Reply in the OCI shape.
import type { RepositoryAction } from "../../auth/permissions.js";
import { DATABASE_RETRY_AFTER, isDatabaseUnavailable } from "../../db/errors.js";
import { DomainError } from "../../errors.js";
import type { Reply, RootMount, RootRequest } from "../kit/contract.js";
import { forKind } from "../kit/kinds.js";
import { challenge, OciAccess, type AuthPort } from "./access.js";
import type { Handler, OciCall, RepoRoute } from "./call.js";
import type { DockerEnv } from "./env.js";
import { OciError, ociError, type OciErrorCode } from "./errors.js";
import { isValidReference, parseV2Path } from "./names.js";
import { linkHeader, paginate, parsePageSize } from "./protocol.js";
import { getBlob, getManifest, headBlob, listReferrers, listTags } from "./pull.js";
import { appendChunk, cancelUpload, completeUpload, deleteBlob, deleteManifest, putManifest, startUpload, uploadSession, uploadStatus } from "./push.js";
import { LISTED_IN_CATALOG } from "./sources.js";
import { DockerStore } from "./store.js";

type Route<E extends RepoRoute["endpoint"]> = Extract<RepoRoute, { endpoint: E }>;

/** The handler of `call.method`, or 405 UNSUPPORTED naming the endpoint (`what`). */
function byMethod<R extends RepoRoute>(call: OciCall<R>, what: string, methods: Partial<Record<string, Handler<R>>>): Promise<Reply> {
  const handler = methods[call.method];
  if (!handler) throw ociError("UNSUPPORTED", `${call.method} is not supported ${what}`);
  return handler(call);
}

/**
 * A malformed digest is a bad request; a name that cannot be a tag names no manifest (pulls and
 * deletes: 404 MANIFEST_UNKNOWN, as the conformance suite expects), and a push cannot create it
 * (400 TAG_INVALID).
 */
function checkReference(call: OciCall<Route<"manifest">>): void {
  const { image, reference } = call.route;
  if (isValidReference(reference)) return;
  if (reference.includes(":")) throw ociError("DIGEST_INVALID", `Invalid digest '${reference}'`, { digest: reference });
  if (call.method === "PUT") throw ociError("TAG_INVALID", `Invalid tag '${reference}'`, { tag: reference });
  throw ociError("MANIFEST_UNKNOWN", `Manifest '${reference}' of '${image}' is unknown`, { name: image, reference });
}

const ENDPOINTS: { [E in RepoRoute["endpoint"]]: (call: OciCall<Route<E>>) => Promise<Reply> } = {
  manifest(call) {
    checkReference(call);
    return byMethod(call, "on manifests", { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest });
  },
  blob: (call) => byMethod(call, "on blobs", { GET: getBlob, HEAD: headBlob, DELETE: deleteBlob }),
  "upload-start": (call) => byMethod(call, "here", { POST: startUpload }),
  async upload(call) {
    const s = await uploadSession(call);
    return byMethod(call, "on uploads", {
      GET: (c) => uploadStatus(c, s),
      DELETE: (c) => cancelUpload(c, s),
      PATCH: (c) => appendChunk(c, s),
      PUT: (c) => completeUpload(c, s),
    });
  },
  tags: (call) => byMethod(call, "on tags", { GET: listTags, HEAD: listTags }),
  referrers: (call) => byMethod(call, "on referrers", { GET: listReferrers }),
};

/** What the repository port's own errors are in OCI terms (others are answered as usual). */
const DOMAIN_CODES: Partial<Record<string, OciErrorCode>> = {
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "DENIED",
  NOT_FOUND: "NAME_UNKNOWN",
  UNAVAILABLE: "UNAVAILABLE",
  BAD_REQUEST: "BLOB_UPLOAD_INVALID",
  TOO_MANY_REQUESTS: "TOOMANYREQUESTS",
};

export function createOciMount(env: DockerEnv, auth: AuthPort): RootMount {
  const access = new OciAccess(auth);

  async function catalog(req: RootRequest, headers: Record<string, string>, allows: (repo: string) => boolean): Promise<Reply> {
    const n = parsePageSize(req.query.get("n") ?? undefined);
    const last = req.query.get("last") ?? undefined;
    const names: string[] = [];
    for (const repo of await env.allRepositories()) {
      if (repo.format !== "docker" || !forKind(repo, LISTED_IN_CATALOG) || !allows(repo.name)) continue;
      const store = new DockerStore(await env.storageFor(repo));
      for (const image of await store.images()) names.push(`${repo.name}/${image}`);
    }
    const page = paginate(names, n, last);
    if (page.next !== undefined && n !== undefined) headers.Link = linkHeader("/v2/_catalog", n, page.next);
    return { status: 200, headers, body: { repositories: page.items } };
  }

  async function serve(req: RootRequest, headers: Record<string, string>): Promise<Reply> {
    let sub: string;
    try {
      sub = decodeURIComponent(req.path); // some clients send digests as sha256%3A...
    } catch {
      throw ociError("NAME_INVALID", "Malformed percent-encoding in path");
    }
    const route = parseV2Path(sub);
    if (!route) throw ociError("NAME_UNKNOWN", `No OCI route for /v2${req.path}`, undefined, 404);
    if ("invalid" in route) throw ociError("NAME_INVALID", `Invalid repository name '${route.name}'`, { name: route.name });
    if (route.endpoint === "token") {
      if (req.method !== "GET" && req.method !== "POST") throw ociError("UNSUPPORTED", "Use GET");
      return access.token(req, headers);
    }
    const actor = await access.actorOf(req).catch((err) => {
      challenge(req, headers);
      throw err;
    });
    if (route.endpoint === "base") {
      if (actor.via === "anonymous") {
        challenge(req, headers);
        throw ociError("UNAUTHORIZED", "Authentication required");
      }
      return { status: 200, headers, body: {} };
    }
    if (route.endpoint === "catalog") return catalog(req, headers, (repo) => actor.permissions.allowsRepository(repo, "read"));
    // Permission first (no existence leak to strangers), then the repository. This is the
    // only permission check for repository routes: the handlers rely on it.
    const action: RepositoryAction =
      req.method === "GET" || req.method === "HEAD" ? "read" : req.method === "DELETE" && route.endpoint !== "upload" ? "delete" : "write";
    access.check(req, headers, actor, route.repo, route.image, action);
    const repo = await req.repository(route.repo);
    if (!repo || repo.format !== "docker") throw ociError("NAME_UNKNOWN", `Repository '${route.repo}' is not a docker repository`, { name: route.repo });
    const call: OciCall = { env, method: req.method, query: req.query, header: (h) => req.header(h), body: req.body, actor, repo, route, headers };
    return (ENDPOINTS[route.endpoint] as (call: OciCall) => Promise<Reply>)(call);
  }

  function errorReply(req: RootRequest, headers: Record<string, string>, err: unknown): Reply {
    const reply = (e: OciError): Reply => ({ status: e.status, headers, body: e.body() });
    if (err instanceof OciError) return reply(err);
    if ((!(err instanceof DomainError) || err.code === "INTERNAL_ERROR") && isDatabaseUnavailable(err)) {
      headers["Retry-After"] = String(DATABASE_RETRY_AFTER);
      return reply(ociError("UNAVAILABLE", "The database is unavailable; retry later"));
    }
    const code = err instanceof DomainError ? DOMAIN_CODES[err.code] : undefined;
    if (!code) throw err;
    const domain = err as DomainError;
    if (code === "UNAUTHORIZED") challenge(req, headers);
    if (domain.retryAfter !== undefined) headers["Retry-After"] = String(domain.retryAfter);
    return reply(ociError(code, domain.message, undefined, domain.status));
  }

  return {
    prefix: "v2",
    headers: { "Docker-Distribution-API-Version": "registry/2.0" },
    async handle(req) {
      const headers: Record<string, string> = {};
      try {
        return await serve(req, headers);
      } catch (err) {
        return errorReply(req, headers, err);
      }
    },
  };
}
