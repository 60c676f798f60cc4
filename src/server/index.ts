// Starts the three apps of one node on their ports.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type Koa from "koa";
import type { Config } from "../config.js";

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

/** The node's three apps, built by the composition root (src/main.ts). */
export interface NodeApps {
  api: Koa;
  repository: Koa;
  metrics: Koa;
}

/**
 * Binds the apps to the configured ports. An ephemeral repository port (0) is written back into
 * `config.repoPort`, which generated URLs (group member links, pull instructions) read.
 */
export async function startServers(config: Pick<Config, "host" | "apiPort" | "repoPort" | "metricsPort">, apps: NodeApps): Promise<RunningServers> {
  const serve = (app: Koa): http.RequestListener => {
    const handle = app.callback();
    return (req, res) => void handle(req, res); // Koa answers errors itself
  };
  const servers = [http.createServer(serve(apps.api)), http.createServer(serve(apps.repository)), http.createServer(serve(apps.metrics))];
  for (const s of servers) {
    s.keepAliveTimeout = 65_000; // longer than common load-balancer idle timeouts
    s.requestTimeout = 0; // large uploads stream for as long as they need
  }
  const { host } = config;
  const [apiPort, repoPort, metricsPort] = await Promise.all([
    listen(servers[0], config.apiPort, host),
    listen(servers[1], config.repoPort, host),
    listen(servers[2], config.metricsPort, host),
  ]);
  // Ephemeral ports (0): remember the bound repository port for generated URLs (group member links).
  if (config.repoPort === 0) config.repoPort = repoPort;
  return {
    apiPort,
    repoPort,
    metricsPort,
    async close() {
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
