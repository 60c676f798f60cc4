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
import os from "node:os";
import { measure, table } from "./lib.js";
import { publishAll, withNpmPeers } from "./npm-peers.js";

const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const VERSIONS = Number(process.env.BENCH_VERSIONS ?? 30);
const TARBALL_BYTES = Number(process.env.BENCH_TARBALL_BYTES ?? 64 * 1024);

async function main() {
  await withNpmPeers(async ({ pantera, auth, token, verdaccio }) => {
    const name = "bench-pkg";
    const tarballs = Array.from({ length: VERSIONS }, () => randomBytes(TARBALL_BYTES));
    await publishAll(pantera, token, name, tarballs);
    await publishAll(verdaccio.url, verdaccio.token, name, tarballs);

    const corgi = { accept: "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*" };
    const file = `${name}-1.0.${VERSIONS - 1}.tgz`;
    // Sanity: both serve the same bytes and versions.
    for (const [base, headers] of [
      [pantera, auth],
      [verdaccio.url, {}],
    ] as const) {
      const p = (await (await fetch(`${base}/${name}`, { headers })).json()) as { versions: Record<string, unknown> };
      if (Object.keys(p.versions).length !== VERSIONS) throw new Error(`${base}: ${Object.keys(p.versions).length} versions`);
      const t = Buffer.from(await (await fetch(`${base}/${name}/-/${file}`, { headers })).arrayBuffer());
      if (!t.equals(tarballs[VERSIONS - 1])) throw new Error(`${base}: tarball differs`);
    }
    const rows = await measure(
      [
        { name: "packument (full) — pantera", url: `${pantera}/${name}`, headers: auth },
        { name: "packument (full) — verdaccio", url: `${verdaccio.url}/${name}`, headers: {} },
        { name: "packument (abbreviated) — pantera", url: `${pantera}/${name}`, headers: { ...auth, ...corgi } },
        { name: "packument (abbreviated) — verdaccio", url: `${verdaccio.url}/${name}`, headers: corgi },
        { name: `tarball ${TARBALL_BYTES / 1024} KiB — pantera`, url: `${pantera}/${name}/-/${file}`, headers: auth },
        { name: `tarball ${TARBALL_BYTES / 1024} KiB — verdaccio`, url: `${verdaccio.url}/${name}/-/${file}`, headers: {} },
      ],
      { duration, connections },
    );
    console.log(
      `\nnpm read path, ${VERSIONS} versions, ${connections} connections, ${duration}s per case, node ${process.version}, ${os.cpus().length} cpus\n`,
    );
    console.log(table(rows));
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
