// Settings management (REST section 11): the masked view of every section and validated updates.
import type { Config } from "../config.js";
import type { CooldownService } from "../cooldown/service.js";
import type { Database } from "../db/index.js";
import { badRequest } from "../errors.js";
import { requireApi, type Principal } from "../auth/permissions.js";
import { maskSecrets } from "./mask.js";
import { SETTING_DEFAULTS, type SettingsService } from "./service.js";
import { isObject } from "../json.js";

/** What settings administration reads and writes. */
export interface SettingsAdminDeps {
  config: Pick<Config, "repoPort" | "version" | "metricsPort" | "databaseUrl" | "redisUrl">;
  settings: Pick<SettingsService, "get" | "update">;
  db: Pick<Database, "prisma">;
  /** Owns the cooldown section (durations, re-applying the policy to existing blocks). */
  cooldown: Pick<CooldownService, "applyConfig">;
}

const PREFIX = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

/** GET /settings: every documented section, auth providers with secrets masked. */
export async function settingsView(app: SettingsAdminDeps, actor: Principal | null): Promise<Record<string, unknown>> {
  requireApi(actor, "api_role_permissions", "read");
  const s = app.settings;
  const [prefixes, jwt, httpClient, httpServer, metrics, cooldown, audit, providers] = await Promise.all([
    s.get("prefixes"),
    s.get("jwt"),
    s.get("http_client"),
    s.get("http_server"),
    s.get("metrics"),
    s.get("cooldown"),
    s.get("audit"),
    app.db.prisma.authProvider.findMany({ orderBy: [{ priority: "asc" }, { id: "asc" }] }),
  ]);
  return {
    port: app.config.repoPort,
    version: app.config.version,
    prefixes: prefixes.prefixes ?? [],
    jwt: maskSecrets(jwt),
    http_client: httpClient,
    http_server: httpServer,
    metrics: { ...metrics, port: app.config.metricsPort },
    cooldown,
    audit,
    credentials: providers.map((p) => ({ id: p.id, type: p.type, priority: p.priority, enabled: p.enabled, config: maskSecrets(p.config ?? {}) })),
    database: { configured: true, kind: app.config.databaseUrl ? "postgresql" : "pglite" },
    caches: { valkey_configured: !!app.config.redisUrl },
  };
}

/** PUT /settings/prefixes. Takes effect at once on every node (settings.changed event). */
export async function updatePrefixes(app: SettingsAdminDeps, actor: Principal | null, prefixes: unknown): Promise<string[]> {
  requireApi(actor, "api_role_permissions", "update");
  if (!Array.isArray(prefixes)) throw badRequest("'prefixes' must be a list of strings");
  for (const p of prefixes) {
    if (typeof p !== "string" || !PREFIX.test(p)) throw badRequest(`Invalid prefix '${String(p)}': use letters, digits, '.', '_' or '-' (no '/')`);
  }
  const list = [...new Set(prefixes as string[])];
  await app.settings.update("prefixes", { prefixes: list });
  return list;
}

/** PUT /settings/:section. Known sections are type-checked key by key against their defaults. */
export async function updateSection(app: SettingsAdminDeps, actor: Principal | null, section: string, body: unknown): Promise<void> {
  requireApi(actor, "api_role_permissions", "update");
  if (!isObject(body)) throw badRequest("Settings body must be a JSON object");
  if (section === "prefixes") {
    await updatePrefixes(app, actor, body.prefixes);
    return;
  }
  const defaults = (SETTING_DEFAULTS as Record<string, Record<string, unknown>>)[section];
  if (!defaults) throw badRequest(`Unknown settings section '${section}'; known: ${Object.keys(SETTING_DEFAULTS).join(", ")}`);
  for (const [key, value] of Object.entries(body)) {
    if (!(key in defaults)) throw badRequest(`Unknown setting '${section}.${key}'; known: ${Object.keys(defaults).join(", ")}`);
    const want = defaults[key];
    if (typeof want === "number") {
      if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw badRequest(`'${section}.${key}' must be a non-negative number`);
    } else if (typeof want === "boolean") {
      if (typeof value !== "boolean") throw badRequest(`'${section}.${key}' must be a boolean`);
    } else if (typeof want === "string") {
      if (typeof value !== "string" || !value) throw badRequest(`'${section}.${key}' must be a non-empty string`);
    } else if (isObject(want)) {
      if (!isObject(value)) throw badRequest(`'${section}.${key}' must be an object`);
    }
  }
  if (section === "jwt" && body.algorithm !== undefined && body.algorithm !== "RS256") throw badRequest("'jwt.algorithm' must be RS256");
  // A non-string request_timeout was already refused by the loop above (its default is a string).
  if (section === "http_server" && typeof body.request_timeout === "string" && !/^P(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?|\d+D)$/.test(body.request_timeout)) {
    throw badRequest("'http_server.request_timeout' must be an ISO-8601 duration such as PT60S");
  }
  if (section === "audit") {
    if (body.log !== undefined && !["stdout", "file", "off"].includes(body.log as string)) throw badRequest("'audit.log' must be stdout, file or off");
    if (body.retention_days !== undefined && !Number.isInteger(body.retention_days)) throw badRequest("'audit.retention_days' must be a whole number of days");
  }
  if (section === "cooldown") {
    // The cooldown service owns its durations and re-applies the policy to existing blocks.
    await app.cooldown.applyConfig({
      enabled: body.enabled as boolean | undefined,
      minimumAllowedAge: body.minimum_allowed_age as string | undefined,
      repoTypes: body.repo_types,
    });
    return;
  }
  await app.settings.update(section, body);
}
