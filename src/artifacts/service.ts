// The artifact operations of REST section 8: tree, metadata, pull instructions, download
// authorisation (incl. HMAC download tokens), delete artifact, delete package folder. The index
// itself is ArtifactRecords (records.ts).
import { createHmac, timingSafeEqual } from "node:crypto";
import { requireApi, type Principal } from "../auth/permissions.js";
import { badRequest, notFound, unauthorized } from "../errors.js";
import type { FormatHooks } from "../formats/kit/hooks.js";
import type { RepositoryRecord } from "../repositories/types.js";
import { requireRepositoryAccess } from "../repositories/service.js";
import { DigestStream } from "../storage/digest.js";
import { normaliseKey, type Digests, type Storage } from "../storage/types.js";
import type { ArtifactRecords } from "./records.js";

export interface TreeItem {
  name: string;
  path: string;
  type: "file" | "directory";
  size?: number;
  modified?: Date;
}

const TOKEN_TTL_SECONDS = 60;

/** Hidden storage entries (temp dirs, internal state) never shown in trees. */
const hidden = (name: string) => name.startsWith(".pantera");

export interface ArtifactServiceDeps {
  records: Pick<ArtifactRecords, "find" | "remove" | "removePrefix">;
  repositories: { find(name: string): Promise<RepositoryRecord | null | undefined> };
  storages: { forRepository(repo: RepositoryRecord): Promise<Storage> };
  /** pullInstructions and afterDelete of the repository's format. */
  hooks: Pick<FormatHooks, "pullInstructions" | "afterDelete">;
  /** The HMAC key of download tokens (read at each use: keys rotate). */
  hmacSecret: () => Buffer;
  /** The repository port's public base URL (no trailing '/'), read at each use (the bound port is known late). */
  repoBaseUrl: () => string;
}

export class ArtifactService {
  constructor(private deps: ArtifactServiceDeps) {}

  /** The indexed row of one path, or null. */
  find(repo: string, path: string) {
    return this.deps.records.find(repo, path);
  }

  // ---- REST section 8 --------------------------------------------------------------------

  /** The one permission check of section 8: the API action, then the same action on the repository itself. */
  private async open(actor: Principal | null, name: string, action: "read" | "delete"): Promise<{ repo: RepositoryRecord; storage: Storage }> {
    requireRepositoryAccess(requireApi(actor, "api_repository_permissions", action), name, action);
    const repo = await this.deps.repositories.find(name);
    if (!repo) throw notFound(`Repository '${name}' not found`);
    return { repo, storage: await this.deps.storages.forRepository(repo) };
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
    const d = new DigestStream();
    obj.stream.pipe(d);
    for await (const _ of d); // drain
    return d.digests();
  }

  async pull(actor: Principal | null, name: string, path: string): Promise<{ type: string; instructions: string[] }> {
    const { repo } = await this.open(actor, name, "read");
    const key = this.requiredPath(path);
    const base = `${this.deps.repoBaseUrl().replace(/\/+$/, "")}/${repo.name}`;
    const instructions = this.deps.hooks.pullInstructions(repo, key, base) ?? [`curl -O ${base}/${key}`, `wget ${base}/${key}`];
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
    return createHmac("sha256", this.deps.hmacSecret()).update("download-token\0").update(payload).digest("base64url");
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
    const repo = await this.deps.repositories.find(claims.r);
    if (!repo) throw notFound(`Repository '${claims.r}' not found`);
    return this.downloadable(repo, await this.deps.storages.forRepository(repo), claims.p);
  }

  /** Deletes one artifact file (and its checksum sidecars); the format refreshes its metadata. */
  async deleteArtifact(actor: Principal | null, name: string, path: string): Promise<void> {
    const { repo, storage } = await this.open(actor, name, "delete");
    const key = this.requiredPath(path);
    if (!(await storage.delete(key))) throw notFound(`Artifact '${key}' not found in repository '${name}'`);
    for (const ext of ["md5", "sha1", "sha256", "sha512", "asc"]) await storage.delete(`${key}.${ext}`).catch(() => false);
    await this.deps.records.remove(repo.name, key);
    await this.deps.hooks.afterDelete(repo, storage, key, false);
  }

  /** Deletes a whole folder (package / version directory) and everything below it. */
  async deletePackage(actor: Principal | null, name: string, path: string): Promise<void> {
    const { repo, storage } = await this.open(actor, name, "delete");
    const key = this.requiredPath(path);
    const count = await storage.deletePrefix(key + "/");
    const single = await storage.delete(key).catch(() => false);
    if (count === 0 && !single) throw notFound(`Package '${key}' not found in repository '${name}'`);
    await this.deps.records.removePrefix(repo.name, key);
    if (single) await this.deps.records.remove(repo.name, key);
    await this.deps.hooks.afterDelete(repo, storage, key, true);
  }
}
