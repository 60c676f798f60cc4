// npm publish rate of small packages, Pantera vs Verdaccio in one run: 200 publishes one after
// the other (latency), then 400 with 8 publishers at a time (throughput). Each publish is a new
// package with one 512-byte tarball, so no two publishes contend for one package's lock.
//
//   npx tsx bench/npm-publish-rate.ts          (Pantera on PGlite)
//   DATABASE_URL=postgres://... npx tsx bench/npm-publish-rate.ts   (Pantera on PostgreSQL)
import { randomBytes } from "node:crypto";
import os from "node:os";
import { publishAll, withNpmPeers } from "./npm-peers.js";

const SEQUENTIAL = 200;
const CONCURRENT = 400;
const PUBLISHERS = 8;

await withNpmPeers(async ({ pantera, token, verdaccio }) => {
  const tarball = randomBytes(512);
  const lines = ["| server | sequential ms/publish | publishes/s with 8 publishers |", "|---|---:|---:|"];
  for (const [who, base, tok] of [
    ["pantera", pantera, token],
    ["verdaccio", verdaccio.url, verdaccio.token],
  ] as const) {
    for (let i = 0; i < 20; i++) await publishAll(base, tok, `warm-${i}`, [tarball]);
    let t = performance.now();
    for (let i = 0; i < SEQUENTIAL; i++) await publishAll(base, tok, `seq-${i}`, [tarball]);
    const perPublish = (performance.now() - t) / SEQUENTIAL;
    const queue = Array.from({ length: CONCURRENT }, (_, i) => i);
    t = performance.now();
    await Promise.all(
      Array.from({ length: PUBLISHERS }, async () => {
        for (let i = queue.shift(); i !== undefined; i = queue.shift()) await publishAll(base, tok, `conc-${i}`, [tarball]);
      }),
    );
    const rate = CONCURRENT / ((performance.now() - t) / 1000);
    lines.push(`| ${who} | ${perPublish.toFixed(1)} | ${rate.toFixed(0)} |`);
    process.stderr.write(`${who}: ${perPublish.toFixed(1)} ms/publish, ${rate.toFixed(0)} publishes/s\n`);
  }
  console.log(
    `\nnpm publish rate, 512-byte tarballs, Pantera on ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"}, node ${process.version}, ${os.cpus().length} cpus\n`,
  );
  console.log(lines.join("\n"));
});
