// Storage aliases (global and repository-scoped); their storages are built by the drivers of the registry it is given.
// `forRepository` is on the hot path: resolved storages are cached per node, dropped on
// `storage.changed` / `repository.changed` events (fanned out over Redis, repaired by the change
// feed), and re-resolved after a maximum age in case a node missed both.
import path from "node:path";
import type { PrismaClient } from "../db/index.js";
import type { EventBus } from "../events/bus.js";
import { badRequest, conflict, DomainError, notFound, unavailable } from "../errors.js";
import { requireApi, type Principal } from "../auth/permissions.js";
import { refreshOrStale } from "../db/errors.js";
import type { RepositoryRecord } from "../repositories/types.js";
import { maskSecrets, restoreMasked } from "../settings/mask.js";
import { SmallFileCache } from "./file-cache.js";
import { PrefixedStorage } from "./prefixed.js";
import type { Storage } from "./types.js";
import type { AliasConfig, StorageDriverRegistry } from "./driver.js";
import { isObject } from "../json.js";

export type { AliasConfig } from "./driver.js";
export interface AliasView {
  name: string;
  config: AliasConfig;
}

const ALIAS_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const DEFAULT_ALIAS = "default";

/** How long a repository's resolved storage is trusted without an event (as the repository cache's records). */
export const STORAGE_CACHE_MAX_AGE_MS = 60_000;

export interface StorageCacheOptions {
  /** Maximum age of a resolved repository storage. */
  maxAgeMs?: number;
  /** The clock the age is measured by (tests). */
  now?: () => number;
}

export class StorageService {
  /** Built drivers by alias, with the config they were built from: a changed config rebuilds. */
  private drivers = new Map<string, { storage: Storage; config: string }>();
  private repoStorages = new Map<string, { storage: PrefixedStorage; until: number }>();
  /** Bumped by every event, so a refresh that raced one does not cache what it read. */
  private generation = 0;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  readonly defaultConfig: AliasConfig;
  /** Small files this node read from fs storages (validated by a stat on every read; survives driver rebuilds). */
  readonly fileCache = new SmallFileCache();

  constructor(
    private prisma: PrismaClient,
    private bus: EventBus,
    /** The drivers alias types resolve to (built by the composition root). */
    private registry: StorageDriverRegistry,
    private dataDir: string,
    defaultPath?: string,
    cache: StorageCacheOptions = {},
  ) {
    this.defaultConfig = { type: "fs", path: path.resolve(defaultPath ?? path.join(dataDir, "storage")) };
    this.maxAgeMs = cache.maxAgeMs ?? STORAGE_CACHE_MAX_AGE_MS;
    this.now = cache.now ?? Date.now;
    bus.on((e) => {
      if (e.type === "storage.changed" || e.type === "repository.changed") this.generation++;
      if (e.type === "storage.changed") {
        this.drivers.clear();
        this.repoStorages.clear();
      } else if (e.type === "repository.changed") {
        for (const k of this.repoStorages.keys()) if (k.startsWith(e.name + "\0")) this.repoStorages.delete(k);
      }
    });
  }

  /** Validates and normalises an alias config through its type's driver (400 on bad input). */
  validateConfig(raw: unknown): AliasConfig {
    return this.registry.validate(raw, { dataDir: this.dataDir });
  }

  private static validateName(name: string) {
    if (!ALIAS_NAME.test(name)) throw badRequest(`Storage alias name '${name}' is invalid: use 1-64 letters, digits, '.', '_' or '-'`);
  }

  /**
   * The storage of a stored alias config. A type this node has no driver for (an alias saved by a
   * node with more drivers) or a config its driver rejects (written around the API) is a 503 naming
   * the alias: the server's configuration is at fault, not the request.
   */
  private driverFor(cacheKey: string, alias: string, config: AliasConfig): Storage {
    // Always called with the config just read, so a node that missed an event still rebuilds.
    const built = JSON.stringify(config);
    const hit = this.drivers.get(cacheKey);
    let d = hit?.config === built ? hit.storage : undefined;
    if (!d) {
      const type = isObject(config) && typeof config.type === "string" ? config.type : "";
      const driver = this.registry.get(type);
      if (!driver) throw unavailable(`No storage driver for type '${type}' (storage alias '${alias}'); supported: ${this.registry.types().join(", ")}`);
      let parsed: unknown;
      try {
        parsed = driver.parseConfig(config, { dataDir: this.dataDir });
      } catch (err) {
        if (err instanceof DomainError && err.code === "BAD_REQUEST") throw unavailable(`Storage alias '${alias}' has an invalid config: ${err.message}`);
        throw err;
      }
      d = driver.create(parsed, { fileCache: this.fileCache });
      this.drivers.set(cacheKey, { storage: d, config: built });
    }
    return d;
  }

  /** The alias a repository's `storage` names: scoped to the repository first, then global. */
  async resolveAlias(repo: string, alias: string): Promise<{ scope: string; name: string; config: AliasConfig } | null> {
    const rows = await this.prisma.storageAlias.findMany({ where: { name: alias, repository: { in: [repo, ""] } } });
    const row = rows.find((r) => r.repository === repo) ?? rows.find((r) => r.repository === "");
    if (row) return { scope: row.repository, name: row.name, config: row.config as AliasConfig };
    if (alias === DEFAULT_ALIAS) return { scope: "", name: DEFAULT_ALIAS, config: this.defaultConfig };
    return null;
  }

  /** The whole storage of an alias (all repositories using it live under `<repo>/`). */
  async forAlias(repo: string, alias: string): Promise<Storage> {
    const a = await this.resolveAlias(repo, alias);
    if (!a) throw notFound(`Storage alias '${alias}' not found`);
    return this.driverFor(`${a.scope}\0${a.name}`, a.name, a.config);
  }

  /** A storage whose keys are relative to the repository's root (`<alias root>/<repo>/`). */
  async forRepository(record: Pick<RepositoryRecord, "name" | "storage">): Promise<Storage> {
    const key = `${record.name}\0${record.storage}`;
    const hit = this.repoStorages.get(key);
    if (hit && hit.until > this.now()) return hit.storage;
    // Past its age: re-resolved (one query per key and age); while the database is down, the last one serves.
    const generation = this.generation;
    const read = await refreshOrStale(() => this.forAlias(record.name, record.storage), hit);
    if ("stale" in read) return read.stale.storage;
    const s = hit?.storage.inner === read.fresh ? hit.storage : new PrefixedStorage(read.fresh, record.name + "/");
    if (generation === this.generation) this.repoStorages.set(key, { storage: s, until: this.now() + this.maxAgeMs });
    return s;
  }

  /** Builds every alias's driver once, so fs drivers sweep what a crash left in their temp dirs at start. */
  async openAll(): Promise<void> {
    const rows = await this.prisma.storageAlias.findMany({ select: { repository: true, name: true } });
    for (const a of [{ repository: "", name: DEFAULT_ALIAS }, ...rows]) await this.forAlias(a.repository, a.name).catch(() => undefined);
  }

  // ---- management (REST section 7) ----

  async listGlobal(actor: Principal | null): Promise<AliasView[]> {
    requireApi(actor, "api_alias_permissions", "read");
    const rows = await this.prisma.storageAlias.findMany({ where: { repository: "" }, orderBy: { name: "asc" } });
    const out = rows.map((r) => ({ name: r.name, config: maskSecrets(r.config) as AliasConfig }));
    if (!rows.some((r) => r.name === DEFAULT_ALIAS)) out.unshift({ name: DEFAULT_ALIAS, config: this.defaultConfig });
    return out;
  }

  async listScoped(actor: Principal | null, repo: string): Promise<AliasView[]> {
    await this.requireRepository(requireApi(actor, "api_alias_permissions", "read"), repo);
    const rows = await this.prisma.storageAlias.findMany({ where: { repository: repo }, orderBy: { name: "asc" } });
    return rows.map((r) => ({ name: r.name, config: maskSecrets(r.config) as AliasConfig }));
  }

  async put(actor: Principal | null, repo: string | null, name: string, raw: unknown): Promise<void> {
    const me = requireApi(actor, "api_alias_permissions", "create");
    StorageService.validateName(name);
    const validated = this.validateConfig(raw);
    const repository = repo ?? "";
    if (repo !== null) await this.requireRepository(me, repo);
    const stored = await this.prisma.storageAlias.findUnique({ where: { repository_name: { repository, name } } });
    // Lists show secrets masked: a masked value sent back unchanged keeps the stored secret.
    const config = restoreMasked(validated, stored?.config, "config") as AliasConfig;
    await this.prisma.storageAlias.upsert({
      where: { repository_name: { repository, name } },
      create: { repository, name, config: config as object },
      update: { config: config as object },
    });
    await this.bus.publish({ type: "storage.changed", name, ...(repo !== null ? { repository: repo } : {}) });
  }

  async delete(actor: Principal | null, repo: string | null, name: string): Promise<void> {
    const me = requireApi(actor, "api_alias_permissions", "delete");
    const repository = repo ?? "";
    if (repo !== null) await this.requireRepository(me, repo);
    const row = await this.prisma.storageAlias.findUnique({ where: { repository_name: { repository, name } } });
    if (!row && !(repo === null && name === DEFAULT_ALIAS)) {
      throw notFound(repo === null ? `Storage alias '${name}' not found` : `Storage alias '${name}' not found in repository '${repo}'`);
    }
    const users = await this.usersOf(repository, name);
    if (users.length) throw conflict(`Cannot delete alias '${name}': used by repositories: ${users.join(", ")}`);
    if (!row) throw conflict(`Cannot delete alias '${name}': it is built in`);
    await this.prisma.storageAlias.delete({ where: { id: row.id } });
    await this.bus.publish({ type: "storage.changed", name, ...(repo !== null ? { repository: repo } : {}) });
  }

  /** Repositories whose `storage` resolves to this alias. */
  private async usersOf(scope: string, name: string): Promise<string[]> {
    if (scope) {
      const r = await this.prisma.repository.findUnique({ where: { name: scope }, select: { name: true, storage: true } });
      return r && r.storage === name ? [r.name] : [];
    }
    const repos = await this.prisma.repository.findMany({ where: { storage: name }, select: { name: true }, orderBy: { name: "asc" } });
    if (!repos.length) return [];
    const shadowed = await this.prisma.storageAlias.findMany({ where: { name, repository: { in: repos.map((r) => r.name) } }, select: { repository: true } });
    const s = new Set(shadowed.map((x) => x.repository));
    return repos.map((r) => r.name).filter((n) => !s.has(n));
  }

  /** The repository of a scoped alias; one the caller may not read answers as missing (no name probing). */
  private async requireRepository(actor: Principal, name: string) {
    const r = actor.permissions.allowsRepository(name, "read") ? await this.prisma.repository.findUnique({ where: { name }, select: { id: true } }) : null;
    if (!r) throw notFound(`Repository '${name}' not found`);
  }
}
