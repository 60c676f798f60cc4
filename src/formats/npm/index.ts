// npm registries: hosted (npm), proxy (npm-proxy) and group (npm-group), as a format-kit plugin.
//
// Storage layout (per repository):
//   <name>/package.json        hosted: the packument (tarball URLs rewritten on every read)
//                              proxy:  the upstream packument as fetched (re-checked after metadata_ttl)
//   <name>/-/<bare>-<v>.tgz    tarballs
// Names may be scoped: '@scope/pkg/package.json' (clients send '@scope%2fpkg'; the dispatcher decodes it).
import type { SqlRunner } from "../../db/migrate.js";
import { byKind, type FormatPlugin, type FormatRequest, type Route } from "../kit/contract.js";
import { withPackageLock } from "../kit/body.js";
import { RouteTable } from "../kit/routes.js";
import { login, logout, webLogin, whoami, type NpmAuth } from "./auth.js";
import { npmConfig } from "./config.js";
import { PackumentDocuments } from "./documents.js";
import { highestVersion, packageOfPackumentKey, packumentKey, versionFromTarball } from "./packument.js";
import { distTags, fetchPlan, filterPackument, mergePackumentDocs, packument, parseTarballKey, tarball, version, type PackumentView } from "./reads.js";
import { NpmSearchIndex } from "./search-index.js";
import { searchOperation } from "./search.js";
import { changeDistTag, deleteTarball, distTagRequired, publish, readPackument, storePackument, unpublish } from "./writes.js";

/** A package name: `@scope/name` (two segments) or `name` (never '-', which starts the registry's own endpoints). */
const NAME = String.raw`(?<name>@[^/]+/[^/]+|(?!-(?:/|$))[^/@][^/]*)`;
const route = (pattern: string) => new RegExp(`^/${pattern}$`);
const PACKUMENT = [route(NAME), route(String.raw`${NAME}/-rev/(?<rev>[^/]+)`)];
const TARBALL = route(String.raw`${NAME}/-/(?<file>[^/]+)(?:/-rev/(?<rev>[^/]+))?`);
const DIST_TAGS = route(String.raw`-/package/${NAME}/dist-tags`);
const DIST_TAG = route(String.raw`-/package/${NAME}/dist-tags/(?<tag>[^/]+)`);
const ANY = ["GET", "PUT", "POST", "DELETE", "PATCH"] as const;

export const npmRoutes: Route[] = [
  { method: "GET", path: "/-/whoami", op: "whoami" },
  { method: "PUT", path: /^\/-\/user\/org\.couchdb\.user:(?<user>[^/]*)$/, op: "login" },
  { method: "DELETE", path: "/-/user/token/:token", op: "logout" },
  { method: [...ANY], path: /^\/-\/v1\/login(?:\/.*)?$/, op: "webLogin" },
  { method: "GET", path: "/-/v1/search", op: "search" },
  { method: "GET", path: DIST_TAGS, op: "distTags" },
  { method: ["PUT", "POST", "DELETE"], path: DIST_TAGS, op: "distTagRequired" },
  { method: ["PUT", "POST", "DELETE"], path: DIST_TAG, op: "changeDistTag", write: true },
  ...PACKUMENT.flatMap((path): Route[] => [
    { method: "GET", path, op: "packument" },
    { method: "PUT", path, op: "publish", write: true },
    { method: "DELETE", path, op: "unpublish", write: true },
  ]),
  { method: "GET", path: TARBALL, op: "tarball" },
  { method: "DELETE", path: TARBALL, op: "deleteTarball", write: true },
  { method: "GET", path: route(String.raw`${NAME}/(?<spec>[^/]+)`), op: "version" },
];

const table = new RouteTable(npmRoutes);

/** `<name>/-/<file>.tgz` → name and version; packuments and anything else are not artifacts. */
export function describeNpmArtifact(path: string): { name: string; version: string } | null {
  const t = parseTarballKey(path);
  if (!t) return null;
  try {
    const v = versionFromTarball(t.name, t.file);
    return v ? { name: t.name, version: v } : null;
  } catch {
    return null;
  }
}

/** Client commands for a stored path (packument, version or tarball). */
function npmPullInstructions(_repo: unknown, path: string, baseUrl: string): string[] {
  const match = table.resolve("GET", "/" + path);
  const params = "route" in match ? match.params : {};
  const name = params.name ?? path.split("/-/")[0];
  let v: string | null | undefined = params.spec;
  if (params.file) {
    try {
      v = versionFromTarball(name, params.file);
    } catch {
      v = null;
    }
  }
  return [`npm install ${name}${v ? "@" + v : ""} --registry ${baseUrl}/`];
}

/** What the npm plugin needs beyond the kit: the auth service (login/logout) and SQL (its search index). */
export interface NpmPluginDeps {
  auth: NpmAuth;
  sql: Pick<SqlRunner, "query">;
}

export function createNpmPlugin(deps: NpmPluginDeps): FormatPlugin {
  const index = new NpmSearchIndex(deps.sql);
  const docs = new PackumentDocuments();
  const writes = { index };
  // A proxy's or group's packument with no version left is missing (all filtered or unpublished);
  // cooldown notices name the proxy itself, or a group's members.
  const hosted: PackumentView = { emptyIsMissing: false, noticeRepos: () => [] };
  const proxy: PackumentView = { emptyIsMissing: true, noticeRepos: (req) => [req.repo.name] };
  const group: PackumentView = { emptyIsMissing: true, noticeRepos: (req) => req.repo.members };
  const perView = (op: (req: FormatRequest, view: PackumentView) => ReturnType<typeof packument>) =>
    byKind({ hosted: (req) => op(req, hosted), proxy: (req) => op(req, proxy), group: (req) => op(req, group) });

  return {
    format: "npm",
    config: npmConfig,
    routes: npmRoutes,
    groupWrites: true,
    operations: {
      whoami,
      login: (req) => login(deps.auth, req),
      logout: (req) => logout(deps.auth, req),
      webLogin,
      search: searchOperation(index),
      distTags: perView((req, view) => distTags(docs, req, view)),
      distTagRequired,
      changeDistTag: (req) => changeDistTag(writes, req),
      packument: perView((req, view) => packument(docs, req, view)),
      publish: (req) => publish(writes, req),
      unpublish: (req) => unpublish(writes, req),
      version: (req) => version(docs, req),
      tarball,
      deleteTarball,
    },
    layout: {
      describe: describeNpmArtifact,
      isMetadata: (path) => packageOfPackumentKey(path) !== null,
    },
    proxy: {
      plan: (key, req) => fetchPlan(docs, key, req),
      filterCooldown: (key, doc, req) => filterPackument(docs, key, doc, req),
    },
    mergeMetadata: (key, parts) => mergePackumentDocs(docs, key, parts),
    pullInstructions: npmPullInstructions,
    hooks: {
      /** A tarball deleted through the management API takes its version out of the packument. */
      async afterDelete(t) {
        if (t.folder) return index.reindexPackagesUnder(t.services, t.repo, t.storage, t.path);
        const name = packageOfPackumentKey(t.path);
        if (name) return index.reindexPackage(t.services, t.repo, t.storage, name);
        const described = describeNpmArtifact(t.path);
        if (!described) return;
        await withPackageLock(t, t, described.name, async () => {
          const p = await readPackument(t, described.name);
          if (!p?.versions?.[described.version]) return;
          delete p.versions[described.version];
          if (p.time) delete p.time[described.version];
          if (Object.keys(p.versions).length === 0) {
            await t.storage.delete(packumentKey(described.name));
            await index.indexPackument(t.services, t.repo, described.name, null);
            return;
          }
          for (const [tag, v] of Object.entries(p["dist-tags"] ?? {})) if (v === described.version) delete p["dist-tags"][tag];
          if (!p["dist-tags"].latest) p["dist-tags"].latest = highestVersion(Object.keys(p.versions))!;
          await storePackument(writes, t.services, t, p);
        });
      },
      /** An imported packument (metadata-only import) becomes searchable. */
      async afterImport(t) {
        const name = packageOfPackumentKey(t.path);
        if (name) await index.reindexPackage(t.services, t.repo, t.storage, name);
      },
      reindex: (t) => index.rebuild(t.services, t.repo, t.storage),
    },
  };
}
