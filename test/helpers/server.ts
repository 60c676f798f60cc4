// Starts a whole Pantera node (three apps on ephemeral ports, temp data dir) for a test.
import { createHash, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import type http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { loadConfig, type Config } from "../../src/config.js";
import { openDatabase } from "../../src/db/index.js";
import { migrationsDir } from "../../src/db/migrate.js";
import { createLogger } from "../../src/log.js";
import { composeNode, type NodeServices } from "../../src/main.js";

export type Backend = "pglite" | "postgres";
export const ADMIN_PASSWORD = "admin-test-password";

const required = process.env.REQUIRE_SERVICES === "1";

/** The database backends every API suite runs against: PGlite always, PostgreSQL when configured. */
export function backends(): Backend[] {
  if (process.env.TEST_DATABASE_URL) return ["pglite", "postgres"];
  if (required) throw new Error("REQUIRE_SERVICES=1 but TEST_DATABASE_URL is not set");
  return ["pglite"];
}

/** Redis for cluster tests, or undefined (the test skips) unless REQUIRE_SERVICES=1. */
export function redisUrl(): string | undefined {
  const url = process.env.TEST_REDIS_URL;
  if (!url && required) throw new Error("REQUIRE_SERVICES=1 but TEST_REDIS_URL is not set");
  return url;
}

export function postgresUrl(): string | undefined {
  const url = process.env.TEST_DATABASE_URL;
  if (!url && required) throw new Error("REQUIRE_SERVICES=1 but TEST_DATABASE_URL is not set");
  return url;
}

/** A migrated PGlite directory, built once per migration set and copied per server (initdb is slow). */
function pgliteTemplate(): Promise<string> {
  const hash = createHash("sha256");
  for (const name of readdirSync(migrationsDir).sort()) hash.update(name).update(readFileSync(path.join(migrationsDir, name, "migration.sql")));
  const target = path.join(os.tmpdir(), "pantera-pglite-template-" + hash.digest("hex").slice(0, 16));
  if (existsSync(target)) return Promise.resolve(target);
  return (async () => {
    const scratch = mkdtempSync(path.join(os.tmpdir(), "pantera-template-"));
    const db = await openDatabase({ dataDir: scratch });
    await db.close();
    try {
      renameSync(scratch, target);
    } catch {
      rmSync(scratch, { recursive: true, force: true }); // a parallel test file won the race
    }
    return target;
  })();
}

/** A fresh database on the test PostgreSQL server; dropped by the returned function. */
export async function createPostgresDatabase(base = postgresUrl(), prefix = "pantera_test_"): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!base) throw new Error("TEST_DATABASE_URL is not set");
  const name = prefix + randomBytes(6).toString("hex");
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = "/" + name;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface Response<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** Raw body text, sent as-is (for malformed-JSON tests). */
  raw?: string;
  headers?: Record<string, string>;
  basic?: [string, string];
}

export async function request<T = any>(method: string, url: string, opts: RequestOptions = {}): Promise<Response<T>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.basic) headers.authorization = "Basic " + Buffer.from(opts.basic.join(":")).toString("base64");
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get("content-type") ?? "").includes("json") && text) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

export interface TestServer {
  /** The node's services, as the composition root built them. */
  services: NodeServices;
  config: Config;
  apiUrl: string;
  repoUrl: string;
  metricsUrl: string;
  /** Request against the management API; `path` is relative to /api/v1. */
  api<T = any>(method: string, path: string, opts?: RequestOptions): Promise<Response<T>>;
  /** Request against the repository port. */
  repo<T = any>(method: string, path: string, opts?: RequestOptions): Promise<Response<T>>;
  graphql<T = any>(query: string, variables?: Record<string, unknown>, token?: string): Promise<Response<T>>;
  /** Logs in and returns an access token. */
  login(name: string, pass: string): Promise<string>;
  adminToken: string;
  close(): Promise<void>;
}

export interface StartOptions {
  backend?: Backend;
  /** Reuse an existing database (cluster tests); otherwise a fresh one is made. */
  databaseUrl?: string;
  redisUrl?: string;
  config?: Partial<Config>;
}

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const backend = opts.backend ?? "pglite";
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "pantera-test-"));
  let dropDb: (() => Promise<void>) | undefined;
  let databaseUrl = opts.databaseUrl;
  if (backend === "postgres" && !databaseUrl) {
    const db = await createPostgresDatabase();
    databaseUrl = db.url;
    dropDb = db.drop;
  }
  if (backend === "pglite") cpSync(path.join(await pgliteTemplate(), "pglite"), path.join(dataDir, "pglite"), { recursive: true });
  const config = loadConfig(
    { PANTERA_DATA_DIR: dataDir, PANTERA_ADMIN_PASSWORD: ADMIN_PASSWORD },
    {
      host: "127.0.0.1",
      apiPort: 0,
      repoPort: 0,
      metricsPort: 0,
      databaseUrl: backend === "postgres" ? databaseUrl : undefined,
      redisUrl: opts.redisUrl,
      ...opts.config,
    },
  );
  const node = await composeNode(config, createLogger(process.env.TEST_LOG_LEVEL === "debug" ? "debug" : "silent"));
  const servers = await node.listen();
  const apiUrl = `http://127.0.0.1:${servers.apiPort}`;
  const repoUrl = `http://127.0.0.1:${servers.repoPort}`;
  const metricsUrl = `http://127.0.0.1:${servers.metricsPort}`;
  const server: TestServer = {
    services: node.services,
    config,
    apiUrl,
    repoUrl,
    metricsUrl,
    api: (method, p, o) => request(method, `${apiUrl}/api/v1${p}`, o),
    repo: (method, p, o) => request(method, `${repoUrl}${p}`, o),
    graphql: (query, variables, token) => request("POST", `${apiUrl}/graphql`, { body: { query, variables }, token }),
    async login(name, pass) {
      const res = await request("POST", `${apiUrl}/api/v1/auth/token`, { body: { name, pass } });
      if (res.status !== 200) throw new Error(`login ${name} failed: ${res.status} ${res.text}`);
      return res.body.token as string;
    },
    adminToken: "",
    async close() {
      await node.close();
      await dropDb?.();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  server.adminToken = await server.login("admin", ADMIN_PASSWORD);
  return server;
}

/** Creates a role and a user holding it; returns the user's access token. */
export async function userWithPermissions(s: TestServer, name: string, permissions: Record<string, unknown>, pass = "pw-" + name): Promise<string> {
  const role = await s.api("PUT", `/roles/${name}-role`, { token: s.adminToken, body: { permissions } });
  if (role.status !== 201) throw new Error(`role: ${role.status} ${role.text}`);
  const user = await s.api("PUT", `/users/${name}`, { token: s.adminToken, body: { pass, roles: [`${name}-role`] } });
  if (user.status !== 201) throw new Error(`user: ${user.status} ${user.text}`);
  return s.login(name, pass);
}

/** Asserts the documented error body. */
export function expectError(res: Response, status: number, code: string): void {
  if (res.status !== status || res.body?.error !== code || res.body?.status !== status || typeof res.body?.message !== "string") {
    throw new Error(`expected ${status} ${code}, got ${res.status} ${res.text}`);
  }
}

export interface NodePair {
  a: TestServer;
  b: TestServer;
  /** Stops both nodes and drops their database. */
  close: () => Promise<void>;
}
export type SharedStorageCluster = NodePair;

/** Two nodes on one fresh PostgreSQL database, joined by Redis when `redis` is given. */
export async function startNodePair(redis?: string): Promise<NodePair> {
  const db = await createPostgresDatabase();
  const a = await startServer({ backend: "postgres", databaseUrl: db.url, redisUrl: redis });
  const b = await startServer({ backend: "postgres", databaseUrl: db.url, redisUrl: redis });
  return {
    a,
    b,
    async close() {
      await a.close();
      await b.close();
      await db.drop();
    },
  };
}

/** A node pair (startNodePair) and one repository `repoName` of `repoType` on an fs storage alias both share. */
export async function startSharedStorageCluster(repoName: string, repoType: string, redis?: string): Promise<SharedStorageCluster> {
  const { a, b, close: stop } = await startNodePair(redis);
  const shared = mkdtempSync(path.join(os.tmpdir(), "pantera-shared-"));
  const close = async () => {
    await stop();
    rmSync(shared, { recursive: true, force: true });
  };
  let res = await a.api("PUT", "/storages/shared", { token: a.adminToken, body: { type: "fs", path: shared } });
  if (res.status >= 300) throw new Error(`storage alias: ${res.status} ${res.text}`);
  res = await a.api("PUT", `/repositories/${repoName}`, { token: a.adminToken, body: { repo: { type: repoType, storage: "shared" } } });
  if (res.status >= 300) throw new Error(`repository: ${res.status} ${res.text}`);
  return { a, b, close };
}

/** Starts `server` on a free loopback port; `close` also ends keep-alive connections. */
export function listenLocal(server: http.Server): Promise<{ url: string; port: number; close: () => Promise<void> }> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    }),
  );
}
