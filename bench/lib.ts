// Shared benchmark helpers: start a Pantera node as a child process and run autocannon.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

export interface Node {
  api: string;
  /** The server process, for RSS sampling. */
  pid: number;
  repo: string;
  adminPassword: string;
  stop(): Promise<void>;
}

/** Starts `src/main.ts` in its own process (so load generation does not share its event loop). */
export async function startNode(env: Record<string, string> = {}): Promise<Node> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "pantera-bench-"));
  const [apiPort, repoPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const adminPassword = "bench-admin";
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: {
      ...process.env,
      PANTERA_DATA_DIR: dataDir,
      PANTERA_API_PORT: String(apiPort),
      PANTERA_REPO_PORT: String(repoPort),
      PANTERA_METRICS_PORT: String(metricsPort),
      PANTERA_HOST: "127.0.0.1",
      PANTERA_ADMIN_PASSWORD: adminPassword,
      PANTERA_LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const api = `http://127.0.0.1:${apiPort}`;
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${api}/api/v1/health`)).ok) break;
    } catch {}
    if (child.exitCode !== null) throw new Error("pantera exited during start-up");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    api,
    pid: child.pid!,
    repo: `http://127.0.0.1:${repoPort}`,
    adminPassword,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An access token of the node's bootstrapped admin. */
export async function adminToken(node: Pick<Node, "api" | "adminPassword">): Promise<string> {
  const res = await fetch(`${node.api}/api/v1/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "admin", pass: node.adminPassword }),
  });
  if (res.status !== 200) throw new Error(`admin login failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

export interface Result {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

export async function load(name: string, opts: autocannon.Options): Promise<Result> {
  const r = await autocannon({ connections: 16, duration: 10, ...opts });
  const non2xx = r.non2xx + r.errors + r.timeouts;
  return { name, rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99, errors: non2xx };
}

/** Each case after a 1 s warm-up, one after the other; progress on stderr. */
export async function measure(cases: Array<{ name: string } & autocannon.Options>, opts: { duration: number; connections: number }): Promise<Result[]> {
  const rows: Result[] = [];
  for (const { name, ...c } of cases) {
    await load("warm-up", { ...c, duration: 1, connections: opts.connections });
    rows.push(await load(name, { ...c, ...opts }));
    process.stderr.write(`${name}: ${rows[rows.length - 1].rps} req/s\n`);
  }
  return rows;
}

export function table(rows: Result[]): string {
  const lines = ["| case | req/s | p50 ms | p99 ms | errors |", "|---|---:|---:|---:|---:|"];
  for (const r of rows) lines.push(`| ${r.name} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors} |`);
  return lines.join("\n");
}
