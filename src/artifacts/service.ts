// The artifacts index (one row per stored artifact file) and the artifact operations of
// REST section 8: tree, metadata, pull instructions, download authorisation (incl. HMAC
// download tokens), delete artifact, delete package folder.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Database, PrismaClient } from "../db/index.js";
import type { EventBus } from "../events/bus.js";
import type { AppContext } from "../context.js";
import { requireApi, type Principal } from "../auth/permissions.js";
import { badRequest, notFound, unauthorized } from "../errors.js";
import type { RepositoryRecord } from "../repositories/types.js";
import { requireRepositoryAccess } from "../repositories/service.js";
import { normaliseKey, type Digests, type Storage } from "../storage/types.js";
import { findRepository, storageFor } from "../formats/scope.js";

export interface ArtifactRecordInput {
  repo: Pick<RepositoryRecord, "name" | "type">;
  path: string;
  name: string;
  version?: string;
  size: number;
  checksums?: Partial<Digests>;
  owner?: string;
  createdAt?: Date;
  /** Upstream release date (proxies) when the format exposes one. */
  releasedAt?: Date | null;
}

export interface TreeItem {
  name: string;
  path: string;
  type: "file" | "directory";
  size?: number;
  modified?: Date;
}

const TOKEN_TTL_SECONDS = 60;

/** A valid date as ISO text; an absent or invalid one (an upstream's unparsable date) as null. */
const isoOrNull = (d: Date | null | undefined): string | null => (d && !Number.isNaN(d.getTime()) ? d.toISOString() : null);

/** Hidden storage entries (temp dirs, internal state) never shown in trees. */
const hidden = (name: string) => name.startsWith(".pantera");

export class ArtifactService {
  private app!: AppContext;
  private prisma: PrismaClient;

  constructor(
    private db: Database,
    private bus: EventBus,
    private hmacSecret: () => Buffer,
  ) {
    this.prisma = db.prisma;
  }

  /** Late binding to the AppContext (repositories and storages are resolved through it). */
  attach(app: AppContext): void {
    this.app = app;
  }

  // ---- the index -------------------------------------------------------------------------

  /** Records (or refreshes) one stored artifact file and announces it. */
  async record(input: ArtifactRecordInput): Promise<void> {
    const path = normaliseKey(input.path);
    // One INSERT ... ON CONFLICT: this runs on every upload and proxy cache fill, and Prisma's
    // upsert costs several times as much (about 5 ms against 1 ms per call, measured on publish).
    // indexed_at is the database's clock, the one the search reindex compares against.
    await this.db.sql.query(
      `INSERT INTO "artifacts" ("repo_name", "repo_type", "path", "name", "version", "size", "checksums", "owner", "created_at", "released_at", "indexed_at")
       VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::jsonb, $8, COALESCE($9::timestamptz, now()), $10::timestamptz, now())
       ON CONFLICT ("repo_name", "path") DO UPDATE SET
         "repo_type" = EXCLUDED."repo_type", "name" = EXCLUDED."name", "version" = EXCLUDED."version", "size" = EXCLUDED."size",
         "checksums" = EXCLUDED."checksums", "owner" = EXCLUDED."owner", "released_at" = EXCLUDED."released_at", "indexed_at" = now(),
         "created_at" = CASE WHEN $9::timestamptz IS NULL THEN "artifacts"."created_at" ELSE EXCLUDED."created_at" END`,
      [
        input.repo.name,
        input.repo.type,
        path,
        input.name,
        input.version ?? "",
        String(Math.max(0, Math.trunc(input.size))),
        JSON.stringify(input.checksums ?? {}),
        input.owner ?? "",
        isoOrNull(input.createdAt),
        isoOrNull(input.releasedAt),
      ],
    );
    await this.bus.publish({ type: "artifact.stored", repo: input.repo.name, path });
    this.app?.audit?.artifactStored(input.repo, path, input.owner); // counted only within a repository-port write
  }

  /** Drops one path from the index; returns whether it was indexed. */
  async remove(repo: string, path: string): Promise<boolean> {
    const key = normaliseKey(path);
    const res = await this.prisma.artifact.deleteMany({ where: { repoName: repo, path: key } });
    this.app?.audit?.artifactRemoved(repo, key); // counted only within a repository-port write
    return res.count > 0;
  }

  /** Drops every indexed path under a folder ('' = the whole repository). */
  async removePrefix(repo: string, prefix: string): Promise<number> {
    const key = normaliseKey(prefix);
    const where = key ? { repoName: repo, path: { startsWith: key + "/" } } : { repoName: repo };
    const res = await this.prisma.artifact.deleteMany({ where });
    return res.count;
  }

  async find(repo: string, path: string) {
    return this.prisma.artifact.findUnique({ where: { repoName_path: { repoName: repo, path: normaliseKey(path) } } });
  }

  // ---- REST section 8 --------------------------------------------------------------------

  /** The one permission check of section 8: the API action, then the same action on the repository itself. */
  private async open(actor: Principal | null, name: string, action: "read" | "delete"): Promise<{ repo: RepositoryRecord; storage: Storage }> {
    requireRepositoryAccess(requireApi(actor, "api_repository_permissions", action), name, action);
    const repo = await findRepository(this.app, name);
    if (!repo) throw notFound(`Repository '${name}' not found`);
    return { repo, storage: await storageFor(this.app, repo) };
  }

  private requiredPath(path: string | null | undefined): string {
    if (path === null || path === undefined || path.trim() === "") throw badRequest("'path' is required");
    const key = normaliseKey(path);
    if (!key) throw badRequest("'path' must name a file or folder inside the repository");
    return key;
  }

  /** Shallow listing of a folder, sorted directories first; keyset-paginated by `marker`. */
  async tree(actor: Principal | null, name: string, path: string | null | undefined, limit = 1000, marker?: string | null) {
    const { storage } = await this.open(actor, name, "read");
    const dir = normaliseKey(path ?? "");
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw badRequest("'limit' must be between 1 and 10000");
    const entries = await storage.list(dir ? dir + "/" : "", { delimiter: "/" });
    const items: TreeItem[] = [];
    for (const e of entries) {
      const full = e.key.replace(/\/+$/, "");
      const base = full.slice(full.lastIndexOf("/") + 1);
      if (!base || hidden(base)) continue;
      items.push({ name: base, path: full, type: e.kind, size: e.size, modified: e.modified });
    }
    // One key orders the listing and is the marker, so pages follow the sort exactly.
    const sortKey = (i: TreeItem) => (i.type === "directory" ? "0" : "1") + i.name;
    items.sort((a, b) => {
      const x = sortKey(a);
      const y = sortKey(b);
      return x < y ? -1 : x > y ? 1 : 0;
    });
    const after = marker ? items.filter((i) => sortKey(i) > marker) : items;
    const page = after.slice(0, limit);
    const hasMore = after.length > limit;
    return { items: page, marker: hasMore ? sortKey(page[page.length - 1]) : null, hasMore };
  }

  /** Metadata of one file: size, modified, checksums (from the index, or computed). */
  async info(actor: Principal | null, name: string, path: string) {
    const { repo, storage } = await this.open(actor, name, "read");
    const key = this.requiredPath(path);
    const st = await storage.stat(key);
    if (!st) throw notFound(`Artifact '${key}' not found in repository '${name}'`);
    const row = await this.find(repo.name, key);
    let checksums = (row?.checksums ?? {}) as Partial<Digests>;
    if (!checksums.md5 && st.size <= 64 * 1024 * 1024) checksums = await this.digestsOf(storage, key);
    return { path: key, name: key.slice(key.lastIndexOf("/") + 1), size: st.size, modified: st.modified, checksums };
  }

  private async digestsOf(storage: Storage, key: string): Promise<Partial<Digests>> {
    const obj = await storage.get(key);
    if (!obj) return {};
    const { DigestStream } = await import("../storage/digest.js");
    const d = new DigestStream();
    obj.stream.pipe(d);
    for await (const _ of d); // drain
    return d.digests();
  }

  async pull(actor: Principal | null, name: string, path: string): Promise<{ type: string; instructions: string[] }> {
    const { repo } = await this.open(actor, name, "read");
    const key = this.requiredPath(path);
    const base = `${(this.app.config.publicRepoUrl ?? `http://localhost:${this.app.config.repoPort}`).replace(/\/+$/, "")}/${repo.name}`;
    const { formatModule } = await import("../formats/registry.js");
    const mod = formatModule(repo.format);
    const instructions = mod?.pullInstructions?.(repo, key, base) ?? [`curl -O ${base}/${key}`, `wget ${base}/${key}`];
    return { type: repo.type, instructions };
  }

  /** Authorises a download: the file must exist; returns what the streaming route needs. */
  async download(actor: Principal | null, name: string, path: string) {
    const { repo, storage } = await this.open(actor, name, "read");
    return this.downloadable(repo, storage, this.requiredPath(path));
  }

  private async downloadable(repo: RepositoryRecord, storage: Storage, key: string) {
    const st = await storage.stat(key);
    if (!st) throw notFound(`Artifact '${key}' not found in repository '${repo.name}'`);
    return { repository: repo.name, path: key, filename: key.slice(key.lastIndexOf("/") + 1), size: st.size, storage };
  }

  /** A 60-second HMAC token for download-direct, scoped to one repository and path. */
  async downloadToken(actor: Principal | null, name: string, path: string): Promise<string> {
    const { repo, storage } = await this.open(actor, name, "read");
    const key = this.requiredPath(path);
    await this.downloadable(repo, storage, key);
    const payload = Buffer.from(JSON.stringify({ r: repo.name, p: key, e: Math.floor(Date.now() / 1000) + TOKEN_TTL_SECONDS })).toString("base64url");
    return `${payload}.${this.sign(payload)}`;
  }

  private sign(payload: string): string {
    return createHmac("sha256", this.hmacSecret()).update("download-token\0").update(payload).digest("base64url");
  }

  /** Verifies a download token (no JWT needed) and authorises the download it names. */
  async downloadDirect(token: string | null | undefined) {
    const bad = () => unauthorized("Download token expired, invalid or malformed");
    if (!token || typeof token !== "string") throw bad();
    const dot = token.indexOf(".");
    if (dot <= 0) throw bad();
    const payload = token.slice(0, dot);
    const sig = Buffer.from(token.slice(dot + 1));
    const want = Buffer.from(this.sign(payload));
    if (sig.length !== want.length || !timingSafeEqual(sig, want)) throw bad();
    let claims: { r?: unknown; p?: unknown; e?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    } catch {
      throw bad();
    }
    if (typeof claims.r !== "string" || typeof claims.p !== "string" || typeof claims.e !== "number") throw bad();
    if (claims.e < Date.now() / 1000) throw unauthorized("Download token expired");
    const repo = await findRepository(this.app, claims.r);
    if (!repo) throw notFound(`Repository '${claims.r}' not found`);
    return this.downloadable(repo, await storageFor(this.app, repo), claims.p);
  }

  /** Deletes one artifact file (and its checksum sidecars); the format refreshes its metadata. */
  async deleteArtifact(actor: Principal | null, name: string, path: string): Promise<void> {
    const { repo, storage } = await this.open(actor, name, "delete");
    const key = this.requiredPath(path);
    if (!(await storage.delete(key))) throw notFound(`Artifact '${key}' not found in repository '${name}'`);
    for (const ext of ["md5", "sha1", "sha256", "sha512", "asc"]) await storage.delete(`${key}.${ext}`).catch(() => false);
    await this.remove(repo.name, key);
    await this.afterDelete(repo, storage, key, false);
  }

  /** Deletes a whole folder (package / version directory) and everything below it. */
  async deletePackage(actor: Principal | null, name: string, path: string): Promise<void> {
    const { repo, storage } = await this.open(actor, name, "delete");
    const key = this.requiredPath(path);
    const count = await storage.deletePrefix(key + "/");
    const single = await storage.delete(key).catch(() => false);
    if (count === 0 && !single) throw notFound(`Package '${key}' not found in repository '${name}'`);
    await this.removePrefix(repo.name, key);
    if (single) await this.remove(repo.name, key);
    await this.afterDelete(repo, storage, key, true);
  }

  private async afterDelete(repo: RepositoryRecord, storage: Storage, key: string, folder: boolean): Promise<void> {
    const { formatModule } = await import("../formats/registry.js");
    await formatModule(repo.format)?.afterDelete?.({ app: this.app, repo, storage, path: key, folder });
  }
}
