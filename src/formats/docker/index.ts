// The docker / OCI format: the /v2 distribution API (router.ts) plus the FormatModule the
// /<repo>/... dispatcher uses (which only points clients at /v2).
import type Router from "@koa/router";
import type { AppContext } from "../../context.js";
import { notFound } from "../../errors.js";
import type { RepositoryRecord } from "../../repositories/types.js";
import { upstreamFetch } from "../proxy.js";
import { findRepository, storageFor } from "../scope.js";
import type { FormatModule } from "../types.js";
import { createOciMiddleware } from "./router.js";
import { isValidImageName } from "./names.js";
import type { DockerEnv } from "./sources.js";

export function dockerEnv(app: AppContext): DockerEnv {
  return {
    findRepository: (name) => findRepository(app, name),
    storageFor: (repo) => storageFor(app, repo),
    allRepositories: () => app.repositories.all(),
    async recordArtifact(a) {
      try {
        await app.artifacts.record({
          repo: a.repo,
          path: a.path,
          name: a.name,
          version: a.version,
          size: a.size,
          checksums: a.checksums,
          owner: a.owner,
          releasedAt: a.releasedAt ?? null,
        });
      } catch (err) {
        app.log.warn("docker: could not index artifact", { repo: a.repo.name, path: a.path, err: String(err) });
      }
    },
    async removeArtifact(repo, path) {
      await app.artifacts.remove(repo.name, path).catch(() => false);
    },
    warn: (msg, meta) => app.log.warn(msg, meta),
    fetchUpstream: (remote, path, req) => upstreamFetch(app, remote, path, req),
    cooldown: app.cooldown,
  };
}

/** Registers GET/HEAD/PUT/POST/PATCH/DELETE on /v2 and /v2/... on the repository port's router. */
export function registerOciRoutes(router: Router, app: AppContext): void {
  const mw = createOciMiddleware(dockerEnv(app), app.auth);
  router.all("/v2", mw);
  router.all("/v2/{*rest}", mw);
}

function host(baseUrl: string): string {
  try {
    return new URL(baseUrl).host;
  } catch {
    return baseUrl;
  }
}

export const dockerModule: FormatModule = {
  format: "docker",
  async handle(ctx, scope) {
    scope.require("read");
    throw notFound(`Docker repository '${scope.repo.name}' is served through the OCI API at /v2/${scope.repo.name}/<image>/...`);
  },
  /** Search reindex: only tags are artifacts (blobs, revisions, uploads and referrer links are not). */
  describeArtifact(_repo: RepositoryRecord, path: string) {
    const m = /^(.+)\/_manifests\/tags\/([^/]+)$/.exec(path);
    return m && isValidImageName(m[1]) ? { name: m[1], version: m[2] } : null;
  },
  pullInstructions(repo: RepositoryRecord, path: string, baseUrl: string): string[] {
    // Index paths are storage keys: <image>/_manifests/tags/<tag> or <image>/_manifests/revisions/<alg>/<hex>;
    // <image>/manifests/<reference> (the API path) is accepted too.
    const m = /^(.+?)\/_?manifests\/(?:tags\/|revisions\/(sha256|sha512)\/)?([^/]+)$/.exec(path);
    const image = m ? m[1] : path.replace(/\/+$/, "");
    const reference = m ? (m[2] ? `${m[2]}:${m[3]}` : m[3]) : "latest";
    const ref = reference.includes(":") ? `@${reference}` : `:${reference}`;
    const h = host(baseUrl);
    return [`skopeo copy docker://${h}/${repo.name}/${image}${ref} oci:./${image.split("/").pop()}`, `docker pull ${h}/${repo.name}/${image}${ref}`];
  },
};
