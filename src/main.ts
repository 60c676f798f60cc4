// Entry point: `npm start`.
import { loadConfig } from "./config.js";
import { createAppContext } from "./context.js";
import { createLogger } from "./log.js";
import { startServers } from "./server/index.js";

const config = loadConfig();
const log = createLogger(config.logLevel);
const app = await createAppContext(config, log);
const servers = await startServers(app);
log.info("pantera started", {
  version: config.version,
  api: servers.apiPort,
  repository: servers.repoPort,
  metrics: servers.metricsPort,
  database: app.db.kind,
  cluster: app.bus.clustered,
});

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down", { signal });
    await servers.close();
    await app.close();
    process.exit(0);
  });
}
