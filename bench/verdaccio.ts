// Verdaccio (the npm peer) on a loopback port with its own config, storage and one user:
// the upstream of npm proxy tests and the peer of the npm benchmark.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./lib.js";

const here = path.dirname(fileURLToPath(import.meta.url));

export interface Verdaccio {
  url: string;
  token: string;
  /** The server process, for RSS sampling. */
  pid: number;
  stop(): Promise<void>;
}

/** Verdaccio on a loopback port with its own config, storage and one user. */
export async function startVerdaccio(dir: string, opts: { maxBodySize?: string } = {}): Promise<Verdaccio> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const config = path.join(dir, "config.yaml");
  writeFileSync(
    config,
    [
      `storage: ${path.join(dir, "storage")}`,
      "auth:",
      "  htpasswd:",
      `    file: ${path.join(dir, "htpasswd")}`,
      "    max_users: 100",
      "    algorithm: sha1",
      "uplinks: {}",
      "packages:",
      "  '@*/*':",
      "    access: $all",
      "    publish: $authenticated",
      "    unpublish: $authenticated",
      "  '**':",
      "    access: $all",
      "    publish: $authenticated",
      "    unpublish: $authenticated",
      "web:",
      "  enable: false",
      "log: { type: stdout, format: json, level: error }",
      ...(opts.maxBodySize ? [`max_body_size: ${opts.maxBodySize}`] : []),
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(process.execPath, [path.join(here, "npm-verdaccio-server.mjs"), config, String(port)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NODE_ENV: "production" },
  });
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited: ${output}`);
    try {
      const res = await fetch(`${url}/-/ping`);
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (i > 300) throw new Error(`verdaccio did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const res = await fetch(`${url}/-/user/org.couchdb.user:seed`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "seed", password: "seed-password" }),
  });
  const body = (await res.json()) as { token?: string };
  if (!body.token) throw new Error(`verdaccio adduser failed: ${res.status} ${JSON.stringify(body)}`);
  return {
    url,
    token: body.token,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
