// /graphql request limits: parser tokens, depth, aliases, cost, __schema repeats, body size, batching,
// anonymous introspection, concurrent executions, the execution time budget — and that a flood of abusive
// requests on the API port leaves the repository port (same event loop) responsive.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Kind, OperationTypeNode, parse } from "graphql";
import { loadConfig, type Config } from "../../src/config.js";
import { ADMIN_PASSWORD, backends, expectError, request, startServer, type Response, type TestServer } from "../helpers/server.js";

type Service = Record<string, (...args: unknown[]) => unknown>;

/** Counts calls of `service[method]` (a resolver's one service call), so a test can see that none ran. */
function countCalls(service: object, method: string): { readonly count: number } {
  const target = service as Service;
  const original = target[method];
  const counter = { count: 0 };
  target[method] = function (this: unknown, ...args: unknown[]) {
    counter.count++;
    return original.apply(this, args);
  };
  return counter;
}

/** A GraphQL request refused before execution: the status, the code, and no `data` key (nothing ran). */
function expectRefused(res: Response, status: number, code: string, message: RegExp): void {
  assert.equal(res.status, status, res.text.slice(0, 300));
  assert.equal(res.body.errors?.[0]?.extensions?.code, code, res.text.slice(0, 300));
  assert.equal(res.body.errors[0].extensions.status, status);
  assert.match(res.body.errors[0].message, message);
  assert.equal("data" in res.body, false, "execution must not start");
  assert.equal(res.body.errors[0].extensions.http, undefined, "Yoga's http extension is not sent");
  assert.ok(res.text.length < 2000, `small answer, got ${res.text.length} bytes`);
}

const aliases = (n: number, selection: string) => Array.from({ length: n }, (_, i) => `a${i}: ${selection}`).join(" ");
/** Fragment Fi spreads F(i+1) twice: 2^n fields once expanded, in a few hundred tokens. */
const nested = (n: number) =>
  Array.from({ length: n }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(" ") + ` fragment F${n} on Query { version }`;
const typeChain = (n: number) => "ofType { ".repeat(n) + "name" + " }".repeat(n);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

for (const backend of backends()) {
  describe(`GraphQL request limits [${backend}]`, () => {
    let s: TestServer;
    const basic: [string, string] = ["admin", ADMIN_PASSWORD];
    before(async () => {
      s = await startServer({ backend });
      const admin = await s.services.auth.authenticateToken(s.adminToken);
      await s.services.repositories.put(admin, "files", { type: "file", storage: "default" });
      assert.equal((await s.repo("PUT", "/files/small.txt", { raw: "small stored file", basic })).status, 201);
    });
    after(() => s.close());

    it("refuses each limit before any resolver runs, with a small 400", async () => {
      const lists = countCalls(s.services.repositories, "list");
      const trees = countCalls(s.services.artifacts, "tree");
      const cases: [string, string, RegExp][] = [
        ["tokens: 10,000 aliases of an introspection field", `{ ${aliases(10_000, "__typename")} }`, /more than \d+ tokens/],
        ["tokens: 10,000 aliases of repositories { total }", `{ ${aliases(10_000, "repositories { total }")} }`, /tokens/],
        ["aliases", `{ ${aliases(16, "repositories { total }")} }`, /16 aliases; the limit is 15/],
        ["depth", `{ __type(name: "Query") { fields { type { ${typeChain(14)} } } } }`, /depth 18 exceeds the limit of 15/],
        ["cost", `{ repositoryTree(name: "files", limit: 10000) { items { name path } } }`, /cost 20002 exceeds the limit of 5000/],
        ["repeated __schema", `{ a: __schema { queryType { name } } b: __schema { queryType { name } } }`, /__schema 2 times/],
        ["fragments doubling 40 times", `{ ...F0 } ${nested(40)}`, /cost 1099511627776 exceeds/],
        ["fragments expand", `query { ...R } fragment R on Query { repositories(size: 100) { items { ${"name type ".repeat(30)} } } }`, /cost 6002/],
      ];
      for (const [name, query, message] of cases) {
        const res = await s.graphql(query, undefined, s.adminToken);
        try {
          expectRefused(res, 400, "BAD_REQUEST", message);
        } catch (err) {
          throw new Error(`${name}: ${(err as Error).message}`);
        }
      }
      assert.equal(lists.count, 0, "repositories.list never ran");
      assert.equal(trees.count, 0, "artifacts.tree never ran");
      // A fragment cycle is left to validation (a 200 with the spec's error, as before), not walked forever.
      const cycle = await s.graphql("{ ...A } fragment A on Query { version ...B } fragment B on Query { ...A }");
      assert.match(cycle.body.errors[0].message, /Cannot spread fragment/);
      assert.equal("data" in cycle.body, false);
      // A page size that arrives in a variable counts too.
      const res = await s.graphql('query($n: Int) { repositoryTree(name: "files", limit: $n) { items { name } } }', { n: 9000 }, s.adminToken);
      expectRefused(res, 400, "BAD_REQUEST", /cost 9002/);
      const byDefault = await s.graphql('query($n: Int = 9000) { repositoryTree(name: "files", limit: $n) { items { name } } }', {}, s.adminToken);
      expectRefused(byDefault, 400, "BAD_REQUEST", /cost 9002/);
      assert.equal(trees.count, 0);
    });

    it("still answers normal queries, and every rest-compat query document passes the limits", async () => {
      const res = await s.graphql("query($size: Int) { version health repositories(size: $size) { total items { name type } } }", { size: 100 }, s.adminToken);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.data.health, "ok");
      assert.equal(res.body.data.repositories.total, 1);
      const get = await request("GET", `${s.apiUrl}/graphql?query=${encodeURIComponent("{ version }")}`, { headers: { accept: "application/json" } });
      assert.equal(get.status, 200, get.text);
      assert.equal(get.body.data.version, s.config.version);
      const dir = new URL("../../rest-compat/operations/", import.meta.url);
      for (const file of readdirSync(dir)) {
        const text = readFileSync(new URL(file, dir), "utf8");
        for (const def of parse(text).definitions) {
          if (def.kind !== Kind.OPERATION_DEFINITION || def.operation !== OperationTypeNode.QUERY) continue;
          const body = { query: text, operationName: def.name?.value, variables: { size: 100, page: 0, limit: 1000 } };
          const r = await request("POST", `${s.apiUrl}/graphql`, { body, token: s.adminToken });
          const refused = (r.body.errors ?? []).filter((e: { message: string }) => /limit|tokens|__schema|introspection/.test(e.message));
          assert.deepEqual(refused, [], `${file} ${def.name?.value}`);
        }
      }
    });

    it("a NUL character in a variable or a string literal is a 400, not a database error", async () => {
      const put = `mutation($n: String!) { putRole(name: $n, permissions: {}) { created } }`;
      for (const [query, variables] of [
        [put, { n: "bad\u0000role" }],
        [`mutation { putRole(name: "bad\\u0000role", permissions: {}) { created } }`, {}],
        [`mutation($p: JSON!) { putRole(name: "nul-keys", permissions: $p) { created } }`, { p: { "r\u0000": ["read"] } }],
      ] as const) {
        const res = await s.graphql(query, variables, s.adminToken);
        assert.equal(res.status, 400, res.text);
        assert.equal(res.body.errors[0].extensions.code, "BAD_REQUEST", res.text);
        assert.match(res.body.errors[0].message, /NUL/);
      }
      assert.equal(await s.services.db.prisma.role.count({ where: { name: { in: ["nul-keys"] } } }), 0);
    });

    it("caps the body size (declared or chunked) with a documented 413, and refuses batches", async () => {
      const big = JSON.stringify({ query: "{ version }", variables: { pad: "x".repeat(1 << 20) } });
      const declared = await request("POST", `${s.apiUrl}/graphql`, { raw: big, headers: { "content-type": "application/json" } });
      expectError(declared, 413, "PAYLOAD_TOO_LARGE");
      assert.equal(declared.headers.get("connection"), "close");
      const chunked = new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode(big));
          c.close();
        },
      });
      const res = await fetch(`${s.apiUrl}/graphql`, {
        method: "POST",
        body: chunked,
        headers: { "content-type": "application/json" },
        duplex: "half",
      } as RequestInit);
      assert.equal(res.status, 413);
      assert.equal((await res.json()).error, "PAYLOAD_TOO_LARGE");
      const batch = await request("POST", `${s.apiUrl}/graphql`, { body: [{ query: "{ version }" }, { query: "{ health }" }] });
      assert.equal(batch.status, 400, batch.text);
      assert.equal("data" in batch.body, false);
    });

    it("answers 503 with Retry-After past the concurrent-execution cap, and aborts past the time budget", async () => {
      const limited = await startServer({ backend, config: { graphql: { ...s.config.graphql, maxConcurrent: 1, timeoutMs: 300 } } });
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      try {
        const repos = limited.services.repositories as unknown as Service;
        const list = repos.list;
        let entered!: () => void;
        const running = new Promise<void>((r) => (entered = r));
        repos.list = async function (this: unknown, ...args: unknown[]) {
          entered();
          await held;
          return list.apply(this, args);
        };
        const first = limited.graphql("{ repositories { total } }", undefined, limited.adminToken);
        await running;
        const second = await limited.graphql("{ version }");
        expectError(second, 503, "UNAVAILABLE");
        assert.equal(second.headers.get("retry-after"), "1");
        // The first request outlives its budget: it is answered 503 while its resolver is still held.
        const timedOut = await first;
        assert.equal(timedOut.status, 503, timedOut.text);
        assert.equal(timedOut.body.errors[0].extensions.code, "UNAVAILABLE");
        assert.match(timedOut.body.errors[0].message, /time budget of 300 ms/);
        assert.equal(timedOut.headers.get("retry-after"), "1");
        release();
        assert.equal((await limited.graphql("{ version }")).status, 200);
      } finally {
        release();
        await limited.close();
      }
    });

    it("flood of abusive requests on /graphql leaves the repository port responsive", async () => {
      const bodies = [
        { query: `{ ${aliases(10_000, "__schema { queryType { name } }")} }` },
        { query: `{ ${aliases(10_000, "repositories { total }")} }`, token: s.adminToken },
        { query: `{ ${aliases(15, "repositories { total }")} }`, token: s.adminToken }, // the most the limits let through
        { query: `{ ${"__typename ".repeat(4000)} }` },
      ].map(({ query, token }) => ({ raw: JSON.stringify({ query }), token })); // built once: the client shares the event loop
      let stop = false;
      let sent = 0;
      const flooders = Array.from({ length: 4 }, async (_, i) => {
        for (let n = i; !stop; n++) {
          const { raw, token } = bodies[n % bodies.length];
          await request("POST", `${s.apiUrl}/graphql`, { raw, token, headers: { "content-type": "application/json" } }).catch(() => undefined);
          sent++;
        }
      });
      const latencies: number[] = [];
      const started = Date.now();
      while (Date.now() - started < 4000) {
        for (const path of ["/.health", "/files/small.txt"]) {
          const t0 = performance.now();
          const res = await s.repo("GET", path, { basic });
          latencies.push(performance.now() - t0);
          assert.equal(res.status, 200);
        }
      }
      stop = true;
      await Promise.all(flooders);
      latencies.sort((a, b) => a - b);
      const [p50, p99, max] = [percentile(latencies, 50), percentile(latencies, 99), latencies[latencies.length - 1]];
      console.log(
        `[${backend}] 8080 under /graphql flood: ${latencies.length} GETs, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms; ${sent} abusive requests`,
      );
      assert.ok(sent >= 8, `the flood ran (${sent} requests)`);
      assert.ok(max < 1000, `max latency ${max.toFixed(0)} ms on the repository port`);
    });
  });
}

describe("GraphQL introspection access", () => {
  let s: TestServer;
  const query = "{ __schema { queryType { name } } }";
  const withIntrospection = (introspection: Config["graphql"]["introspection"]) =>
    startServer({ config: { graphql: { ...loadConfig({ NODE_ENV: "production" }).graphql, introspection } } });
  after(() => s?.close());

  it("production config refuses anonymous introspection and keeps it for signed-in callers", async () => {
    s = await startServer({ config: { graphql: loadConfig({ NODE_ENV: "production" }).graphql } });
    expectRefused(await s.graphql(query), 401, "UNAUTHORIZED", /signed-in callers/);
    expectRefused(await s.graphql(`{ __type(name: "Query") { name } }`), 401, "UNAUTHORIZED", /signed-in/);
    expectRefused(await s.graphql(query, undefined, "not-a-valid-token"), 401, "UNAUTHORIZED", /signed-in/);
    const signedIn = await s.graphql(query, undefined, s.adminToken);
    assert.equal(signedIn.status, 200, signedIn.text);
    assert.equal(signedIn.body.data.__schema.queryType.name, "Query");
    // __typename is not introspection of the schema
    assert.equal((await s.graphql("{ __typename version }")).body.data.__typename, "Query");
    await s.close();
    s = await withIntrospection("anonymous");
    assert.equal((await s.graphql(query)).body.data.__schema.queryType.name, "Query");
    await s.close();
    s = await withIntrospection("off");
    expectRefused(await s.graphql(query, undefined, s.adminToken), 403, "FORBIDDEN", /disabled/);
  });

  it("reads the limits from the environment and pantera.yml, and refuses invalid values", () => {
    assert.equal(loadConfig({}).graphql.introspection, "anonymous");
    const env = {
      PANTERA_GRAPHQL_MAX_DEPTH: "7",
      PANTERA_GRAPHQL_MAX_ALIASES: "3",
      PANTERA_GRAPHQL_MAX_COST: "99",
      PANTERA_GRAPHQL_MAX_TOKENS: "500",
      PANTERA_GRAPHQL_INTROSPECTION: "off",
    };
    const g = loadConfig(env).graphql;
    assert.deepEqual([g.maxDepth, g.maxAliases, g.maxCost, g.maxTokens, g.introspection], [7, 3, 99, 500, "off"]);
    const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-config-"));
    try {
      writeFileSync(path.join(dir, "pantera.yml"), "meta:\n  graphql:\n    max_depth: 9\n    introspection: authenticated\n");
      const fromFile = loadConfig({ PANTERA_CONFIG: path.join(dir, "pantera.yml"), PANTERA_GRAPHQL_MAX_TOKENS: "800" }).graphql;
      assert.deepEqual([fromFile.maxDepth, fromFile.introspection, fromFile.maxTokens, fromFile.maxAliases], [9, "authenticated", 800, 15]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => loadConfig({ PANTERA_GRAPHQL_MAX_COST: "lots" }), /PANTERA_GRAPHQL_MAX_COST/);
    assert.throws(() => loadConfig({ PANTERA_GRAPHQL_INTROSPECTION: "public" }), /PANTERA_GRAPHQL_INTROSPECTION/);
  });
});
