// Cooldown (REST section 10): versions published upstream less than a minimum age ago are
// not served by proxy repositories. Configuration lives in the `cooldown` settings section
// (database-backed, cached per node, dropped on settings.changed so every node hot-reloads).
//
// Format proxies call `filterVersions` while assembling metadata (packuments, simple indexes,
// maven-metadata) and `evaluate` on direct fetches; both record each block
// (package, version, repo, type, TOO_YOUNG, blocked date, blocked until). Blocks expire on their
// own (active = not unblocked and blocked_until in the future); an admin unblock keeps the
// version allowed even while it is still young.
import type { Database, Prisma } from "../db/index.js";
import type { SettingsService } from "../settings/service.js";
import { badRequest, notFound } from "../errors.js";
import { requireApi, type Principal } from "../auth/permissions.js";
import { pageRequest, toPage } from "../pagination.js";
import { parseRepositoryType, type RepositoryTypes } from "../repositories/types.js";
import { durationMs, parseDuration } from "./duration.js";

export const REASON_TOO_YOUNG = "TOO_YOUNG";

/** The `cooldown` settings section as stored and as REST shows it. */
export interface CooldownSettings {
  enabled: boolean;
  minimum_allowed_age: string;
  repo_types: Record<string, { enabled?: boolean; minimum_allowed_age?: string }>;
}

export interface CooldownPolicy {
  enabled: boolean;
  age: string;
  ageMs: number;
}

export interface CooldownRepo {
  name: string;
  type: string;
}

export interface VersionRelease {
  version: string;
  /** Upstream release date; unknown dates are never blocked. */
  releasedAt: Date | null | undefined;
}

export type CooldownDecision = { allowed: true } | { allowed: false; reason: string; releasedAt: Date; blockedUntil: Date; message: string };

export interface BlockView {
  packageName: string;
  version: string;
  repo: string;
  repoType: string;
  reason: string;
  blockedDate: Date;
  blockedUntil: Date;
  remainingHours: number;
}

const isProxy = (type: string) => parseRepositoryType(type)?.kind === "proxy";
const activeWhere = (now = new Date()): Prisma.CooldownBlockWhereInput => ({ unblockedAt: null, blockedUntil: { gt: now } });

export interface CooldownConfigInput {
  enabled?: boolean | null;
  minimumAllowedAge?: string | null;
  repoTypes?: unknown;
}

export class CooldownService {
  constructor(
    private db: Database,
    private settings: SettingsService,
    /** The supported repository types (the FormatRegistry): the keys `repo_types` accepts. */
    private types: Pick<RepositoryTypes, "types" | "parseType">,
  ) {}

  private get prisma() {
    return this.db.prisma;
  }

  // ------------------------------------------------------------ configuration

  private async stored(): Promise<CooldownSettings> {
    const raw = (await this.settings.getRaw("cooldown")) as Partial<CooldownSettings>;
    return {
      enabled: raw.enabled === true,
      minimum_allowed_age: typeof raw.minimum_allowed_age === "string" && durationMs(raw.minimum_allowed_age) !== null ? raw.minimum_allowed_age : "7d",
      repo_types: raw.repo_types && typeof raw.repo_types === "object" ? raw.repo_types : {},
    };
  }

  private static policyOf(cfg: CooldownSettings, repoType: string): CooldownPolicy {
    const format = parseRepositoryType(repoType)?.format;
    const rt = cfg.repo_types[repoType] ?? (format ? cfg.repo_types[format] : undefined);
    const enabled = typeof rt?.enabled === "boolean" ? rt.enabled : cfg.enabled;
    const age = rt?.minimum_allowed_age ?? cfg.minimum_allowed_age;
    return { enabled, age, ageMs: durationMs(age) ?? 0 };
  }

  /** Effective policy for a repository type (hot path: no permission check, cached settings). */
  async policy(repoType: string): Promise<CooldownPolicy> {
    if (!isProxy(repoType)) return { enabled: false, age: "0m", ageMs: 0 };
    return CooldownService.policyOf(await this.stored(), repoType);
  }

  async getConfig(actor: Principal | null) {
    requireApi(actor, "api_cooldown_permissions", "read");
    const cfg = await this.stored();
    return {
      enabled: cfg.enabled,
      minimumAllowedAge: cfg.minimum_allowed_age,
      repoTypes: Object.keys(cfg.repo_types)
        .sort()
        .map((type) => {
          const p = CooldownService.policyOf(cfg, type);
          return { type, enabled: p.enabled, minimumAllowedAge: p.age };
        }),
    };
  }

  /**
   * Saves the configuration. Absent fields keep their value; `repo_types`, when given, replaces
   * the per-type map. Blocks of types that end up disabled are released; blocks of types whose
   * minimum age changed get their blocked_until recomputed.
   */
  async setConfig(actor: Principal | null, input: CooldownConfigInput): Promise<void> {
    requireApi(actor, "api_cooldown_permissions", "write");
    await this.applyConfig(input);
  }

  /**
   * setConfig without its permission check, for callers that authorised the change themselves
   * (PUT /settings/cooldown, gated by api_role_permissions:update): one validation, one re-apply.
   */
  async applyConfig(input: CooldownConfigInput): Promise<void> {
    const before = await this.stored();
    const next: CooldownSettings = { ...before, repo_types: { ...before.repo_types } };
    if (input.enabled !== undefined && input.enabled !== null) next.enabled = input.enabled;
    if (input.minimumAllowedAge !== undefined && input.minimumAllowedAge !== null)
      next.minimum_allowed_age = parseDuration(input.minimumAllowedAge, "minimum_allowed_age");
    if (input.repoTypes !== undefined && input.repoTypes !== null) next.repo_types = validateRepoTypes(input.repoTypes, this.types);
    await this.settings.update("cooldown", next as unknown as Record<string, unknown>);

    // Re-apply the policy to the blocks that exist now.
    const types = await this.prisma.cooldownBlock.findMany({ where: { unblockedAt: null }, distinct: ["repoType"], select: { repoType: true } });
    for (const { repoType } of types) {
      const p = CooldownService.policyOf(next, repoType);
      if (!p.enabled || p.ageMs <= 0) {
        await this.prisma.cooldownBlock.deleteMany({ where: { repoType } });
      } else if (p.ageMs !== CooldownService.policyOf(before, repoType).ageMs) {
        await this.db.sql.query(
          `UPDATE "cooldown_blocks" SET "blocked_until" = "released_at" + ($2::bigint * interval '1 millisecond')
           WHERE "repo_type" = $1 AND "unblocked_at" IS NULL AND "released_at" IS NOT NULL`,
          [repoType, String(p.ageMs)],
        );
      }
    }
  }

  // ------------------------------------------------------------ API for format proxies

  /**
   * Splits upstream versions into allowed and blocked for a proxy repository, recording a block
   * for each blocked one. Versions without a known release date are allowed.
   */
  async filterVersions(
    repo: CooldownRepo,
    packageName: string,
    versions: VersionRelease[],
  ): Promise<{ allowed: Set<string>; blocked: Map<string, CooldownDecision & { allowed: false }> }> {
    const allowed = new Set(versions.map((v) => v.version));
    const blocked = new Map<string, CooldownDecision & { allowed: false }>();
    const policy = await this.policy(repo.type);
    if (!policy.enabled || policy.ageMs <= 0) return { allowed, blocked };
    const now = Date.now();
    const young = versions.filter((v) => v.releasedAt instanceof Date && !Number.isNaN(v.releasedAt.getTime()) && now - v.releasedAt.getTime() < policy.ageMs);
    if (!young.length) return { allowed, blocked };
    const existing = await this.prisma.cooldownBlock.findMany({
      where: { repoName: repo.name, packageName, version: { in: young.map((v) => v.version) } },
    });
    const byVersion = new Map(existing.map((e) => [e.version, e]));
    const create: Prisma.CooldownBlockCreateManyInput[] = [];
    for (const v of young) {
      const row = byVersion.get(v.version);
      if (row?.unblockedAt) continue; // an admin allowed it
      const releasedAt = v.releasedAt as Date;
      const blockedUntil = new Date(releasedAt.getTime() + policy.ageMs);
      allowed.delete(v.version);
      blocked.set(v.version, {
        allowed: false,
        reason: REASON_TOO_YOUNG,
        releasedAt,
        blockedUntil,
        message:
          `Cooldown: ${packageName}@${v.version} was released ${releasedAt.toISOString()}, less than the minimum allowed age of ` +
          `${policy.age} ago; repository '${repo.name}' will not serve it before ${blockedUntil.toISOString()}`,
      });
      if (!row) create.push({ repoName: repo.name, repoType: repo.type, packageName, version: v.version, reason: REASON_TOO_YOUNG, releasedAt, blockedUntil });
      else if (row.blockedUntil.getTime() !== blockedUntil.getTime() || row.repoType !== repo.type) {
        await this.prisma.cooldownBlock.update({ where: { id: row.id }, data: { blockedUntil, releasedAt, repoType: repo.type } });
      }
    }
    if (create.length) await this.prisma.cooldownBlock.createMany({ data: create, skipDuplicates: true });
    return { allowed, blocked };
  }

  /** One version (direct fetch): allowed, or blocked with the message to answer 403 with. */
  async evaluate(repo: CooldownRepo, packageName: string, version: string, releasedAt: Date | null | undefined): Promise<CooldownDecision> {
    const { blocked } = await this.filterVersions(repo, packageName, [{ version, releasedAt }]);
    return blocked.get(version) ?? { allowed: true };
  }

  /** True when a block is active for this version (no release date needed: for cached content). */
  async isBlocked(repo: CooldownRepo, packageName: string, version: string): Promise<CooldownDecision> {
    const policy = await this.policy(repo.type);
    if (!policy.enabled) return { allowed: true };
    const row = await this.prisma.cooldownBlock.findFirst({ where: { repoName: repo.name, packageName, version, ...activeWhere() } });
    if (!row) return { allowed: true };
    return {
      allowed: false,
      reason: row.reason,
      releasedAt: row.releasedAt ?? row.blockedAt,
      blockedUntil: row.blockedUntil,
      message: `Cooldown: ${packageName}@${version} is blocked in repository '${repo.name}' until ${row.blockedUntil.toISOString()} (minimum allowed age ${policy.age})`,
    };
  }

  /** Active blocks of one package in these repositories (for client notices). */
  async activeBlocks(repoNames: string[], packageName: string): Promise<{ repoName: string; version: string; blockedUntil: Date }[]> {
    if (!repoNames.length) return [];
    return this.prisma.cooldownBlock.findMany({
      where: { repoName: { in: repoNames }, packageName, ...activeWhere() },
      select: { repoName: true, version: true, blockedUntil: true },
      orderBy: [{ version: "asc" }],
    });
  }

  // ------------------------------------------------------------ management

  async overview(actor: Principal | null): Promise<{ name: string; type: string; cooldown: string; activeBlocks: number }[]> {
    requireApi(actor, "api_cooldown_permissions", "read");
    const cfg = await this.stored();
    const repos = await this.prisma.repository.findMany({
      where: { type: { endsWith: "-proxy" } },
      select: { name: true, type: true },
      orderBy: { name: "asc" },
    });
    const counts = await this.prisma.cooldownBlock.groupBy({ by: ["repoName"], where: activeWhere(), _count: { _all: true } });
    const byRepo = new Map(counts.map((c) => [c.repoName, c._count._all]));
    return repos
      .map((r) => ({ r, p: CooldownService.policyOf(cfg, r.type) }))
      .filter(({ r, p }) => isProxy(r.type) && p.enabled && p.ageMs > 0)
      .map(({ r, p }) => ({ name: r.name, type: r.type, cooldown: p.age, activeBlocks: byRepo.get(r.name) ?? 0 }));
  }

  async blocked(actor: Principal | null, args: { page?: number | null; size?: number | null; search?: string | null }) {
    requireApi(actor, "api_cooldown_permissions", "read");
    const req = pageRequest(args.page, args.size, 50);
    const now = new Date();
    const q = args.search?.trim();
    const where: Prisma.CooldownBlockWhereInput = {
      ...activeWhere(now),
      ...(q
        ? {
            OR: [
              { packageName: { contains: q, mode: "insensitive" } },
              { repoName: { contains: q, mode: "insensitive" } },
              { version: { contains: q, mode: "insensitive" } },
            ],
          }
        : {}),
    };
    const [rows, total] = await Promise.all([
      this.prisma.cooldownBlock.findMany({ where, orderBy: [{ blockedAt: "desc" }, { id: "desc" }], skip: req.page * req.size, take: req.size }),
      this.prisma.cooldownBlock.count({ where }),
    ]);
    const items: BlockView[] = rows.map((r) => ({
      packageName: r.packageName,
      version: r.version,
      repo: r.repoName,
      repoType: r.repoType,
      reason: r.reason,
      blockedDate: r.blockedAt,
      blockedUntil: r.blockedUntil,
      remainingHours: Math.max(0, Math.ceil((r.blockedUntil.getTime() - now.getTime()) / 3_600_000)),
    }));
    return toPage(items, total, req);
  }

  private async requireRepository(name: string) {
    const repo = await this.prisma.repository.findUnique({ where: { name }, select: { name: true, type: true } });
    if (!repo) throw notFound(`Repository '${name}' not found`);
    return repo;
  }

  /** Lets one blocked version through at once (and for the rest of its cooldown). */
  async unblock(actor: Principal | null, repoName: string, artifact: string | null | undefined, version: string | null | undefined): Promise<void> {
    const me = requireApi(actor, "api_cooldown_permissions", "write");
    if (!artifact?.trim()) throw badRequest("'artifact' is required");
    if (!version?.trim()) throw badRequest("'version' is required");
    await this.requireRepository(repoName);
    const res = await this.prisma.cooldownBlock.updateMany({
      where: { repoName, packageName: artifact.trim(), version: version.trim(), ...activeWhere() },
      data: { unblockedAt: new Date(), unblockedBy: me.name },
    });
    if (res.count === 0) throw notFound(`No active cooldown block for ${artifact.trim()} ${version.trim()} in repository '${repoName}'`);
  }

  /** Lets every currently blocked version of a repository through; returns how many. */
  async unblockAll(actor: Principal | null, repoName: string): Promise<number> {
    const me = requireApi(actor, "api_cooldown_permissions", "write");
    await this.requireRepository(repoName);
    const res = await this.prisma.cooldownBlock.updateMany({ where: { repoName, ...activeWhere() }, data: { unblockedAt: new Date(), unblockedBy: me.name } });
    return res.count;
  }
}

/** The keys `repo_types` accepts: every supported type and every supported format. */
function repoTypeKeys(types: Pick<RepositoryTypes, "types" | "parseType">): string[] {
  const all = types.types();
  const formats = [...new Set(all.map((t) => types.parseType(t)?.format ?? t))];
  return [...formats, ...all.filter((t) => !formats.includes(t))];
}

function validateRepoTypes(raw: unknown, types: Pick<RepositoryTypes, "types" | "parseType">): CooldownSettings["repo_types"] {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw badRequest("'repo_types' must be an object mapping repository types to {enabled, minimum_allowed_age}");
  const out: CooldownSettings["repo_types"] = {};
  const keys = repoTypeKeys(types);
  for (const [type, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!keys.includes(type)) throw badRequest(`Unknown repository type '${type}' in 'repo_types'; supported: ${keys.join(", ")}`);
    if (value === null || typeof value !== "object" || Array.isArray(value))
      throw badRequest(`'repo_types.${type}' must be an object with enabled and/or minimum_allowed_age`);
    const v = value as Record<string, unknown>;
    const entry: { enabled?: boolean; minimum_allowed_age?: string } = {};
    if (v.enabled !== undefined) {
      if (typeof v.enabled !== "boolean") throw badRequest(`'repo_types.${type}.enabled' must be a boolean`);
      entry.enabled = v.enabled;
    }
    if (v.minimum_allowed_age !== undefined) entry.minimum_allowed_age = parseDuration(v.minimum_allowed_age, `repo_types.${type}.minimum_allowed_age`);
    for (const k of Object.keys(v)) if (k !== "enabled" && k !== "minimum_allowed_age") throw badRequest(`Unknown field '${k}' in 'repo_types.${type}'`);
    out[type] = entry;
  }
  return out;
}
