// Settings sections persisted in the database (visible to every node), with defaults.
// Each section is a JSON object; reads are cached per node and dropped on change events.
import type { PrismaClient } from "../db/index.js";
import type { EventBus } from "../events/bus.js";
import { badRequest } from "../errors.js";
import { refreshOrStale } from "../db/errors.js";

export interface JwtSettings {
  algorithm: "RS256";
  access_token_expiry_seconds: number;
  refresh_token_expiry_seconds: number;
  api_token_max_expiry_days: number;
  allow_permanent_tokens: boolean;
  // Login throttling; absent until an admin sets them (GET /admin/auth-settings shows only what was set).
  login_max_failures_per_user?: number;
  login_max_failures_per_address?: number;
  login_failure_window_seconds?: number;
  login_lockout_seconds?: number;
  login_lockout_max_seconds?: number;
}

/** Login throttling when the `jwt` section does not say otherwise: the lockout doubles per further failure. */
export const LOGIN_THROTTLE_DEFAULTS = {
  login_max_failures_per_user: 5,
  login_max_failures_per_address: 20,
  login_failure_window_seconds: 900,
  login_lockout_seconds: 30,
  login_lockout_max_seconds: 900,
} as const satisfies Required<Pick<JwtSettings, `login_${string}` & keyof JwtSettings>>;

export const SETTING_DEFAULTS = {
  jwt: {
    algorithm: "RS256",
    access_token_expiry_seconds: 3600,
    refresh_token_expiry_seconds: 604800,
    api_token_max_expiry_days: 90,
    allow_permanent_tokens: false,
  } satisfies JwtSettings,
  prefixes: { prefixes: [] as string[] },
  http_client: {
    proxy_timeout: 30000,
    connection_timeout: 15000,
    idle_timeout: 60000,
    follow_redirects: true,
    connection_acquire_timeout: 30000,
    max_connections_per_destination: 64,
    max_requests_queued_per_destination: 128,
  },
  http_server: { request_timeout: "PT60S" },
  metrics: { enabled: true, jvm: true, http: true, storage: true, endpoint: "/metrics/vertx" },
  cooldown: { enabled: false, minimum_allowed_age: "7d", repo_types: {} as Record<string, unknown> },
  // Audit trail: rows older than retention_days are purged (0 keeps them); log is stdout, file (<data>/audit.log) or off.
  audit: { retention_days: 90, log: "stdout" as "stdout" | "file" | "off" },
} as const;

export type SectionName = keyof typeof SETTING_DEFAULTS;
type SectionValue<S extends SectionName> = (typeof SETTING_DEFAULTS)[S] extends infer T
  ? { -readonly [K in keyof T]: T[K] extends readonly (infer E)[] ? E[] : T[K] }
  : never;

/** Last resort when no event and no change feed drops a section: a cached value is re-read after this. */
const SECTION_MAX_AGE_MS = 60_000;

export class SettingsService {
  private cache = new Map<string, { value: Record<string, unknown>; until: number }>();

  constructor(
    private prisma: PrismaClient,
    private bus: EventBus,
  ) {
    bus.on((e) => {
      if (e.type === "settings.changed") this.cache.delete(e.section);
    });
  }

  async get<S extends SectionName>(section: S): Promise<SectionValue<S>> {
    return (await this.getRaw(section)) as SectionValue<S>;
  }

  /** Any section, known or not: defaults overlaid by what was saved. */
  async getRaw(section: string): Promise<Record<string, unknown>> {
    const cached = this.cache.get(section);
    if (cached && cached.until > Date.now()) return cached.value;
    const read = await refreshOrStale(() => this.prisma.setting.findUnique({ where: { section } }), cached);
    if ("stale" in read) return read.stale.value;
    const row = read.fresh;
    const defaults = (SETTING_DEFAULTS as Record<string, object>)[section] ?? {};
    const value = { ...defaults, ...((row?.value as Record<string, unknown>) ?? {}) };
    this.cache.set(section, { value, until: Date.now() + SECTION_MAX_AGE_MS });
    return value;
  }

  /** Merges `patch` into the stored section and tells every node. */
  async update(section: string, patch: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (!/^[a-z][a-z0-9_-]{0,63}$/.test(section)) throw badRequest(`Invalid settings section name '${section}'`);
    const current = (await this.prisma.setting.findUnique({ where: { section } }))?.value as Record<string, unknown> | undefined;
    const value = { ...(current ?? {}), ...patch };
    await this.prisma.setting.upsert({ where: { section }, create: { section, value: value as object }, update: { value: value as object } });
    this.cache.delete(section);
    await this.bus.publish({ type: "settings.changed", section });
    return this.getRaw(section);
  }
}
