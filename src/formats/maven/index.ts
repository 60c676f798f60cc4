// Maven (and Gradle, same layout) repositories on port 8080.
//   maven        deploy by PUT (SNAPSHOT timestamped files included), maven-metadata.xml regenerated
//                from storage on every deploy, checksums (.md5/.sha1/.sha256/.sha512) for every file;
//                uploaded checksums are verified against the stored file (400 on mismatch).
//   maven-proxy  artifacts cached forever, maven-metadata.xml re-checked after `metadata_ttl`,
//                stale copy served when the upstream fails.
//   maven-group  members in order, first hit wins for files; maven-metadata.xml merged.
import type Koa from "koa";
import { createHash } from "node:crypto";
import { badRequest, notFound } from "../../errors.js";
import type { RepositoryRecord } from "../../repositories/types.js";
import type { Storage, StoredObject } from "../../storage/types.js";
import { DigestStream } from "../../storage/digest.js";
import type { AppContext } from "../../context.js";
import { cooldownMavenMetadata, enforceUpstreamCooldown } from "../../cooldown/formats.js";
import { cachedFetch, metadataTtlMs, UpstreamError } from "../proxy.js";
import { listFolderUnion, MAX_GROUP_DEPTH, memberScopes } from "../scope.js";
import { contentTypeFor, sendListing, sendStored } from "../http.js";
import type { FormatModule, RequestScope } from "../types.js";
import { artifactMetadataXml, checksumOf, isMetadataFile, mergeMetadata, parseArtifactPath, snapshotMetadataXml, type ChecksumAlg } from "./metadata.js";
import { isSnapshot } from "./version.js";
import { CHECKSUM_HEX_LENGTH, parseChecksumBody } from "./checksum.js";

// ---- metadata regeneration (hosted) ----------------------------------------------------------

/** Where metadata is rewritten: rewrites of one directory are serialised across every node. */
interface MetadataTarget {
  app: AppContext;
  repo: string;
  storage: Storage;
}

function metadataLock<T>(t: MetadataTarget, dir: string, fn: () => Promise<T>): Promise<T> {
  return t.app.db.withLock(`maven\0${t.repo}\0${dir}`, fn);
}

async function hasArtifactFiles(storage: Storage, dir: string): Promise<boolean> {
  for (const e of await storage.list(dir + "/", { delimiter: "/" })) {
    if (e.kind === "file" && !checksumOf(e.key) && !isMetadataFile(e.key)) return true;
  }
  return false;
}

/** Rewrites g/a/maven-metadata.xml from the version directories present (deletes it when none are). */
export async function regenerateArtifactMetadata(target: MetadataTarget, artifactDir: string): Promise<void> {
  const { storage } = target;
  await metadataLock(target, artifactDir, async () => {
    const seg = artifactDir.split("/");
    const artifactId = seg[seg.length - 1];
    const groupId = seg.slice(0, -1).join(".");
    const versions: string[] = [];
    for (const e of await storage.list(artifactDir + "/", { delimiter: "/" })) {
      if (e.kind !== "directory") continue;
      const dir = e.key.replace(/\/+$/, "");
      if (await hasArtifactFiles(storage, dir)) versions.push(dir.slice(dir.lastIndexOf("/") + 1));
    }
    const key = `${artifactDir}/maven-metadata.xml`;
    if (versions.length === 0) {
      await storage.delete(key);
      return;
    }
    await storage.put(key, artifactMetadataXml(groupId, artifactId, versions));
  });
}

/** Rewrites g/a/1.0-SNAPSHOT/maven-metadata.xml from the timestamped files of that version. */
export async function regenerateSnapshotMetadata(target: MetadataTarget, versionDir: string): Promise<void> {
  const { storage } = target;
  await metadataLock(target, versionDir, async () => {
    const files = [];
    let coords: ReturnType<typeof parseArtifactPath> = null;
    for (const e of await storage.list(versionDir + "/", { delimiter: "/" })) {
      if (e.kind !== "file" || checksumOf(e.key)) continue;
      const c = parseArtifactPath(e.key);
      if (!c?.snapshotValue) continue;
      coords = c;
      files.push({ value: c.snapshotValue, classifier: c.classifier, extension: c.extension });
    }
    const key = `${versionDir}/maven-metadata.xml`;
    const xml = coords ? snapshotMetadataXml(coords.groupId, coords.artifactId, coords.version, files) : null;
    if (xml) await storage.put(key, xml);
    else await storage.delete(key);
  });
}

// ---- checksums -------------------------------------------------------------------------------

const digestCache = new Map<string, string>();

async function checksumFor(app: AppContext, repo: RepositoryRecord, storage: Storage, key: string, stat: StoredObject, alg: ChecksumAlg): Promise<string | null> {
  const cacheKey = `${repo.name}\0${key}\0${stat.size}\0${stat.modified.getTime()}\0${alg}`;
  const hit = digestCache.get(cacheKey);
  if (hit) return hit;
  if (!isMetadataFile(key)) {
    const row = await app.artifacts.find(repo.name, key).catch(() => null);
    const sums = (row?.checksums ?? {}) as Record<string, string>;
    if (row && Number(row.size) === stat.size && sums[alg]) return remember(cacheKey, sums[alg]);
  }
  const obj = await storage.get(key);
  if (!obj) return null;
  const d = new DigestStream();
  obj.stream.pipe(d);
  for await (const _ of d); // drain
  return remember(cacheKey, d.digests()[alg]);
}

function remember(k: string, v: string): string {
  if (digestCache.size > 50_000) digestCache.clear();
  digestCache.set(k, v);
  return v;
}

// ---- reads through hosted / proxy / group ----------------------------------------------------

type Located = { kind: "stored"; storage: Storage; stat: StoredObject; repo: RepositoryRecord } | { kind: "bytes"; bytes: Buffer; modified: Date };

function indexName(c: NonNullable<ReturnType<typeof parseArtifactPath>>) {
  return `${c.groupId}:${c.artifactId}`;
}

async function locate(scope: RequestScope, key: string, depth = 0): Promise<Located | null> {
  const { repo, storage } = scope;
  if (repo.kind === "hosted") {
    const stat = await storage.stat(key);
    return stat ? { kind: "stored", storage, stat, repo } : null;
  }
  if (repo.kind === "proxy") {
    const meta = isMetadataFile(key);
    const coords = meta ? null : parseArtifactPath(key);
    if (coords) await enforceUpstreamCooldown(scope, key, indexName(coords), coords.version);
    const res = await cachedFetch(scope, key, {
      maxAgeMs: meta ? metadataTtlMs(repo) : undefined,
      onStored: async ({ size, digests, upstream }) => {
        if (!coords) return;
        await scope.app.artifacts.record({ repo, path: key, name: indexName(coords), version: coords.version, size, checksums: digests, releasedAt: upstream.lastModified });
      },
    });
    if (res && meta) {
      const filtered = await cooldownMavenMetadata(scope, key, () => readLocated({ kind: "stored", storage, stat: res.stat, repo }));
      if (filtered) return { kind: "bytes", bytes: filtered, modified: res.stat.modified };
    }
    return res ? { kind: "stored", storage, stat: res.stat, repo } : null;
  }
  if (depth >= MAX_GROUP_DEPTH) return null;
  const members = await memberScopes(scope, key);
  if (isMetadataFile(key)) {
    const docs: string[] = [];
    let modified = new Date(0);
    let failure: unknown = null;
    for (const m of members) {
      try {
        const hit = await locate(m, key, depth + 1);
        if (!hit) continue;
        const bytes = await readLocated(hit);
        if (bytes) {
          docs.push(bytes.toString("utf8"));
          const mod = hit.kind === "stored" ? hit.stat.modified : hit.modified;
          if (mod > modified) modified = mod;
        }
      } catch (err) {
        failure = err;
        scope.app.log.warn("group member failed", { group: repo.name, member: m.repo.name, err: (err as Error).message });
      }
    }
    const merged = mergeMetadata(docs);
    if (merged === null) {
      if (failure) throw failure;
      return null;
    }
    return { kind: "bytes", bytes: Buffer.from(merged), modified };
  }
  let failure: unknown = null;
  for (const m of members) {
    try {
      const hit = await locate(m, key, depth + 1);
      if (hit) return hit;
    } catch (err) {
      failure = err;
      scope.app.log.warn("group member failed", { group: repo.name, member: m.repo.name, err: (err as Error).message });
    }
  }
  if (failure instanceof UpstreamError) throw failure;
  return null;
}

async function readLocated(hit: Located): Promise<Buffer | null> {
  if (hit.kind === "bytes") return hit.bytes;
  const obj = await hit.storage.get(hit.stat.key);
  if (!obj) return null;
  const chunks: Buffer[] = [];
  for await (const c of obj.stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function sendBytes(ctx: Koa.Context, bytes: Buffer, contentType: string, modified?: Date) {
  ctx.status = 200;
  ctx.type = contentType;
  if (modified && modified.getTime() > 0) ctx.set("Last-Modified", modified.toUTCString());
  ctx.body = ctx.method === "HEAD" ? null : bytes;
  ctx.status = 200;
  ctx.length = bytes.length;
}

async function serveRead(ctx: Koa.Context, scope: RequestScope): Promise<void> {
  const { path } = scope;
  const folderRequested = path === "" || ctx.path.endsWith("/");
  if (!folderRequested) {
    const sum = checksumOf(path);
    if (sum) {
      // A stored sidecar (e.g. cached as-is) wins; otherwise compute from the file itself.
      const own = scope.repo.kind === "hosted" ? await scope.storage.stat(path) : null;
      if (own) {
        await sendStored(ctx, scope.storage, path, { stat: own, contentType: "text/plain; charset=utf-8" });
        return;
      }
      const base = await locate(scope, sum.base);
      if (base) {
        const value =
          base.kind === "bytes"
            ? createHash(sum.alg).update(base.bytes).digest("hex")
            : await checksumFor(scope.app, base.repo, base.storage, sum.base, base.stat, sum.alg);
        if (value) {
          sendBytes(ctx, Buffer.from(value), "text/plain; charset=utf-8");
          return;
        }
      }
      throw notFound(`'${path}' not found in repository '${scope.repo.name}'`);
    }
    if (scope.repo.kind === "hosted" && (await sendStored(ctx, scope.storage, path))) return;
    const hit = scope.repo.kind === "hosted" ? null : await locate(scope, path);
    if (hit?.kind === "bytes") {
      sendBytes(ctx, hit.bytes, contentTypeFor(path), hit.modified);
      return;
    }
    if (hit) {
      await sendStored(ctx, hit.storage, path, { stat: hit.stat });
      return;
    }
  }
  // Folder listing (hosted and cached proxy content; groups: union of members).
  const entries = await listFolderUnion(scope, path);
  if (entries.size === 0) throw notFound(`'${path}' not found in repository '${scope.repo.name}'`);
  sendListing(ctx, scope.baseUrl, path, [...entries.values()]);
}

// ---- deploy (hosted) -------------------------------------------------------------------------

async function drain(ctx: Koa.Context): Promise<void> {
  for await (const _ of ctx.req); // discard
}

const MAX_CHECKSUM_BODY = 4096;

/**
 * PUT of `<file>.<alg>`: the body (`<hex>` or `<hex>  <filename>`) must equal the stored file's
 * digest. Match: 201, nothing stored (the server serves its own digests). Mismatch: 400, and the
 * stored file is kept as it is: the checksum is a separate request that proves nothing about
 * which side is wrong, deleting would let one bad request destroy a good release (redeploys may be
 * disabled), and the client's deploy fails on the 400 anyway, so it can deploy again. No stored
 * file: 404 (clients such as mvn and Gradle upload a file before its checksums).
 */
async function deployChecksum(ctx: Koa.Context, scope: RequestScope, sum: { base: string; alg: ChecksumAlg }): Promise<void> {
  const { repo, storage, path } = scope;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of ctx.req as AsyncIterable<Buffer>) {
    if (size < MAX_CHECKSUM_BODY) chunks.push(c);
    size += c.length;
  }
  if (size > MAX_CHECKSUM_BODY) throw badRequest(`'${path}' is not a ${sum.alg} checksum file: ${size} bytes`);
  const claimed = parseChecksumBody(Buffer.concat(chunks).toString("utf8"), sum.alg);
  if (!claimed) throw badRequest(`'${path}' is not a ${sum.alg} checksum: expected ${CHECKSUM_HEX_LENGTH[sum.alg]} hex digits, optionally followed by the file name`);
  const stat = await storage.stat(sum.base);
  if (!stat) throw notFound(`Cannot verify '${path}': '${sum.base}' is not deployed in repository '${repo.name}' (deploy the file before its checksums)`);
  const actual = await checksumFor(scope.app, repo, storage, sum.base, stat, sum.alg);
  if (actual !== claimed) {
    scope.app.log.warn("maven checksum mismatch", { repo: repo.name, path, alg: sum.alg });
    throw badRequest(`Checksum mismatch: the uploaded ${sum.alg} ${claimed} does not match the stored '${sum.base}'; the stored file is unchanged, deploy it again`);
  }
  ctx.status = 201;
  ctx.body = "";
}

async function deploy(ctx: Koa.Context, scope: RequestScope): Promise<void> {
  const { repo, storage, path } = scope;
  if (!path || ctx.path.endsWith("/")) throw badRequest("A file path is required");
  const meta: MetadataTarget = { app: scope.app, repo: repo.name, storage };
  // Checksums and metadata are computed by the server. An uploaded checksum of a deployed file is
  // verified against the stored file (then dropped); metadata and its checksums are accepted and
  // dropped, since the server regenerates maven-metadata.xml and the client's digests of its own
  // copy cannot match.
  const sum = checksumOf(path);
  if (sum && !isMetadataFile(sum.base)) return deployChecksum(ctx, scope, sum);
  if (sum || isMetadataFile(path)) {
    await drain(ctx);
    if (isMetadataFile(path)) {
      const dir = path.slice(0, Math.max(0, path.lastIndexOf("/")));
      const leaf = dir.slice(dir.lastIndexOf("/") + 1);
      if (isSnapshot(leaf)) await regenerateSnapshotMetadata(meta, dir);
      else if (dir && (await storage.list(dir + "/", { delimiter: "/" })).some((e) => e.kind === "directory")) await regenerateArtifactMetadata(meta, dir);
    }
    ctx.status = 201;
    ctx.body = "";
    return;
  }
  const coords = parseArtifactPath(path);
  if (repo.config.allow_redeploy === false && coords && !coords.snapshotValue && !isSnapshot(coords.version) && (await storage.exists(path))) {
    await drain(ctx);
    ctx.status = 409;
    ctx.body = { error: "CONFLICT", message: `'${path}' is already deployed and redeploying releases is disabled`, status: 409 };
    return;
  }
  const put = await storage.put(path, ctx.req);
  await scope.app.artifacts.record({
    repo,
    path,
    name: coords ? indexName(coords) : path.slice(path.lastIndexOf("/") + 1),
    version: coords?.version ?? "",
    size: put.size,
    checksums: put.digests,
    owner: scope.actor.name,
  });
  if (coords) {
    if (isSnapshot(coords.version)) await regenerateSnapshotMetadata(meta, coords.versionDir);
    await regenerateArtifactMetadata(meta, coords.artifactDir);
  }
  ctx.status = 201;
  ctx.body = "";
}

async function handle(ctx: Koa.Context, scope: RequestScope): Promise<void> {
  const { repo, storage, path } = scope;
  switch (ctx.method) {
    case "GET":
    case "HEAD":
      scope.require("read");
      return serveRead(ctx, scope);
    case "PUT":
    case "POST":
      if (repo.kind !== "hosted") break;
      scope.require("write");
      return deploy(ctx, scope);
    case "DELETE": {
      if (repo.kind !== "hosted") break;
      scope.require("delete");
      if (!path) throw badRequest("A file path is required");
      if (!(await storage.delete(path))) throw notFound(`'${path}' not found in repository '${repo.name}'`);
      await scope.app.artifacts.remove(repo.name, path);
      await mavenFormat.afterDelete!({ app: scope.app, repo, storage, path, folder: false });
      ctx.status = 204;
      return;
    }
  }
  ctx.status = 405;
  ctx.set("Allow", repo.kind === "hosted" ? "GET, HEAD, PUT, DELETE" : "GET, HEAD");
  ctx.body = { error: "METHOD_NOT_ALLOWED", message: `${ctx.method} is not supported on ${repo.type} repository '${repo.name}'`, status: 405 };
}

export const mavenFormat: FormatModule = {
  format: "maven",
  handle,
  pullInstructions(repo, path, baseUrl) {
    const c = parseArtifactPath(path);
    const url = `${baseUrl}/${path}`;
    if (!c) return [`curl -fO ${url}`];
    const gav = `${c.groupId}:${c.artifactId}:${c.version}${c.extension !== "jar" || c.classifier ? `:${c.extension}${c.classifier ? ":" + c.classifier : ""}` : ""}`;
    const build = repo.format === "gradle" ? `implementation("${c.groupId}:${c.artifactId}:${c.version}")` : `mvn dependency:get -Dartifact=${gav} -DremoteRepositories=${baseUrl}`;
    return [build, `curl -fO ${url}`];
  },
  describeArtifact(_repo, path) {
    if (checksumOf(path) || isMetadataFile(path)) return null;
    const c = parseArtifactPath(path);
    return c ? { name: indexName(c), version: c.version } : null;
  },
  async afterDelete({ app, repo, storage, path, folder }) {
    const meta: MetadataTarget = { app, repo: repo.name, storage };
    const c = folder ? null : parseArtifactPath(path);
    if (c) {
      if (isSnapshot(c.version)) await regenerateSnapshotMetadata(meta, c.versionDir);
      await regenerateArtifactMetadata(meta, c.artifactDir);
      return;
    }
    // A folder: a version directory (parent holds maven-metadata.xml) or an artifact directory.
    const parent = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    if (parent && (await storage.exists(`${parent}/maven-metadata.xml`))) await regenerateArtifactMetadata(meta, parent);
    const leaf = path.slice(path.lastIndexOf("/") + 1);
    if (!folder && leaf !== "maven-metadata.xml" && parent && isSnapshot(parent.slice(parent.lastIndexOf("/") + 1))) await regenerateSnapshotMetadata(meta, parent);
  },
};

export const gradleFormat: FormatModule = { ...mavenFormat, format: "gradle" };
