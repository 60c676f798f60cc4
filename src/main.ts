// The composition root: builds one Pantera node, each service given only the narrow
// dependencies it uses, and the three HTTP apps over them. Every per-node cache and limit lives in
// an object built here (proxy cache, upstream limits, anonymous principal, import queue, readiness
// verdict, dashboard cache, request counters). Run as the entry point (`npm start`), it starts the
// node and stops it on SIGINT/SIGTERM; tests start nodes through `composeNode`.
import { mkdirSync, realpathSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Registry } from "prom-client";
import { ArtifactRecords } from "./artifacts/records.js";
import { ArtifactService } from "./artifacts/service.js";
import { AuditService } from "./audit/service.js";
import { KeyStore } from "./auth/keys.js";
import { TokenPolicyService } from "./auth/policy.js";
import { AuthProviderService } from "./auth/providers.js";
import { AuthService } from "./auth/service.js";
import { LoginThrottle } from "./auth/throttle.js";
import { bootstrap } from "./bootstrap.js";
import { ChangeFeed } from "./cluster/change-feed.js";
import { loadConfig, type Config } from "./config.js";
import { CooldownService } from "./cooldown/service.js";
import { DashboardService, RequestCountFlusher } from "./dashboard/service.js";
import { openDatabase } from "./db/index.js";
import { EventBus } from "./events/bus.js";
import { FormatKit } from "./formats/kit/dispatch.js";
import { FormatHooks } from "./formats/kit/hooks.js";
import { ProxyCache } from "./formats/kit/proxy-cache.js";
import { FormatRegistry } from "./formats/kit/registry.js";
import { formatServices } from "./formats/kit/services.js";
import { Upstreams, type HttpClientSettings } from "./formats/kit/upstream.js";
import { keepStagingSwept } from "./formats/npm/publish-stream.js";
import { formatPlugins } from "./formats/plugins.js";
import type { GraphqlServices } from "./graphql/context.js";
import { createReadiness, type Readiness } from "./health/readiness.js";
import { ImportService } from "./importer/service.js";
import { IndyService } from "./indy/service.js";
import { createLogger, type Logger } from "./log.js";
import { createHttpMetrics } from "./metrics/http.js";
import { registerFileCacheMetrics } from "./metrics/storage.js";
import { RepositoryService } from "./repositories/service.js";
import type { RepositoryTypes } from "./repositories/types.js";
import type { RepositoryRecord } from "./repositories/types.js";
import { RoleService } from "./roles/service.js";
import { SearchService } from "./search/service.js";
import { createApiApp } from "./server/api.js";
import { PortCallers } from "./server/callers.js";
import { startServers, type RunningServers } from "./server/index.js";
import { createMetricsApp } from "./server/metrics.js";
import { createRepositoryApp } from "./server/repository.js";
import { SettingsService } from "./settings/service.js";
import { StorageDriverRegistry } from "./storage/driver.js";
import { defaultStorageDrivers } from "./storage/drivers.js";
import { StorageService } from "./storage/service.js";
import { UserService } from "./users/service.js";

/** The services of one node, as the root built them (for tests and tools to read; no service takes this). */
export interface NodeServices extends GraphqlServices {
  // (The whole services where GraphqlServices names only the part resolvers use.)
  config: Config;
  settings: SettingsService;
  cooldown: CooldownService;
  metrics: Registry;
  keys: KeyStore;
  /** The artifacts index (`artifacts` is REST section 8 over it). */
  artifactRecords: ArtifactRecords;
  importer: ImportService;
  readiness: Readiness;
  formats: FormatRegistry;
  kit: FormatKit;
  hooks: FormatHooks;
  callers: PortCallers;
}

export interface PanteraNode {
  services: NodeServices;
  /** Binds the api, repository and metrics apps to the configured ports (once). */
  listen(): Promise<RunningServers>;
  /** Stops the servers (if listening), then every service. */
  close(): Promise<void>;
}

export async function composeNode(config: Config, log: Logger = createLogger(config.logLevel)): Promise<PanteraNode> {
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
  const authProviders = new AuthProviderService(db.prisma, auth, bus, log, audit);
  const tokenPolicy = new TokenPolicyService(settings);
  const users = new UserService(db.prisma, bus);
  const roles = new RoleService(db.prisma, bus);
  // Read at each use: an ephemeral repository port is known only once the servers listen.
  const repoBaseUrl = () => config.publicRepoUrl ?? `http://localhost:${config.repoPort}`;
  // The supported types (for `repo_types` keys) are read only at request time, once the registry exists.
  const cooldown = new CooldownService(db, settings, {
    types: (): string[] => repositories.types.types(),
    parseType: (t: string): ReturnType<RepositoryTypes["parseType"]> => repositories.types.parseType(t),
  });
  const artifactRecords = new ArtifactRecords(db, bus, audit);
  const storageFor = (repo: Parameters<StorageService["forRepository"]>[0]) => storages.forRepository(repo);

  // ---- the format kit: upstreams, proxy cache, the services formats are handed, the registry ----
  const upstreams = new Upstreams(async () => (await settings.get("http_client")) as unknown as HttpClientSettings, `pantera/${config.version}`);
  const proxyCache = new ProxyCache(upstreams, log);
  bus.on((e) => proxyCache.onEvent(e as { type: string }));
  const formatSvc = formatServices({
    log,
    artifacts: artifactRecords,
    cooldown,
    upstream: upstreams,
    withLock: (k, fn) => db.withLock(k, fn),
    dataDir: config.dataDir,
  });
  const formats: FormatRegistry = new FormatRegistry(
    formatPlugins({
      auth,
      sql: db.sql,
      // The one cycle of the graph: the repository service validates types against this registry,
      // and the OCI catalog of a plugin in it lists repositories. Called only while serving requests.
      repositories: { find: (name) => findRepository(name), all: () => repositories.all() },
      storageFor,
      services: () => formatSvc,
    }),
  );
  const repositories: RepositoryService = new RepositoryService(db.prisma, bus, storages, formats, repoBaseUrl, {
    missMs: config.changePollMs,
    hitMs: 60_000,
  });
  const findRepository = async (name: string): Promise<RepositoryRecord | null> => (await repositories.find(name)) ?? null;
  const kit = new FormatKit({ registry: formats, services: formatSvc, proxyCache, findRepository, storageFor });
  const hooks = new FormatHooks({ registry: formats, services: formatSvc });

  // ---- services over the artifacts index ----
  const artifacts = new ArtifactService({
    records: artifactRecords,
    repositories,
    storages,
    hooks,
    hmacSecret: () => keys.hmacSecret,
    repoBaseUrl,
  });
  const search = new SearchService({ db, log, repositories, storages, hooks });
  const importer = new ImportService({ db, settings, repositories, storages, artifacts: artifactRecords, hooks });

  // ---- per-node HTTP state ----
  const metrics = new Registry();
  const httpMetrics = createHttpMetrics(metrics);
  registerFileCacheMetrics(metrics, storages.fileCache);
  const requestCounts = new RequestCountFlusher({ db, log }, httpMetrics);
  const dashboard = new DashboardService({ db, requestCounts, types: repositories.types });
  const readiness = createReadiness({ db, storages });
  const callers = new PortCallers({ auth, bus });
  const indy = new IndyService({ repositories });

  audit.startRetention();
  await bootstrap({ config, db, log });
  // Drivers and npm staging are otherwise first touched by an upload: sweep crash left-overs now.
  void storages.openAll().catch((err) => log.warn("storage sweep at start failed", { err: String(err) }));
  void keepStagingSwept(path.join(config.dataDir, "tmp"));

  const services: NodeServices = {
    config,
    log,
    db,
    bus,
    metrics,
    keys,
    settings,
    auth,
    authProviders,
    tokenPolicy,
    users,
    roles,
    storages,
    repositories,
    artifactRecords,
    artifacts,
    search,
    cooldown,
    audit,
    importer,
    dashboard,
    readiness,
    formats,
    kit,
    hooks,
    callers,
  };
  // What GraphQL resolvers (and the REST layer over them) are given: the node's services, seen through GraphqlServices.
  const graphql: GraphqlServices = services;

  let servers: RunningServers | undefined;
  return {
    services,
    async listen() {
      if (servers) throw new Error("This node is already listening");
      const apps = {
        api: createApiApp({ config, log, auth, graphql, readiness, metrics: httpMetrics }),
        repository: createRepositoryApp({
          config,
          log,
          settings,
          repositories: { find: findRepository },
          storages: { forRepository: storageFor },
          callers,
          importer,
          indy,
          audit,
          readiness,
          formats,
          kit,
          metrics: httpMetrics,
        }),
        metrics: createMetricsApp(metrics),
      };
      requestCounts.start();
      servers = await startServers(config, apps);
      return servers;
    },
    async close() {
      if (servers) {
        await requestCounts.stop();
        await servers.close();
      }
      audit.stop();
      await changeFeed.stop();
      await bus.close();
      await throttle.close();
      await db.close();
    },
  };
}

/** `npm start`: one node from the environment, stopped on SIGINT/SIGTERM. */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const node = await composeNode(config, log);
  const servers = await node.listen();
  log.info("pantera started", {
    version: config.version,
    api: servers.apiPort,
    repository: servers.repoPort,
    metrics: servers.metricsPort,
    database: node.services.db.kind,
    cluster: node.services.bus.clustered,
  });
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log.info("shutting down", { signal });
      void node.close().then(() => process.exit(0));
    });
  }
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(realpathSync(entry)).href) await main();
