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
  adminPassword?: string;
  /** Public base URL of the repository port, used in generated links and instructions. */
  publicRepoUrl?: string;
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
  version: string;
}

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
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
    adminPassword: env.PANTERA_ADMIN_PASSWORD,
    publicRepoUrl: env.PANTERA_PUBLIC_URL ?? meta.base_url,
    logLevel: (env.PANTERA_LOG_LEVEL ?? meta.log_level ?? "info") as Config["logLevel"],
    version: readVersion(),
    ...overrides,
  };
  return config;
}
