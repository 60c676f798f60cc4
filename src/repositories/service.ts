// Repository management: validation, CRUD, move and delete, plus the cached `find`
// the repository port uses on every request (dropped on `repository.changed`, which the
// bus fans out over Redis so every node sees config changes at once, and which the change
// feed replays within its poll interval when Redis missed it; entries also expire).
import type { Prisma, PrismaClient } from "../db/index.js";
import type { EventBus } from "../events/bus.js";
import { badRequest, conflict, forbidden, notFound } from "../errors.js";
import { requireApi, type Principal, type RepositoryAction } from "../auth/permissions.js";
import { maskSecrets, restoreMasked } from "../settings/mask.js";
import { pageRequest, toPage } from "../pagination.js";
import type { StorageService } from "../storage/service.js";
import { parseRepositoryType, type RemoteConfig, type RepositoryRecord, type RepositoryTypes } from "./types.js";
import { isObject } from "../json.js";
import { refreshOrStale } from "../db/errors.js";

const REPO_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const RESERVED = new Set(["api", "v2"]);
const NEGATIVE_CACHE_MAX = 10_000;

/** How long `find` trusts what it cached: misses briefly, records up to a last-resort maximum age. */
export interface RepositoryCacheTtl {
  /** A remembered miss (default: the change feed's poll interval). */
  missMs: number;
  /** A found record, in case no event and no feed ever drops it. */
  hitMs: number;
}
const DEFAULT_CACHE_TTL: RepositoryCacheTtl = { missMs: 2_000, hitMs: 60_000 };

export function validateRepositoryName(name: string): string {
  if (typeof name !== "string" || name.length === 0) throw badRequest("Repository name must not be empty");
  if (name.startsWith(".")) throw badRequest(`Repository name '${name}' is invalid: names must not start with '.'`);
  if (RESERVED.has(name.toLowerCase())) throw badRequest(`Repository name '${name}' is reserved`);
  if (!REPO_NAME.test(name)) {
    throw badRequest(`Repository name '${name}' is invalid: use 1-128 letters, digits, '.', '_' or '-', starting with a letter, digit or '_'`);
  }
  return name;
}

/**
 * The per-repository check of the management API (the repository port's, with one difference):
 * a repository the caller may not read answers exactly as a missing one, so names cannot be probed.
 * Other actions (delete) need their own grant, as on the repository port; 403 when it is missing.
 */
export function requireRepositoryAccess(actor: Principal, name: string, action: RepositoryAction): void {
  const perms = actor.permissions;
  if (perms.allowsRepository(name, action)) return;
  if (!perms.allowsRepository(name, "read")) throw notFound(`Repository '${name}' not found`);
  throw forbidden(`Permission denied: '${action}' on repository '${name}' is required`);
}

type Row = { name: string; type: string; storage: string; config: Prisma.JsonValue };

/**
 * The record of a stored row. A row of a type this build does not serve (made by a build with
 * more formats, or before types were checked) keeps the format its type names — the repository
 * port answers 501 for it — and a type of no recognisable form is its own format, never "file".
 */
export function toRecord(row: Row): RepositoryRecord {
  const parsed = parseRepositoryType(row.type);
  const config = (isObject(row.config) ? row.config : {}) as Record<string, unknown>;
  return {
    name: row.name,
    type: row.type,
    format: parsed?.format ?? row.type,
    kind: parsed?.kind ?? "hosted",
    storage: row.storage,
    remotes: Array.isArray(config.remotes) ? (config.remotes as RemoteConfig[]) : [],
    members: Array.isArray(config.members) ? (config.members as string[]) : [],
    config: { ...config, type: row.type, storage: row.storage },
  };
}

export interface RepositoryListArgs {
  page?: number | null;
  size?: number | null;
  type?: string | null;
  q?: string | null;
}

export class RepositoryService {
  private cache = new Map<string, { record: RepositoryRecord | null; until: number }>();
  /** Bumped by every invalidation: a lookup that overlapped one does not cache what it read (it may predate the change). */
  private generation = 0;
  private listeners = new Set<(name: string) => void>();

  constructor(
    private prisma: PrismaClient,
    private bus: EventBus,
    private storages: StorageService,
    /** The repository types the registered format plugins serve, and their config schemas (the FormatRegistry). */
    readonly types: RepositoryTypes,
    /** Public base URL of the repository port (member URLs). */
    private repoBaseUrl: () => string = () => "http://localhost:8080",
    private cacheTtl: RepositoryCacheTtl = DEFAULT_CACHE_TTL,
  ) {
    bus.on((e) => {
      if (e.type === "repository.changed") {
        this.forget(e.name);
        for (const l of this.listeners) l(e.name);
      }
    });
  }

  /** Called with the repository name on every change on any node (config, move, delete). */
  onChange(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- hot path (no permission check: the caller checks repository actions) ----

  async find(name: string): Promise<RepositoryRecord | null> {
    const hit = this.cache.get(name);
    if (hit && hit.until > Date.now()) return hit.record;
    const generation = this.generation;
    const read = await refreshOrStale(() => this.prisma.repository.findUnique({ where: { name } }), hit);
    if ("stale" in read) return read.stale.record;
    const row = read.fresh;
    const rec = row ? toRecord(row) : null;
    if (generation !== this.generation) return rec;
    if (!rec && this.cache.size > NEGATIVE_CACHE_MAX) this.cache.clear();
    this.cache.set(name, { record: rec, until: Date.now() + (rec ? this.cacheTtl.hitMs : this.cacheTtl.missMs) });
    return rec;
  }

  private forget(name: string) {
    this.generation++;
    this.cache.delete(name);
  }

  /** Every repository (unfiltered; for internal use such as group resolution and Indy). */
  async all(where: Prisma.RepositoryWhereInput = {}): Promise<RepositoryRecord[]> {
    const rows = await this.prisma.repository.findMany({ where, orderBy: { name: "asc" } });
    return rows.map(toRecord);
  }

  // ---- management (REST section 4) ----

  async list(actor: Principal | null, args: RepositoryListArgs) {
    const me = requireApi(actor, "api_repository_permissions", "read");
    const req = pageRequest(args.page, args.size);
    const where: Prisma.RepositoryWhereInput = {};
    if (args.type?.trim()) where.type = { contains: args.type.trim(), mode: "insensitive" };
    if (args.q?.trim()) where.name = { contains: args.q.trim(), mode: "insensitive" };
    const rows = await this.prisma.repository.findMany({ where, select: { name: true, type: true }, orderBy: { name: "asc" } });
    const visible = rows.filter((r) => me.permissions.allowsRepository(r.name, "read"));
    return toPage(visible.slice(req.page * req.size, (req.page + 1) * req.size), visible.length, req);
  }

  /** The repository as configured, secrets masked ("ab***yz"; a PUT of the masked value keeps them). */
  async get(actor: Principal | null, name: string): Promise<RepositoryRecord> {
    const me = requireApi(actor, "api_repository_permissions", "read");
    requireRepositoryAccess(me, name, "read");
    const row = await this.prisma.repository.findUnique({ where: { name } });
    if (!row) throw notFound(`Repository '${name}' not found`);
    const rec = toRecord(row);
    return { ...rec, remotes: maskSecrets(rec.remotes) as RemoteConfig[], config: maskSecrets(rec.config) as Record<string, unknown> };
  }

  /** False too for a repository the caller may not read (as `get` answers 404 for it). */
  async exists(actor: Principal | null, name: string): Promise<boolean> {
    const me = requireApi(actor, "api_repository_permissions", "read");
    if (!me.permissions.allowsRepository(name, "read")) return false;
    return (await this.prisma.repository.count({ where: { name } })) > 0;
  }

  /**
   * Validates a `repo` config object for `name`: its type must be one a registered format serves,
   * its fields must satisfy that format's config schema, its storage alias and members must exist.
   * Returns the normalised config (unknown fields kept as given).
   */
  async validate(name: string, raw: unknown): Promise<{ type: string; storage: string; config: Record<string, unknown> }> {
    if (!isObject(raw)) throw badRequest('Body must be {"repo": {"type": ..., "storage": ...}}');
    const type = raw.type;
    if (typeof type !== "string" || !type) throw badRequest(`'repo.type' is required: one of ${this.types.types().join(", ")}`);
    const parsed = this.types.parseType(type);
    if (!parsed) throw badRequest(`Unknown repository type '${type}'; supported types: ${this.types.types().join(", ")}`);
    const schema = this.types.plugin(parsed.format)?.config;
    const config: Record<string, unknown> = schema ? schema.parse({ ...raw, type }, parsed.kind) : { ...raw, type };
    const storage = config.storage;
    if (typeof storage !== "string" || !storage) throw badRequest("'repo.storage' is required and must name a storage alias");
    if (!(await this.storages.resolveAlias(name, storage))) throw badRequest(`Storage alias '${storage}' does not exist`);
    if (parsed.kind === "group") {
      const list = Array.isArray(config.members) ? (config.members as string[]) : [];
      if (list.includes(name)) throw badRequest(`Group '${name}' cannot be a member of itself`);
      if (list.length) {
        const rows = await this.prisma.repository.findMany({ where: { name: { in: list } }, select: { name: true, type: true, config: true } });
        const missing = list.filter((m) => !rows.some((r) => r.name === m));
        if (missing.length) throw badRequest(`Unknown member repositories: ${missing.join(", ")}`);
        for (const r of rows) {
          const p = parseRepositoryType(r.type);
          if (p && p.format !== parsed.format)
            throw badRequest(`Member '${r.name}' is a ${r.type} repository; a ${type} group takes ${parsed.format} repositories`);
        }
        await this.checkNoCycle(name, list);
      }
    }
    return { type, storage, config };
  }

  /** Rejects member lists through which `name` would reach itself. */
  private async checkNoCycle(name: string, members: string[]): Promise<void> {
    const seen = new Set<string>();
    const stack = [...members];
    while (stack.length) {
      const m = stack.pop()!;
      if (m === name) throw badRequest(`Group '${name}' would contain itself through its members (cycle)`);
      if (seen.has(m)) continue;
      seen.add(m);
      const row = await this.prisma.repository.findUnique({ where: { name: m }, select: { config: true } });
      const c = row?.config;
      if (isObject(c) && Array.isArray(c.members)) stack.push(...(c.members as string[]));
    }
  }

  /** Creates or updates; `body` is the `repo` object. Returns whether it was created. */
  async put(actor: Principal | null, name: string, body: unknown): Promise<{ created: boolean; record: RepositoryRecord }> {
    const existing = await this.prisma.repository.findUnique({ where: { name } });
    requireApi(actor, "api_repository_permissions", existing ? "update" : "create");
    validateRepositoryName(name);
    const validated = await this.validate(name, body);
    const { type, storage } = validated;
    // A config read back from GET carries masked secrets: those keep the stored values.
    const config = restoreMasked(validated.config, existing?.config, "repo");
    const data = { type, storage, config: config as Prisma.InputJsonValue };
    let row;
    if (existing) {
      const was = parseRepositoryType(existing.type);
      const now = this.types.parseType(type)!;
      if ((was?.format ?? existing.type) !== now.format) {
        const groups = await this.groupsContaining(name);
        if (groups.length) throw conflict(`Cannot change '${name}' to ${type}: it is a member of group(s): ${groups.map((g) => g.name).join(", ")}`);
      }
      row = await this.prisma.repository.update({ where: { name }, data });
    } else {
      try {
        row = await this.prisma.repository.create({ data: { name, ...data } });
      } catch (err) {
        if ((err as { code?: string }).code === "P2002") throw conflict(`Repository '${name}' already exists`);
        throw err;
      }
    }
    this.forget(name);
    await this.bus.publish({ type: "repository.changed", name });
    return { created: !existing, record: toRecord(row) };
  }

  /** Group repositories (name and config, by name) that list `name` as a member. */
  private async groupsContaining(name: string): Promise<{ name: string; config: Prisma.JsonValue }[]> {
    const groups = await this.prisma.repository.findMany({
      where: { type: { endsWith: "-group" } },
      select: { name: true, config: true },
      orderBy: { name: "asc" },
    });
    return groups.filter((g) => isObject(g.config) && Array.isArray(g.config.members) && (g.config.members as unknown[]).includes(name));
  }

  /** Deletes the repository, its stored data, index rows and scoped aliases. 409 while a group lists it. */
  async delete(actor: Principal | null, name: string, opts: { removeFromGroups?: boolean } = {}): Promise<void> {
    requireApi(actor, "api_repository_permissions", "delete");
    const row = await this.prisma.repository.findUnique({ where: { name } });
    if (!row) throw notFound(`Repository '${name}' not found`);
    const groups = await this.groupsContaining(name);
    if (groups.length && !opts.removeFromGroups)
      throw conflict(`Cannot delete repository '${name}': it is a member of group(s): ${groups.map((g) => g.name).join(", ")}`);
    if (groups.length) {
      requireApi(actor, "api_repository_permissions", "update");
      for (const g of groups) {
        const c = g.config as Record<string, unknown>;
        await this.prisma.repository.update({
          where: { name: g.name },
          data: { config: { ...c, members: (c.members as string[]).filter((m) => m !== name) } as Prisma.InputJsonValue },
        });
        this.forget(g.name);
        await this.bus.publish({ type: "repository.changed", name: g.name });
      }
    }
    // Data first: if the storage is unreachable the repository stays and the caller can retry.
    const storage = await this.storages.forRepository(toRecord(row)).catch(() => null);
    if (storage) await storage.deletePrefix("");
    await this.prisma.$transaction([
      this.prisma.artifact.deleteMany({ where: { repoName: name } }),
      this.prisma.cooldownBlock.deleteMany({ where: { repoName: name } }),
      this.prisma.importKey.deleteMany({ where: { repoName: name } }),
      this.prisma.storageAlias.deleteMany({ where: { repository: name } }),
      this.prisma.repository.delete({ where: { name } }),
    ]);
    this.forget(name);
    await this.bus.publish({ type: "storage.changed", name: row.storage, repository: name });
    await this.bus.publish({ type: "repository.changed", name });
  }

  /** Renames everywhere: group members, role permissions, scoped aliases, stored data, index rows. */
  async move(actor: Principal | null, name: string, newName: unknown): Promise<void> {
    requireApi(actor, "api_repository_permissions", "move");
    if (typeof newName !== "string" || !newName) throw badRequest("'new_name' is required");
    const row = await this.prisma.repository.findUnique({ where: { name } });
    if (!row) throw notFound(`Repository '${name}' not found`);
    validateRepositoryName(newName);
    if (newName === name) return;
    if (await this.prisma.repository.findUnique({ where: { name: newName }, select: { id: true } })) throw conflict(`Repository '${newName}' already exists`);
    // Stored data: <alias root>/<name>/ -> <alias root>/<newName>/ (scoped aliases move with the repository).
    const aliasStorage = await this.storages.forAlias(name, row.storage);
    await aliasStorage.move(`${name}/`, `${newName}/`);
    const groups = await this.groupsContaining(name);
    const roles = await this.prisma.role.findMany();
    const roleUpdates = roles
      .map((r) => ({ r, p: renameInPermissions(r.permissions, name, newName) }))
      .filter((x) => x.p !== null)
      .map((x) => this.prisma.role.update({ where: { id: x.r.id }, data: { permissions: x.p as Prisma.InputJsonValue } }));
    await this.prisma.$transaction([
      this.prisma.repository.update({ where: { name }, data: { name: newName } }),
      ...groups.map((g) => {
        const c = g.config as Record<string, unknown>;
        const members = (c.members as string[]).map((m) => (m === name ? newName : m));
        return this.prisma.repository.update({ where: { name: g.name }, data: { config: { ...c, members } as Prisma.InputJsonValue } });
      }),
      ...roleUpdates,
      this.prisma.storageAlias.updateMany({ where: { repository: name }, data: { repository: newName } }),
      this.prisma.artifact.updateMany({ where: { repoName: name }, data: { repoName: newName } }),
      this.prisma.cooldownBlock.updateMany({ where: { repoName: name }, data: { repoName: newName } }),
      this.prisma.importKey.updateMany({ where: { repoName: name }, data: { repoName: newName } }),
    ]);
    this.forget(name);
    this.forget(newName);
    await this.bus.publish({ type: "storage.changed", name: row.storage, repository: newName });
    for (const n of [name, newName, ...groups.map((g) => g.name)]) await this.bus.publish({ type: "repository.changed", name: n });
    if (roleUpdates.length) await this.bus.publish({ type: "role.changed" });
  }

  /** Members of a group as URLs on the repository port (REST GET /repositories/:name/members). */
  async members(actor: Principal | null, name: string): Promise<{ type: string; members: string[] }> {
    const rec = await this.get(actor, name);
    if (rec.kind !== "group") return { type: "not-a-group", members: [] };
    const base = this.repoBaseUrl().replace(/\/+$/, "");
    return { type: rec.type, members: rec.members.map((m) => `${base}/${encodeURIComponent(m)}`) };
  }
}

/** Returns new permissions with repository key `from` renamed to `to`, or null when unchanged. */
function renameInPermissions(perms: Prisma.JsonValue, from: string, to: string): Record<string, unknown> | null {
  if (!isObject(perms)) return null;
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(perms)) {
    if (k === from) {
      out[to] = v;
      changed = true;
    } else if (k === "adapter_basic_permissions" && isObject(v) && from in v) {
      const nested: Record<string, unknown> = {};
      for (const [rk, rv] of Object.entries(v)) nested[rk === from ? to : rk] = rv;
      out[k] = nested;
      changed = true;
    } else out[k] = v;
  }
  return changed ? out : null;
}
