// npm read path, Pantera vs Verdaccio, side by side in one run: the same package (same versions,
// same tarball bytes) published to a Pantera npm hosted repository and to Verdaccio, then
// autocannon GETs of the full packument, the abbreviated packument and one tarball on each.
//
//   npx tsx bench/npm.ts            (BENCH_DURATION=seconds per case, default 10; BENCH_CONNECTIONS, default 16)
//
// Pantera runs as its own process (src/main.ts, PGlite, fs storage) and is called with a Bearer
// token, as an npm client with _authToken does; Verdaccio runs as its own process with
// anonymous read access (its cheapest path).
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { load, startNode, table, type Result } from "./lib.js";
import { publishAll } from "./npm-publish-body.js";
import { startVerdaccio } from "./verdaccio.js";

const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const VERSIONS = Number(process.env.BENCH_VERSIONS ?? 30);
const TARBALL_BYTES = Number(process.env.BENCH_TARBALL_BYTES ?? 64 * 1024);

async function main() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "pantera-npm-bench-"));
  const verdaccio = await startVerdaccio(path.join(tmp, "verdaccio"));
  const node = await startNode();
  try {
    const login = await fetch(`${node.api}/api/v1/auth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "admin", pass: node.adminPassword }) });
    const { token } = (await login.json()) as { token: string };
    const created = await fetch(`${node.api}/api/v1/repositories/npm-bench`, { method: "PUT", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify({ repo: { type: "npm", storage: "default" } }) });
    if (created.status >= 300) throw new Error(`create repo: ${created.status} ${await created.text()}`);
    const pantera = `${node.repo}/npm-bench`;
    const name = "bench-pkg";
    const tarballs = Array.from({ length: VERSIONS }, () => randomBytes(TARBALL_BYTES));
    await publishAll(pantera, token, name, tarballs);
    await publishAll(verdaccio.url, verdaccio.token, name, tarballs);

    const auth = { authorization: `Bearer ${token}` };
    const corgi = { accept: "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*" };
    const file = `${name}-1.0.${VERSIONS - 1}.tgz`;
    // Sanity: both serve the same bytes and versions.
    for (const [base, headers] of [[pantera, auth], [verdaccio.url, {}]] as const) {
      const p = (await (await fetch(`${base}/${name}`, { headers })).json()) as { versions: Record<string, unknown> };
      if (Object.keys(p.versions).length !== VERSIONS) throw new Error(`${base}: ${Object.keys(p.versions).length} versions`);
      const t = Buffer.from(await (await fetch(`${base}/${name}/-/${file}`, { headers })).arrayBuffer());
      if (!t.equals(tarballs[VERSIONS - 1])) throw new Error(`${base}: tarball differs`);
    }
    const cases: Array<[string, string, Record<string, string>]> = [
      ["packument (full) — pantera", `${pantera}/${name}`, auth],
      ["packument (full) — verdaccio", `${verdaccio.url}/${name}`, {}],
      ["packument (abbreviated) — pantera", `${pantera}/${name}`, { ...auth, ...corgi }],
      ["packument (abbreviated) — verdaccio", `${verdaccio.url}/${name}`, corgi],
      [`tarball ${TARBALL_BYTES / 1024} KiB — pantera`, `${pantera}/${name}/-/${file}`, auth],
      [`tarball ${TARBALL_BYTES / 1024} KiB — verdaccio`, `${verdaccio.url}/${name}/-/${file}`, {}],
    ];
    const rows: Result[] = [];
    for (const [label, url, headers] of cases) {
      await load("warm-up", { url, headers, duration: 1, connections });
      rows.push(await load(label, { url, headers, duration, connections }));
      process.stderr.write(`${label}: ${rows[rows.length - 1].rps} req/s\n`);
    }
    console.log(`\nnpm read path, ${VERSIONS} versions, ${connections} connections, ${duration}s per case, node ${process.version}, ${os.cpus().length} cpus\n`);
    console.log(table(rows));
  } finally {
    await node.stop();
    await verdaccio.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
