// Indy store API over repositories: hosted <-> <pkg>, remote <-> <pkg>-proxy, group <-> <pkg>-group.
// Stores ARE repositories (same names, same permissions); Indy-only fields live in config.indy.
import type { RepositoryService } from "../repositories/service.js";
import { badRequest, conflict, notFound } from "../errors.js";
import { requireApi, type Principal } from "../auth/permissions.js";
import type { RepositoryRecord } from "../repositories/types.js";
import { isObject } from "../json.js";

export type StoreType = "hosted" | "remote" | "group";
export const STORE_TYPES: StoreType[] = ["hosted", "remote", "group"];
export const PACKAGE_TYPES = ["maven", "npm"] as const;
export type PackageType = (typeof PACKAGE_TYPES)[number];

const KIND: Record<StoreType, "hosted" | "proxy" | "group"> = { hosted: "hosted", remote: "proxy", group: "group" };
const SUFFIX: Record<StoreType, string> = { hosted: "", remote: "-proxy", group: "-group" };
const DERIVED = new Set(["key", "type", "name", "doctype", "constituents", "url", "host", "port", "packageType"]);

const HOSTED_DEFAULTS = { allow_snapshots: true, allow_releases: true, snapshotTimeoutSeconds: 86400 };
const REMOTE_DEFAULTS = { timeout_seconds: 0, nfc_timeout_seconds: 0, is_passthrough: false, cache_timeout_seconds: 0, proxy_port: 0 };

export function storeTypeOf(rec: RepositoryRecord): StoreType {
  return rec.kind === "proxy" ? "remote" : rec.kind;
}

/** "group:public", "maven:group:public" -> parts; throws 400 on anything else. */
export function parseKey(key: string, pkg: PackageType): { pkg: PackageType; type: StoreType; name: string } {
  const parts = key.split(":");
  if (parts.length === 3 && (PACKAGE_TYPES as readonly string[]).includes(parts[0]) && (STORE_TYPES as string[]).includes(parts[1]) && parts[2]) {
    return { pkg: parts[0] as PackageType, type: parts[1] as StoreType, name: parts[2] };
  }
  if (parts.length === 2 && (STORE_TYPES as string[]).includes(parts[0]) && parts[1]) return { pkg, type: parts[0] as StoreType, name: parts[1] };
  throw badRequest(`Invalid store key '${key}': use <type>:<name> or <package>:<type>:<name>`);
}

export class IndyService {
  constructor(private deps: { repositories: Pick<RepositoryService, "find" | "all" | "put" | "delete"> }) {}

  private repoType(pkg: PackageType, type: StoreType) {
    return pkg + SUFFIX[type];
  }

  private matches(rec: RepositoryRecord | null, pkg: PackageType, type: StoreType): boolean {
    return !!rec && rec.format === pkg && rec.kind === KIND[type];
  }

  /** The Indy JSON of a repository. `threePart` selects `maven:group:x` keys (the /stores form). */
  async toStore(rec: RepositoryRecord, threePart: boolean): Promise<Record<string, unknown>> {
    const type = storeTypeOf(rec);
    const key = (n: string, t: StoreType) => (threePart ? `${rec.format}:${t}:${n}` : `${t}:${n}`);
    const extras = isObject(rec.config.indy) ? rec.config.indy : {};
    const out: Record<string, unknown> = { type, key: key(rec.name, type) };
    if (threePart) out.packageType = rec.format;
    if (type === "hosted") Object.assign(out, HOSTED_DEFAULTS);
    if (type === "remote") {
      const url = rec.remotes[0]?.url ?? "";
      let host = "";
      let port = 0;
      try {
        const u = new URL(url);
        host = u.hostname;
        port = u.port ? Number(u.port) : u.protocol === "https:" ? 443 : 80;
      } catch {
        /* keep empty */
      }
      Object.assign(out, { host, port, url }, REMOTE_DEFAULTS);
    }
    if (type === "group" && rec.members.length) {
      const members = await Promise.all(rec.members.map((m) => this.deps.repositories.find(m)));
      out.constituents = members.filter((m): m is RepositoryRecord => !!m).map((m) => key(m.name, storeTypeOf(m)));
    }
    Object.assign(out, extras);
    out.doctype = type;
    out.name = rec.name;
    return out;
  }

  async list(actor: Principal | null, pkg: PackageType, type: StoreType, threePart: boolean) {
    const me = requireApi(actor, "api_repository_permissions", "read");
    const recs = await this.deps.repositories.all({ type: this.repoType(pkg, type) });
    const visible = recs.filter((r) => me.permissions.allowsRepository(r.name, "read"));
    return { items: await Promise.all(visible.map((r) => this.toStore(r, threePart))) };
  }

  async get(actor: Principal | null, pkg: PackageType, type: StoreType, name: string, threePart: boolean) {
    const me = requireApi(actor, "api_repository_permissions", "read");
    const rec = await this.deps.repositories.find(name);
    // A store the caller may not read answers as a missing one, as /api/v1/repositories does.
    if (!rec || !this.matches(rec, pkg, type) || !me.permissions.allowsRepository(name, "read")) throw notFound(`Store '${pkg}:${type}:${name}' not found`);
    return this.toStore(rec, threePart);
  }

  async exists(actor: Principal | null, pkg: PackageType, type: StoreType, name: string): Promise<boolean> {
    const me = requireApi(actor, "api_repository_permissions", "read");
    return me.permissions.allowsRepository(name, "read") && this.matches(await this.deps.repositories.find(name), pkg, type);
  }

  /** Builds the repository `repo` object from an Indy store definition. */
  private async toRepo(pkg: PackageType, type: StoreType, name: string, body: Record<string, unknown>, existing: RepositoryRecord | null) {
    const repo: Record<string, unknown> = existing ? { ...existing.config } : { storage: "default" };
    repo.type = this.repoType(pkg, type);
    const indy: Record<string, unknown> = existing && isObject(existing.config.indy) ? { ...existing.config.indy } : {};
    for (const [k, v] of Object.entries(body)) if (!DERIVED.has(k)) indy[k] = v;
    for (const [k, def] of Object.entries(type === "hosted" ? HOSTED_DEFAULTS : type === "remote" ? REMOTE_DEFAULTS : {})) {
      if (indy[k] !== undefined && typeof indy[k] !== typeof def) throw badRequest(`'${k}' must be a ${typeof def}`);
    }
    repo.indy = indy;
    if (type === "remote") {
      if (body.url !== undefined || !existing) {
        if (typeof body.url !== "string" || !body.url) throw badRequest("A remote store needs a 'url'");
        const remotes = Array.isArray(repo.remotes) ? [...(repo.remotes as Record<string, unknown>[])] : [];
        remotes[0] = { ...(remotes[0] ?? {}), url: body.url };
        repo.remotes = remotes;
      }
    }
    if (type === "group") {
      if (body.constituents !== undefined || !existing) {
        const list = body.constituents ?? [];
        if (!Array.isArray(list) || list.some((c) => typeof c !== "string")) throw badRequest("'constituents' must be a list of store keys");
        const members: string[] = [];
        for (const c of list as string[]) {
          const k = parseKey(c, pkg);
          const rec = await this.deps.repositories.find(k.name);
          if (!this.matches(rec, k.pkg, k.type)) throw badRequest(`Constituent '${c}' does not exist`);
          members.push(k.name);
        }
        repo.members = members;
      }
    }
    return repo;
  }

  private nameFrom(body: Record<string, unknown>, pkg: PackageType, type: StoreType, pathName?: string): string {
    let name = typeof body.name === "string" && body.name ? body.name : undefined;
    if (typeof body.key === "string") {
      const k = parseKey(body.key, pkg);
      if (k.type !== type || k.pkg !== pkg) throw badRequest(`Key '${body.key}' does not match the ${pkg} ${type} endpoint`);
      if (name && name !== k.name) throw badRequest("'key' and 'name' disagree");
      name ??= k.name;
    }
    if (body.type !== undefined && body.type !== type) throw badRequest(`'type' must be '${type}' on this endpoint`);
    if (pathName && name && name !== pathName) throw badRequest("Store name in the body does not match the URL");
    name ??= pathName;
    if (!name) throw badRequest("The store needs a 'name' or 'key'");
    return name;
  }

  /** POST: create only (409 when the name is taken). */
  async create(actor: Principal | null, pkg: PackageType, type: StoreType, body: unknown, threePart: boolean) {
    if (!isObject(body)) throw badRequest("Body must be a JSON store definition");
    requireApi(actor, "api_repository_permissions", "create");
    const name = this.nameFrom(body, pkg, type);
    if (await this.deps.repositories.find(name)) throw conflict(`A store or repository named '${name}' already exists`);
    const repo = await this.toRepo(pkg, type, name, body, null);
    const { record } = await this.deps.repositories.put(actor, name, repo);
    return { name, store: await this.toStore(record, threePart) };
  }

  /** PUT: update, or create when missing. */
  async update(actor: Principal | null, pkg: PackageType, type: StoreType, pathName: string, body: unknown, threePart: boolean) {
    if (!isObject(body)) throw badRequest("Body must be a JSON store definition");
    const name = this.nameFrom(body, pkg, type, pathName);
    const existing = await this.deps.repositories.find(name);
    if (existing && !this.matches(existing, pkg, type)) throw conflict(`'${name}' exists as a ${existing.type} repository, not a ${pkg} ${type} store`);
    const repo = await this.toRepo(pkg, type, name, body, existing);
    const { created, record } = await this.deps.repositories.put(actor, name, repo);
    return { created, store: await this.toStore(record, threePart) };
  }

  /** DELETE: removes the store from every group, then the repository. Missing store: no-op. */
  async delete(actor: Principal | null, pkg: PackageType, type: StoreType, name: string): Promise<void> {
    requireApi(actor, "api_repository_permissions", "delete");
    const rec = await this.deps.repositories.find(name);
    if (!this.matches(rec, pkg, type)) return;
    await this.deps.repositories.delete(actor, name, { removeFromGroups: true });
  }
}

export function isPackageType(v: string): v is PackageType {
  return (PACKAGE_TYPES as readonly string[]).includes(v);
}
export function isStoreType(v: string): v is StoreType {
  return (STORE_TYPES as string[]).includes(v);
}
