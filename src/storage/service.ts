// Storage aliases (global and repository-scoped) and the drivers behind them.
// `forRepository` is on the hot path: resolved storages are cached per node and
// dropped on `storage.changed` / `repository.changed` events (fanned out over Redis).
import path from "node:path";
import type { PrismaClient } from "../db/index.js";
import type { EventBus } from "../events/bus.js";
import { badRequest, conflict, notFound, unavailable } from "../errors.js";
import { requireApi, type Principal } from "../auth/permissions.js";
import type { RepositoryRecord } from "../repositories/types.js";
import { maskSecrets, restoreMasked } from "../settings/mask.js";
import { FsStorage } from "./fs.js";
import { SmallFileCache } from "./file-cache.js";
import { S3Storage, s3ConfigFromAlias } from "./s3.js";
import { PrefixedStorage } from "./prefixed.js";
import type { Storage } from "./types.js";
import { isObject } from "../json.js";

export type AliasConfig = Record<string, unknown> & { type: string };
export interface AliasView {
  name: string;
  config: AliasConfig;
}

/** What a node gives every driver it builds. */
export interface DriverEnv {
  /** The node's small-file cache (fs driver; see file-cache.ts). */
  fileCache: SmallFileCache;
}

/** Builds a driver for an alias config. */
export type DriverFactory = (config: AliasConfig, env: DriverEnv) => Storage;
const drivers = new Map<string, DriverFactory>([
  ["fs", (c, env) => new FsStorage(String(c.path), { cache: env.fileCache })],
  ["s3", (c) => new S3Storage(s3ConfigFromAlias(c))],
]);

const ALIAS_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const DEFAULT_ALIAS = "default";

export class StorageService {
  private drivers = new Map<string, Storage>();
  private repoStorages = new Map<string, Storage>();
  readonly defaultConfig: AliasConfig;
  /** Small files this node read from fs storages (validated by a stat on every read; survives driver rebuilds). */
  readonly fileCache = new SmallFileCache();

  constructor(
    private prisma: PrismaClient,
    private bus: EventBus,
    private dataDir: string,
    defaultPath?: string,
  ) {
    this.defaultConfig = { type: "fs", path: path.resolve(defaultPath ?? path.join(dataDir, "storage")) };
    bus.on((e) => {
      if (e.type === "storage.changed") {
        this.drivers.clear();
        this.repoStorages.clear();
      } else if (e.type === "repository.changed") {
        for (const k of this.repoStorages.keys()) if (k.startsWith(e.name + "\0")) this.repoStorages.delete(k);
      }
    });
  }

  /** Validates and normalises an alias config (400 on bad input). */
  validateConfig(raw: unknown): AliasConfig {
    if (!isObject(raw)) throw badRequest("Storage config must be a JSON object");
    const type = raw.type;
    if (typeof type !== "string" || !type) throw badRequest("Storage config needs a 'type' (fs or s3)");
    if (type === "fs") {
      if (typeof raw.path !== "string" || !raw.path.trim()) throw badRequest("An fs storage needs a 'path'");
      if (raw.path.includes("\0")) throw badRequest("'path' must not contain NUL bytes");
      return { ...raw, type, path: path.resolve(this.dataDir, raw.path) };
    }
    if (type === "s3") {
      if (typeof raw.bucket !== "string" || !/^[a-z0-9][a-z0-9.-]{1,62}$/.test(raw.bucket)) throw badRequest("An s3 storage needs a valid 'bucket'");
      if (raw.region !== undefined && typeof raw.region !== "string") throw badRequest("'region' must be a string");
      if (raw.endpoint !== undefined) {
        if (typeof raw.endpoint !== "string") throw badRequest("'endpoint' must be a URL");
        let u: URL;
        try {
          u = new URL(raw.endpoint);
        } catch {
          throw badRequest(`'endpoint' is not a valid URL: ${raw.endpoint}`);
        }
        if (u.protocol !== "http:" && u.protocol !== "https:") throw badRequest("'endpoint' must be an http(s) URL");
      }
      if (raw.credentials !== undefined) {
        const c = raw.credentials;
        if (!isObject(c)) throw badRequest("'credentials' must be an object");
        const id = c.accessKeyId ?? c["access-key-id"];
        const secret = c.secretAccessKey ?? c["secret-access-key"];
        if (typeof id !== "string" || typeof secret !== "string") throw badRequest("'credentials' needs 'accessKeyId' and 'secretAccessKey'");
      }
      for (const k of ["path-style", "pathStyle"]) {
        if (raw[k] !== undefined && typeof raw[k] !== "boolean") throw badRequest(`'${k}' must be a boolean`);
      }
      if (raw.prefix !== undefined && typeof raw.prefix !== "string") throw badRequest("'prefix' must be a string");
      return { ...raw, type };
    }
    throw badRequest(`Unknown storage type '${type}'; known: fs, s3`);
  }

  private static validateName(name: string) {
    if (!ALIAS_NAME.test(name)) throw badRequest(`Storage alias name '${name}' is invalid: use 1-64 letters, digits, '.', '_' or '-'`);
  }

  private driverFor(cacheKey: string, config: AliasConfig): Storage {
    let d = this.drivers.get(cacheKey);
    if (!d) {
      const factory = drivers.get(config.type);
      if (!factory) throw unavailable(`No storage driver for type '${config.type}'`);
      d = factory(config, { fileCache: this.fileCache });
      this.drivers.set(cacheKey, d);
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
    return this.driverFor(`${a.scope}\0${a.name}`, a.config);
  }

  /** A storage whose keys are relative to the repository's root (`<alias root>/<repo>/`). */
  async forRepository(record: Pick<RepositoryRecord, "name" | "storage">): Promise<Storage> {
    const key = `${record.name}\0${record.storage}`;
    const cached = this.repoStorages.get(key);
    if (cached) return cached;
    const s = new PrefixedStorage(await this.forAlias(record.name, record.storage), record.name + "/");
    this.repoStorages.set(key, s);
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
