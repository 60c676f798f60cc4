// AppContext: the one object every app (api, repository, metrics) shares.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Registry } from "prom-client";
import type { Config } from "./config.js";
import { openDatabase, type Database } from "./db/index.js";
import { EventBus } from "./events/bus.js";
import { createLogger, type Logger } from "./log.js";
import { KeyStore } from "./auth/keys.js";
import { AuthService } from "./auth/service.js";
import { LoginThrottle } from "./auth/throttle.js";
import { AuthProviderService } from "./auth/providers.js";
import { TokenPolicyService } from "./auth/policy.js";
import { hashPassword } from "./auth/passwords.js";
import { SettingsService } from "./settings/service.js";
import { UserService } from "./users/service.js";
import { RoleService } from "./roles/service.js";
import { RepositoryService } from "./repositories/service.js";
import { StorageService } from "./storage/service.js";
import { StorageDriverRegistry } from "./storage/driver.js";
import { defaultStorageDrivers } from "./storage/drivers.js";
import { SearchService } from "./search/service.js";
import { CooldownService } from "./cooldown/service.js";
import { ArtifactService } from "./artifacts/service.js";
import { AuditService } from "./audit/service.js";
import { ChangeFeed } from "./cluster/change-feed.js";
import { keepStagingSwept } from "./formats/npm/publish-stream.js";
import { FormatRegistry } from "./formats/kit/registry.js";
import { FormatKit } from "./formats/kit/dispatch.js";
import { ProxyCache } from "./formats/kit/proxy-cache.js";
import { formatServices } from "./formats/kit/services.js";
import { Upstreams, type HttpClientSettings } from "./formats/kit/upstream.js";
import { formatPlugins } from "./formats/plugins.js";

export interface AppContext {
  config: Config;
  log: Logger;
  db: Database;
  bus: EventBus;
  metrics: Registry;
  keys: KeyStore;
  settings: SettingsService;
  auth: AuthService;
  authProviders: AuthProviderService;
  tokenPolicy: TokenPolicyService;
  users: UserService;
  roles: RoleService;
  storages: StorageService;
  repositories: RepositoryService;
  search: SearchService;
  cooldown: CooldownService;
  artifacts: ArtifactService;
  audit: AuditService;
  formats: FormatRegistry;
  kit: FormatKit;
  close(): Promise<void>;
}

export async function createAppContext(config: Config, log: Logger = createLogger(config.logLevel)): Promise<AppContext> {
  mkdirSync(config.dataDir, { recursive: true });
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, lockTimeoutMs: config.lockTimeoutMs, log });
  const bus = new EventBus(log, { clusterName: config.clusterName });
  if (config.redisUrl) await bus.connectRedis(config.redisUrl);
  // Before anything is cached, so every later change reaches this node's caches even when Redis misses it.
  const changeFeed = new ChangeFeed(db.sql, (e) => bus.dispatchLocal(e), log, { intervalMs: config.changePollMs });
  await changeFeed.start();
  bus.onReconnect(() => changeFeed.poll());
  const keys = new KeyStore(db.prisma);
  await keys.init();
  const settings = new SettingsService(db.prisma, bus);
  const throttle = await LoginThrottle.create(settings, () => keys.hmacSecret, config.redisUrl, log, config.clusterName);
  const auth = new AuthService(db.prisma, keys, settings, bus, throttle);
  const storages = new StorageService(db.prisma, bus, new StorageDriverRegistry(defaultStorageDrivers()), config.dataDir);
  // Before the services so that those recording events of their own (SSO provisioning) can take it.
  const audit = new AuditService(db, settings, log, config.dataDir);
  const formats = new FormatRegistry(formatPlugins({}));
  const ctx: AppContext = {
    config,
    log,
    db,
    bus,
    metrics: new Registry(),
    keys,
    settings,
    auth,
    authProviders: new AuthProviderService(db.prisma, auth, bus, log, audit),
    tokenPolicy: new TokenPolicyService(settings),
    users: new UserService(db.prisma, bus),
    roles: new RoleService(db.prisma, bus),
    storages,
    artifacts: new ArtifactService(db, bus, () => keys.hmacSecret),
    audit,
    repositories: new RepositoryService(db.prisma, bus, storages, () => config.publicRepoUrl ?? `http://localhost:${config.repoPort}`, {
      missMs: config.changePollMs,
      hitMs: 60_000,
    }),
    search: new SearchService(db, log, () => ctx),
    cooldown: new CooldownService(db, settings),
    formats,
    kit: undefined as unknown as FormatKit,
    async close() {
      ctx.audit.stop();
      await changeFeed.stop();
      await bus.close();
      await throttle.close();
      await db.close();
    },
  };
  ctx.artifacts.attach(ctx);
  const upstreams = new Upstreams(async () => (await settings.get("http_client")) as unknown as HttpClientSettings, `pantera/${config.version}`);
  const proxyCache = new ProxyCache(upstreams, log);
  bus.on((e) => proxyCache.onEvent(e as { type: string }));
  ctx.kit = new FormatKit({
    registry: formats,
    services: formatServices({ log, artifacts: ctx.artifacts, cooldown: ctx.cooldown, upstream: upstreams, withLock: (k, fn) => db.withLock(k, fn), dataDir: config.dataDir }),
    proxyCache,
    findRepository: async (name) => (await ctx.repositories.find(name)) ?? null,
    storageFor: (repo) => storages.forRepository(repo),
  });
  ctx.audit.startRetention();
  await bootstrap(ctx);
  // Drivers and npm staging are otherwise first touched by an upload: sweep crash left-overs now.
  void storages.openAll().catch((err) => log.warn("storage sweep at start failed", { err: String(err) }));
  void keepStagingSwept(path.join(config.dataDir, "tmp"));
  return ctx;
}

/** First start on an empty database: an all-powerful admin and the auth provider rows. */
export async function bootstrap(ctx: AppContext): Promise<void> {
  const { prisma } = ctx.db;
  // Every start, not only the first: a database made before okta and keycloak had rows gets them,
  // disabled until configured (PUT /auth-providers/:id/config needs a row to target).
  await prisma.authProvider.createMany({
    data: [
      { type: "local", priority: 0, enabled: true, config: {} },
      { type: "okta", priority: 1, enabled: false, config: {} },
      { type: "keycloak", priority: 2, enabled: false, config: {} },
    ],
    skipDuplicates: true,
  });
  if ((await prisma.user.count()) > 0) return;
  let password = ctx.config.adminPassword;
  const file = path.join(ctx.config.dataDir, "admin-password");
  if (!password) {
    // A file left by an earlier start (say, against another database) keeps its password, so
    // what the file says is always the admin's password.
    password = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
    if (!password) {
      password = randomBytes(12).toString("base64url");
      writeFileSync(file, password + "\n", { mode: 0o600 });
    }
  }
  const role = await prisma.role.upsert({ where: { name: "admin" }, create: { name: "admin", permissions: { "*": ["*"] } }, update: {} });
  const created = await prisma.user
    .create({ data: { name: "admin", passwordHash: await hashPassword(password), roles: { create: [{ roleId: role.id }] } } })
    .catch(() => null); // another node bootstrapped first
  if (created) {
    if (ctx.config.adminPassword) ctx.log.info("created user 'admin' with the password from PANTERA_ADMIN_PASSWORD");
    else ctx.log.info(`created user 'admin'; its password is in ${file}`); // not the password itself: logs are shipped and kept
  }
}
