// The request a format operation sees, and the file source behind it: the one place that decides,
// by repository kind, where a format's files come from (hosted storage, a proxy's cache filled from
// its remotes under cooldown, a group's members in order with metadata merged).
import type { Readable } from "node:stream";
import type { Principal, RepositoryAction } from "../../auth/permissions.js";
import { DomainError, forbidden, methodNotAllowed, unauthorized } from "../../errors.js";
import type { RepositoryRecord } from "../../repositories/types.js";
import type { ListEntry, Storage } from "../../storage/types.js";
import type { ArtifactId, FetchPlan, FileHit, FileSource, FormatPlugin, FormatRequest, FormatServices, HostedTarget, Method } from "./contract.js";
import type { ProxyCache } from "./proxy-cache.js";
import { encodePath, metadataTtlMs } from "./upstream.js";
import { readBounded } from "../../streams.js";

/** How deep groups may nest (a group of groups of ...): deeper members are ignored. */
export const MAX_GROUP_DEPTH = 8;

/** What the kit needs to build requests: repositories and their storage, and the node's proxy cache. */
export interface KitEnv {
  services: FormatServices;
  proxyCache: ProxyCache;
  findRepository(name: string): Promise<RepositoryRecord | null>;
  storageFor(repo: RepositoryRecord): Promise<Storage>;
  /** The plugin serving a format (members of another plugin's format are skipped by groups). */
  pluginOf(format: string): FormatPlugin | undefined;
}

/** The transport-level parts of a request (shared by a group and its members). */
export interface Incoming {
  method: Method;
  path: string;
  trailingSlash: boolean;
  query: URLSearchParams;
  header(name: string): string | undefined;
  body: Readable;
  ip: string;
  actor: Principal;
  baseUrl: string;
}

/** Throws 401 (anonymous) or 403 when `actor` may not do `action` on `repo`. */
export function requireRepository(actor: Principal, repo: string, action: RepositoryAction): void {
  if (actor.permissions.allowsRepository(repo, action)) return;
  if (actor.via === "anonymous") throw unauthorized("Authentication required");
  throw forbidden(`Permission denied: '${action}' on repository '${repo}' is required`);
}

const MAX_METADATA_BYTES = 64 * 1024 * 1024;

export class KitRequest implements FormatRequest, FileSource {
  readonly files: FileSource = this;
  params: Record<string, string> = {};

  constructor(
    private readonly env: KitEnv,
    readonly plugin: FormatPlugin,
    private readonly incoming: Incoming,
    readonly repo: RepositoryRecord,
    readonly storage: Storage,
    /** How many groups deep this request is (0: the repository the client addressed). */
    private readonly depth = 0,
    /** Whose permissions a read needs: a group's member is read through the group. */
    private readonly readAs: string = repo.name,
  ) {}

  get method() {
    return this.incoming.method;
  }
  get path() {
    return this.incoming.path;
  }
  get trailingSlash() {
    return this.incoming.trailingSlash;
  }
  get query() {
    return this.incoming.query;
  }
  get body() {
    return this.incoming.body;
  }
  get ip() {
    return this.incoming.ip;
  }
  get actor() {
    return this.incoming.actor;
  }
  get baseUrl() {
    return this.incoming.baseUrl;
  }
  get services() {
    return this.env.services;
  }
  header(name: string): string | undefined {
    return this.incoming.header(name);
  }

  require(action: RepositoryAction): void {
    // Access is decided on the repository the client addressed: who may read a group reads through it.
    requireRepository(this.actor, action === "read" ? this.readAs : this.repo.name, action);
  }

  async members(): Promise<FormatRequest[]> {
    return this.memberRequests();
  }

  private async memberRequests(): Promise<KitRequest[]> {
    if (this.repo.kind !== "group" || this.depth >= MAX_GROUP_DEPTH) return [];
    const out: KitRequest[] = [];
    for (const name of this.repo.members) {
      if (name === this.repo.name) continue;
      const repo = await this.env.findRepository(name);
      if (!repo || this.env.pluginOf(repo.format) !== this.plugin) continue;
      const storage = await this.env.storageFor(repo);
      out.push(new KitRequest(this.env, this.plugin, this.incoming, repo, storage, this.depth + 1, this.readAs));
    }
    return out;
  }

  async writeTarget(): Promise<HostedTarget> {
    if (this.repo.kind === "hosted") {
      requireRepository(this.actor, this.repo.name, "write");
      return { repo: this.repo, storage: this.storage };
    }
    if (this.repo.kind === "group" && this.plugin.groupWrites) {
      requireRepository(this.actor, this.repo.name, "write");
      for (const m of await this.memberRequests()) {
        if (m.repo.kind !== "hosted") continue;
        requireRepository(this.actor, m.repo.name, "write");
        return { repo: m.repo, storage: m.storage };
      }
    }
    throw methodNotAllowed(`Repository '${this.repo.name}' (${this.repo.type}) is read-only`);
  }

  // ---- FileSource ------------------------------------------------------------------------

  async read(key: string): Promise<Buffer | null> {
    // Hosted: one storage read (no stat first); metadata is read on every request.
    if (this.repo.kind === "hosted") return readStored({ storage: this.storage, key });
    const hit = await this.get(key);
    if (!hit) return null;
    return hit.bytes ?? readStored(hit);
  }

  get(key: string): Promise<FileHit | null> {
    switch (this.repo.kind) {
      case "hosted":
        return this.hosted(key);
      case "proxy":
        return this.proxied(key);
      case "group":
        return this.grouped(key);
    }
  }

  async list(dir: string): Promise<ListEntry[]> {
    if (this.repo.kind !== "group") {
      const entries = await this.storage.list(dir ? dir + "/" : "", { delimiter: "/" });
      return this.repo.kind === "proxy" ? this.hideBlocked(entries) : entries;
    }
    const out = new Map<string, ListEntry>();
    for (const m of await this.memberRequests()) for (const e of await m.list(dir)) if (!out.has(e.key)) out.set(e.key, e);
    return [...out.values()];
  }

  open(key: string): Promise<FileHit | null> {
    return this.repo.kind === "hosted" ? this.hosted(key, true) : this.get(key);
  }

  private async hosted(key: string, sending = false): Promise<FileHit | null> {
    if (this.plainGet()) {
      // The common read: one storage read, no stat first; a small file's bytes go out as they are.
      const obj = await this.storage.get(key);
      if (!obj) return null;
      const stat = { key, size: obj.size, modified: obj.modified };
      if (obj.data || sending) return { repo: this.repo, storage: this.storage, key, stat, opened: obj };
      obj.stream.destroy(); // a large file read for another purpose: streamed again if it is sent after all
      return { repo: this.repo, storage: this.storage, key, stat };
    }
    const stat = await this.storage.stat(key);
    return stat ? { repo: this.repo, storage: this.storage, key, stat } : null;
  }

  /** A GET with no range or validators: the whole file will be read if it is sent. */
  private plainGet(): boolean {
    const h = this.incoming;
    return this.method === "GET" && h.header("range") === undefined && h.header("if-none-match") === undefined && h.header("if-modified-since") === undefined;
  }

  private cooldownId(key: string): ArtifactId | null {
    const layout = this.plugin.layout;
    return layout.cooldownId ? layout.cooldownId(key) : layout.describe(key);
  }

  private async proxied(key: string): Promise<FileHit | null> {
    const { layout } = this.plugin;
    const plan: FetchPlan | null = this.plugin.proxy?.plan ? await this.plugin.proxy.plan(key, this) : {};
    if (!plan) return null;
    const metadata = layout.isMetadata(key);
    const artifact = plan.artifact !== undefined ? plan.artifact : metadata ? null : layout.describe(key);
    const gated = metadata ? null : (plan.artifact ?? this.cooldownId(key));
    if (gated) await this.cooldownGate(key, gated, plan);
    const { services } = this.env;
    const res = await this.env.proxyCache.fetch(this.repo, this.storage, key, {
      remotePath: plan.remotePath,
      headers: plan.headers,
      transform: plan.transform,
      maxAgeMs: plan.maxAgeMs ?? (metadata ? metadataTtlMs(this.repo) : undefined),
      onStored: async ({ size, digests, upstream }) => {
        if (!artifact) return;
        await services.artifacts.record(this.repo, {
          path: key,
          name: artifact.name,
          version: artifact.version,
          size,
          checksums: { ...digests },
          owner: "",
          releasedAt: plan.releasedAt !== undefined ? plan.releasedAt : upstream.lastModified,
        });
      },
    });
    if (!res) return null;
    const hit: FileHit = { repo: this.repo, storage: this.storage, key, stat: res.stat };
    if (metadata && this.plugin.proxy?.filterCooldown) {
      const policy = await services.cooldown.policy(this.repo.type);
      if (policy.enabled) {
        const doc = await readStored(hit);
        const filtered = doc && (await this.plugin.proxy.filterCooldown(key, doc, this));
        if (filtered) hit.bytes = filtered;
      }
    }
    return hit;
  }

  /**
   * Cooldown before a proxied artifact is served: with a known release date (npm `time`) it is
   * judged by that; otherwise a cached file is refused only while a block is active, and a miss
   * asks the remotes (HEAD) for its Last-Modified before anything is downloaded.
   */
  private async cooldownGate(key: string, id: ArtifactId, plan: FetchPlan): Promise<void> {
    const { cooldown, upstream } = this.env.services;
    if (plan.releasedAt !== undefined) {
      const d = plan.releasedAt
        ? await cooldown.evaluate(this.repo, id.name, id.version, plan.releasedAt)
        : await cooldown.isBlocked(this.repo, id.name, id.version);
      if (!d.allowed) throw forbidden(d.message);
      return;
    }
    const policy = await cooldown.policy(this.repo.type);
    if (!policy.enabled || policy.ageMs <= 0) return;
    if (await this.storage.exists(key)) {
      const d = await cooldown.isBlocked(this.repo, id.name, id.version);
      if (!d.allowed) throw forbidden(d.message);
      return;
    }
    for (const remote of this.repo.remotes) {
      if (!remote?.url) continue;
      const res = await upstream.fetch(remote, plan.remotePath ?? encodePath(key), { method: "HEAD", headers: plan.headers }).catch(() => null);
      if (!res) continue;
      res.body?.destroy();
      if (res.status >= 200 && res.status < 300) {
        const d = res.lastModified
          ? await cooldown.evaluate(this.repo, id.name, id.version, res.lastModified)
          : await cooldown.isBlocked(this.repo, id.name, id.version);
        if (!d.allowed) throw forbidden(d.message);
        return;
      }
    }
  }

  /** Cooldown: a proxy does not list cached files of versions with an active block. */
  private async hideBlocked(entries: ListEntry[]): Promise<ListEntry[]> {
    const files = entries.filter((e) => e.kind === "file");
    if (!files.length) return entries;
    const policy = await this.env.services.cooldown.policy(this.repo.type);
    if (!policy.enabled) return entries;
    const hidden = new Set<string>();
    const byName = new Map<string, { key: string; version: string }[]>();
    for (const e of files) {
      const id = this.cooldownId(e.key);
      if (id) byName.set(id.name, [...(byName.get(id.name) ?? []), { key: e.key, version: id.version }]);
    }
    for (const [name, list] of byName) {
      const blocked = new Set((await this.env.services.cooldown.activeBlocks([this.repo.name], name)).map((b) => b.version));
      for (const f of list) if (blocked.has(f.version)) hidden.add(f.key);
    }
    return hidden.size ? entries.filter((e) => !hidden.has(e.key)) : entries;
  }

  private async grouped(key: string): Promise<FileHit | null> {
    const members = await this.memberRequests();
    const merges = this.plugin.mergeMetadata && this.plugin.layout.isMetadata(key);
    // (A holder, not a variable: the closure below assigns it, which narrowing does not follow.)
    const failed: { error?: Error } = {};
    const attempt = async (m: KitRequest): Promise<FileHit | null> => {
      try {
        return await m.get(key);
      } catch (err) {
        // A cooldown refusal is the answer; one broken member must not hide the others' files.
        if (err instanceof DomainError && err.code === "FORBIDDEN") throw err;
        this.env.services.log.warn("group member failed", { group: this.repo.name, member: m.repo.name, key, err: (err as Error).message });
        failed.error = err instanceof Error ? err : new Error(String(err));
        return null;
      }
    };
    if (merges) {
      const hits = await Promise.all(members.map(attempt));
      const docs: { repo: RepositoryRecord; bytes: Buffer; modified: Date }[] = [];
      for (const hit of hits) {
        const bytes = hit && (hit.bytes ?? (await readStored(hit)));
        if (hit && bytes) docs.push({ repo: hit.repo, bytes, modified: hit.stat.modified });
      }
      if (!docs.length) {
        if (failed.error) throw failed.error;
        return null;
      }
      const merged = await this.plugin.mergeMetadata!(key, docs, this);
      if (merged) {
        const modified = new Date(Math.max(...docs.map((d) => d.modified.getTime())));
        return { repo: this.repo, storage: this.storage, key, stat: { key, size: merged.length, modified }, bytes: merged };
      }
      const first = hits.find((h) => h);
      return first ?? null;
    }
    for (const m of members) {
      const hit = await attempt(m);
      if (hit) return hit;
    }
    if (failed.error) throw failed.error;
    return null;
  }
}

/** The whole content of a stored file hit (metadata documents: bounded). */
export async function readStored(hit: Pick<FileHit, "storage" | "key">): Promise<Buffer | null> {
  const obj = await hit.storage.get(hit.key);
  if (!obj) return null;
  if (obj.data) return obj.data;
  return readBounded(obj.stream, MAX_METADATA_BYTES, () => new DomainError("PAYLOAD_TOO_LARGE", `'${hit.key}' is larger than ${MAX_METADATA_BYTES} bytes`));
}
