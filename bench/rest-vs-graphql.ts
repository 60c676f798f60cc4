// Cost of the REST compatibility layer: the same operations through /api/v1 and through
// POST /graphql directly, side by side in one run against one node.
//   npm run bench            (PGlite)   DATABASE_URL=postgres://... npm run bench   (PostgreSQL)
import { adminToken, load, startNode, table, type Result } from "./lib.js";

const node = await startNode(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {});
try {
  const token = await adminToken(node);
  const auth = { authorization: `Bearer ${token}` };
  // A list with some rows in it.
  for (let i = 0; i < 50; i++) {
    await fetch(`${node.api}/api/v1/users/bench-user-${i}`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ pass: "pw", email: `u${i}@bench.io` }),
    });
  }
  const gql = (query: string) => ({
    method: "POST" as const,
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ query }),
  });
  const rows: Result[] = [];
  const duration = Number(process.env.BENCH_SECONDS ?? 10);
  const cases: [string, string, Record<string, unknown>][] = [
    ["REST GET /api/v1/auth/me", `${node.api}/api/v1/auth/me`, { headers: auth }],
    ["GraphQL { me }", `${node.api}/graphql`, gql("{ me { name context email groups permissions } }")],
    ["REST GET /api/v1/users?size=20", `${node.api}/api/v1/users?size=20`, { headers: auth }],
    ["GraphQL { users(size:20) }", `${node.api}/graphql`, gql("{ users(size: 20) { items { name type email enabled } page size total hasMore } }")],
  ];
  for (const [name, url, opts] of cases) {
    await load("warm-up", { url, ...opts, duration: 2 });
    rows.push(await load(name, { url, ...opts, duration }));
  }
  console.log(table(rows));
  console.log(`\nREST/GraphQL throughput ratio: me ${(rows[0].rps / rows[1].rps).toFixed(2)}, users ${(rows[2].rps / rows[3].rps).toFixed(2)}`);
} finally {
  await node.stop();
}
