// npm search (GET /-/v1/search) over a hosted repository, Pantera vs Verdaccio, side by side in
// one run: the same N packages (one version each, descriptions drawn from a small vocabulary)
// published to both, then autocannon searches of three kinds: a rare word (one package), a
// common word (about a tenth of the packages) and an exact package name.
//
//   npx tsx bench/npm-search.ts            (BENCH_PACKAGES, default 2000; BENCH_DURATION, default 10)
import { randomBytes } from "node:crypto";
import os from "node:os";
import { measure, table } from "./lib.js";
import { publishAll, withNpmPeers } from "./npm-peers.js";

const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const PACKAGES = Number(process.env.BENCH_PACKAGES ?? 2000);
const WORDS = ["parser", "http", "stream", "cache", "logger", "config", "crypto", "queue", "schema", "render"];

const description = (i: number) => `${WORDS[i % WORDS.length]} utilities, part ${i}${i === 1234 % PACKAGES ? " zebrafish" : ""}`;

async function publishMany(registry: string, token: string): Promise<void> {
  const tarball = randomBytes(512);
  const queue = Array.from({ length: PACKAGES }, (_, i) => i);
  // Eight publishers at a time: each package is its own document, so they do not contend.
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) await publishAll(registry, token, `pkg-${i}`, [tarball], description(i));
    }),
  );
}

async function main() {
  await withNpmPeers(async ({ pantera, auth, token, verdaccio }) => {
    let t = performance.now();
    await publishMany(pantera, token);
    process.stderr.write(`published ${PACKAGES} packages to Pantera in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
    t = performance.now();
    await publishMany(verdaccio.url, verdaccio.token);
    process.stderr.write(`published ${PACKAGES} packages to Verdaccio in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);

    const queries: Array<[string, string, number]> = [
      ["rare word", "zebrafish", 1],
      ["common word", "stream", Math.ceil(PACKAGES / WORDS.length)],
      ["exact name", "pkg-42", 1],
    ];
    const peers = [
      ["pantera", pantera, auth],
      ["verdaccio", verdaccio.url, {}],
    ] as const;
    // Sanity: both find what the data says they should (the first search also fills Pantera's index).
    for (const [, text, want] of queries) {
      for (const [, base, headers] of peers) {
        const res = await fetch(`${base}/-/v1/search?text=${text}&size=250`, { headers });
        const body = (await res.json()) as { objects: { package: { name: string } }[]; total: number };
        const names = body.objects.map((o) => o.package.name);
        const ok = text === "pkg-42" ? names[0] === "pkg-42" : names.length === Math.min(want, 250);
        if (!ok) throw new Error(`${base} search ${text}: ${names.length} hits (${names.slice(0, 3).join(", ")}), total ${body.total}`);
      }
    }
    const cases = queries.flatMap(([label, text]) =>
      peers.map(([who, base, headers]) => ({ name: `${label} — ${who}`, url: `${base}/-/v1/search?text=${text}&size=20`, headers })),
    );
    const rows = await measure(cases, { duration, connections });
    console.log(
      `\nnpm search, ${PACKAGES} packages, size=20, ${connections} connections, ${duration}s per case, node ${process.version}, ${os.cpus().length} cpus\n`,
    );
    console.log(table(rows));
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
