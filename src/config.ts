// Process configuration: optional pantera.yml (PANTERA_CONFIG) overlaid by environment variables.
// Values saved through the API live in the database (settings service), not here.
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";

export interface Config {
  host: string;
  apiPort: number;
  repoPort: number;
  metricsPort: number;
  dataDir: string;
  databaseUrl?: string;
  redisUrl?: string;
  /** Namespaces the Redis channel and keys, so clusters sharing one Redis stay apart. */
  clusterName: string;
  adminPassword?: string;
  /** Public base URL of the repository port, used in generated links and instructions. */
  publicRepoUrl?: string;
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
  version: string;
  graphql: GraphqlLimits;
  /**
   * Reverse proxies in front of the node whose X-Forwarded-For/-Proto/-Host are believed (0: none; the
   * client address is the socket's). Believing a header no proxy overwrote lets any client pick its
   * address, and so slip past per-address login throttling and forge the audit trail's source.
   */
  trustedProxies: number;
  /** How long a request waits for a cluster lock (package metadata) before it is answered 503 with Retry-After. */
  lockTimeoutMs: number;
  /** How often a node reads the change feed (src/cluster/change-feed.ts): the bound on staleness after a missed event. */
  changePollMs: number;
}

/** Who may run introspection (`__schema`, `__type`) on /graphql. */
export type IntrospectionAccess = "anonymous" | "authenticated" | "off";

/** Bounds on one /graphql request (the trusted rest-compat documents do not pass through them). */
export interface GraphqlLimits {
  maxDepth: number;
  maxAliases: number;
  /** Static estimate: one per field, list fields multiplied by their page size (see src/graphql/limits.ts). */
  maxCost: number;
  maxTokens: number;
  maxBodyBytes: number;
  /** Concurrent /graphql requests per node; more are answered 503 with Retry-After. */
  maxConcurrent: number;
  /** Execution time budget; a request past it is aborted with 503. */
  timeoutMs: number;
  introspection: IntrospectionAccess;
}

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

function positiveInt(name: string, value: string | number | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`Invalid ${name}: ${value} (a positive integer)`);
  return n;
}

const INTROSPECTION_ACCESS: readonly IntrospectionAccess[] = ["anonymous", "authenticated", "off"];

function graphqlLimits(env: NodeJS.ProcessEnv, file: Record<string, any>): GraphqlLimits {
  const limit = (suffix: string, key: string, fallback: number) =>
    positiveInt(`PANTERA_GRAPHQL_${suffix}`, env[`PANTERA_GRAPHQL_${suffix}`] ?? file[key], fallback);
  // Production hides the schema from anonymous callers; signed-in users keep the explorer.
  const introspection = env.PANTERA_GRAPHQL_INTROSPECTION ?? file.introspection ?? (env.NODE_ENV === "production" ? "authenticated" : "anonymous");
  if (!INTROSPECTION_ACCESS.includes(introspection)) {
    throw new Error(`Invalid PANTERA_GRAPHQL_INTROSPECTION: ${introspection} (${INTROSPECTION_ACCESS.join(", ")})`);
  }
  return {
    maxDepth: limit("MAX_DEPTH", "max_depth", 15),
    maxAliases: limit("MAX_ALIASES", "max_aliases", 15),
    maxCost: limit("MAX_COST", "max_cost", 5000),
    maxTokens: limit("MAX_TOKENS", "max_tokens", 5000),
    maxBodyBytes: limit("MAX_BODY_BYTES", "max_body_bytes", 1 << 20), // as REST JSON bodies
    maxConcurrent: limit("MAX_CONCURRENT", "max_concurrent", 16), // bench/rest-vs-graphql.ts drives 16 connections
    timeoutMs: limit("TIMEOUT_MS", "timeout_ms", 10_000),
    introspection,
  };
}

function proxyHops(value: string | number | undefined): number {
  if (value === undefined || value === "") return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 10) throw new Error(`Invalid PANTERA_TRUSTED_PROXIES (0-10 proxies): ${value}`);
  return n;
}

function clusterName(value: string | undefined): string {
  if (value === undefined || value === "") return "pantera";
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(value)) throw new Error(`Invalid PANTERA_CLUSTER_NAME: ${value} (1-64 of A-Z a-z 0-9 . _ -)`);
  return value;
}

function port(value: string | number | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`Invalid port: ${value}`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  let file: Record<string, any> = {};
  const cfgPath = env.PANTERA_CONFIG;
  if (cfgPath) {
    if (!existsSync(cfgPath)) throw new Error(`PANTERA_CONFIG points at a missing file: ${cfgPath}`);
    file = (parseYaml(readFileSync(cfgPath, "utf8")) as Record<string, any>) ?? {};
  }
  const meta = file.meta ?? file;
  const config: Config = {
    host: env.PANTERA_HOST ?? meta.host ?? "0.0.0.0",
    apiPort: port(env.PANTERA_API_PORT ?? meta.api_port, 8086),
    repoPort: port(env.PANTERA_REPO_PORT ?? meta.port, 8080),
    metricsPort: port(env.PANTERA_METRICS_PORT ?? meta.metrics?.port, 8087),
    dataDir: path.resolve(env.PANTERA_DATA_DIR ?? meta.data_dir ?? "./data"),
    databaseUrl: env.DATABASE_URL ?? meta.database?.url,
    redisUrl: env.REDIS_URL ?? meta.redis?.url,
    clusterName: clusterName(env.PANTERA_CLUSTER_NAME ?? meta.cluster_name),
    adminPassword: env.PANTERA_ADMIN_PASSWORD,
    publicRepoUrl: env.PANTERA_PUBLIC_URL ?? meta.base_url,
    logLevel: (env.PANTERA_LOG_LEVEL ?? meta.log_level ?? "info") as Config["logLevel"],
    version: readVersion(),
    graphql: graphqlLimits(env, meta.graphql ?? {}),
    trustedProxies: proxyHops(env.PANTERA_TRUSTED_PROXIES ?? meta.trusted_proxies),
    lockTimeoutMs: positiveInt("PANTERA_LOCK_TIMEOUT_MS", env.PANTERA_LOCK_TIMEOUT_MS ?? meta.lock_timeout_ms, 30_000),
    changePollMs: positiveInt("PANTERA_CHANGE_POLL_MS", env.PANTERA_CHANGE_POLL_MS ?? meta.change_poll_ms, 2_000),
    ...overrides,
  };
  return config;
}
