// Starts the three apps of one node on their ports.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { AppContext } from "../context.js";
import { createHttpMetrics } from "../metrics/http.js";
import { registerFileCacheMetrics } from "../metrics/storage.js";
import { createApiApp } from "./api.js";
import { createRepositoryApp } from "./repository.js";
import { createMetricsApp } from "./metrics.js";
import { startRequestCountFlusher } from "../dashboard/service.js";

export interface RunningServers {
  apiPort: number;
  repoPort: number;
  metricsPort: number;
  close(): Promise<void>;
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startServers(app: AppContext): Promise<RunningServers> {
  const metrics = createHttpMetrics(app.metrics);
  registerFileCacheMetrics(app.metrics, app.storages.fileCache);
  const requestCounts = startRequestCountFlusher(app, metrics);
  const servers = [
    http.createServer(createApiApp(app, metrics).callback()),
    http.createServer(createRepositoryApp(app, metrics).callback()),
    http.createServer(createMetricsApp(app.metrics).callback()),
  ];
  for (const s of servers) {
    s.keepAliveTimeout = 65_000; // longer than common load-balancer idle timeouts
    s.requestTimeout = 0; // large uploads stream for as long as they need
  }
  const { host } = app.config;
  const [apiPort, repoPort, metricsPort] = await Promise.all([
    listen(servers[0], app.config.apiPort, host),
    listen(servers[1], app.config.repoPort, host),
    listen(servers[2], app.config.metricsPort, host),
  ]);
  // Ephemeral ports (0): remember the bound repository port for generated URLs (group member links).
  if (app.config.repoPort === 0) app.config.repoPort = repoPort;
  return {
    apiPort,
    repoPort,
    metricsPort,
    async close() {
      await requestCounts.stop();
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
    },
  };
}
