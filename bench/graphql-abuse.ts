// Repository-port latency while /graphql is flooded with abusive requests (the three apps share one event loop).
//
//   npx tsx bench/graphql-abuse.ts [seconds=10] [connections=4] [flood=0,1,2,3]   (DATABASE_URL=postgres://… for PostgreSQL)
//
// Pantera runs in its own process (bench/lib.ts startNode). One sampler in this process GETs /.health and a small
// stored file on 8080 one after the other, first idle, then while autocannon keeps `connections` connections
// busy on /graphql with a mix of: 10,000 aliases of an introspection field (anonymous), 10,000 aliases of
// `repositories { total }` (admin), and what the default limits let through (15 such aliases; one full introspection).
import { getIntrospectionQuery } from "graphql";
import autocannon from "autocannon";
import { adminToken, startNode } from "./lib.js";

const SECONDS = Number(process.argv[2] ?? 10);
const CONNECTIONS = Number(process.argv[3] ?? 4);
/** Which of the requests below make up the flood (indexes). */
const FLOOD = (process.argv[4] ?? "0,1,2,3").split(",").map(Number);

const aliases = (n: number, selection: string) => Array.from({ length: n }, (_, i) => `a${i}: ${selection}`).join(" ");

interface Latency {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Sequential GETs of `urls` for `seconds`; latency percentiles in ms. */
async function sample(urls: string[], headers: Record<string, string>, seconds: number): Promise<Latency> {
  const times: number[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    for (const url of urls) {
      const t0 = performance.now();
      const res = await fetch(url, { headers });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
      times.push(performance.now() - t0);
    }
  }
  times.sort((a, b) => a - b);
  const at = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return { count: times.length, p50: at(0.5), p99: at(0.99), max: times[times.length - 1] };
}

async function main() {
  const node = await startNode();
  try {
    const token = await adminToken(node);
    const bearer = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const put = await fetch(`${node.api}/api/v1/repositories/files`, {
      method: "PUT",
      headers: bearer,
      body: JSON.stringify({ repo: { type: "file", storage: "default" } }),
    });
    if (put.status >= 300) throw new Error(`repository: ${put.status} ${await put.text()}`);
    const basic = { authorization: "Basic " + Buffer.from(`admin:${node.adminPassword}`).toString("base64") };
    const upload = await fetch(`${node.repo}/files/small.txt`, { method: "PUT", headers: basic, body: "small stored file" });
    if (upload.status !== 201) throw new Error(`upload: ${upload.status}`);

    const cases = [
      {
        name: "10,000 aliases of __schema { types { name } }, anonymous",
        query: `{ ${aliases(10_000, "__schema { types { name } }")} }`,
        headers: { "content-type": "application/json" },
      },
      { name: "10,000 aliases of repositories { total }, admin", query: `{ ${aliases(10_000, "repositories { total }")} }`, headers: bearer },
      { name: "15 aliases of repositories { total }, admin", query: `{ ${aliases(15, "repositories { total }")} }`, headers: bearer },
      { name: "full introspection query, admin", query: getIntrospectionQuery(), headers: bearer },
    ];
    console.log("| request | status | ms | body bytes |\n|---|---:|---:|---:|");
    for (const c of cases) {
      const t0 = performance.now();
      const res = await fetch(`${node.api}/graphql`, { method: "POST", headers: c.headers, body: JSON.stringify({ query: c.query }) });
      const bytes = (await res.arrayBuffer()).byteLength;
      console.log(`| ${c.name} | ${res.status} | ${Math.round(performance.now() - t0)} | ${bytes} |`);
    }

    const urls = [`${node.repo}/.health`, `${node.repo}/files/small.txt`];
    const idle = await sample(urls, basic, SECONDS);
    const flood = autocannon({
      url: `${node.api}/graphql`,
      connections: CONNECTIONS,
      duration: SECONDS + 2,
      timeout: 60,
      requests: cases
        .filter((_, i) => FLOOD.includes(i))
        .map((c) => ({ method: "POST", path: "/graphql", headers: c.headers, body: JSON.stringify({ query: c.query }) })),
    });
    await new Promise((r) => setTimeout(r, 1000)); // let the flood reach the server first
    const busy = await sample(urls, basic, SECONDS);
    const result = await flood;
    const row = (name: string, l: Latency) => `| ${name} | ${l.count} | ${l.p50.toFixed(1)} | ${l.p99.toFixed(1)} | ${l.max.toFixed(1)} |`;
    console.log("\n| 8080 GET /.health + small file | requests | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|");
    console.log(row("idle", idle));
    console.log(row(`under /graphql flood (${CONNECTIONS} connections, requests ${FLOOD.join(",")})`, busy));
    const statuses = Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => `${code}: ${(s as { count: number }).count}`);
    console.log(
      `\nflood: ${result.requests.total} /graphql requests in ${SECONDS + 2} s (${statuses.join(", ")}), ` +
        `${result.timeouts} timeouts, ${(result.throughput.total / 1e6).toFixed(1)} MB answered`,
    );
  } finally {
    await node.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
