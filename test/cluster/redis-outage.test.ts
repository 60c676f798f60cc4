// Two nodes on one PostgreSQL joined by a private redis-server the test stops and restarts: changes reach the
// other node in milliseconds, writes keep their latency while Redis is down (events wait in a queue, not the
// request), events queued during an outage are delivered after it, and clusters with different
// PANTERA_CLUSTER_NAME on one Redis do not see each other's events. Figures: bench/cluster-redis.md.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import type { PanteraEvent } from "../../src/events/bus.js";
import { hasRedisServer, PrivateRedis, REDIS_SERVER, TcpProxy } from "../helpers/redis.js";
import { ADMIN_PASSWORD, createPostgresDatabase, postgresUrl, startServer, type TestServer } from "../helpers/server.js";

const pg = postgresUrl();
const basic = "Basic " + Buffer.from(`admin:${ADMIN_PASSWORD}`).toString("base64");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Far beyond the test's length: whatever node B sees, it learnt from an event, not from the change feed.
const NO_POLLING = { changePollMs: 600_000 };
/** A write slower than this is cut off and counted at this figure (on the old code they took up to 15 s). */
const WRITE_CAP_MS = 5_000;

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const max = (xs: number[]) => Math.max(...xs);
const fmt = (xs: number[]) => `p50 ${median(xs).toFixed(1)} ms, max ${max(xs).toFixed(1)} ms (n=${xs.length})`;

/** Node B's cached `find` (it remembers misses): non-null only once an event told B to look again. */
async function visibleOn(node: TestServer, name: string, guardMs = 10_000): Promise<number> {
  const started = performance.now();
  while (!(await node.services.repositories.find(name))) {
    if (performance.now() - started > guardMs) throw new Error(`repository ${name} never became visible on the other node`);
    await sleep(1);
  }
  return performance.now() - started;
}

describe("cluster: Redis outage", { skip: !pg ? "TEST_DATABASE_URL is needed" : !hasRedisServer() ? `${REDIS_SERVER} is needed` : false }, () => {
  let redis: PrivateRedis;
  let proxy: TcpProxy;
  let a: TestServer;
  let b: TestServer;
  let dropDb: () => Promise<void>;
  let shared: string;
  let seq = 0;

  before(async () => {
    redis = await PrivateRedis.create();
    // Node A reaches Redis through a proxy, so the test can also cut A alone while B stays subscribed.
    proxy = await TcpProxy.create(redis.port);
    const db = await createPostgresDatabase();
    dropDb = db.drop;
    a = await startServer({ backend: "postgres", databaseUrl: db.url, redisUrl: proxy.url, config: NO_POLLING });
    b = await startServer({ backend: "postgres", databaseUrl: db.url, redisUrl: redis.url, config: NO_POLLING });
    shared = mkdtempSync(path.join(os.tmpdir(), "pantera-shared-"));
    const alias = await a.api("PUT", "/storages/shared", { token: a.adminToken, body: { type: "fs", path: shared } });
    assert.ok(alias.status < 300, alias.text);
    const files = await a.api("PUT", "/repositories/files", { token: a.adminToken, body: { repo: { type: "file", storage: "shared" } } });
    assert.ok(files.status < 300, files.text);
  });
  after(async () => {
    // Both run again, unless a test failed mid-outage, so that the nodes close gracefully.
    if (redis && !redis.running) await redis.start();
    if (proxy && !proxy.running) await proxy.start();
    await a?.close();
    await b?.close();
    await dropDb?.();
    await proxy?.stop();
    await redis?.stop();
    if (shared) rmSync(shared, { recursive: true, force: true });
  });

  /** Creates a repository on A after B remembered it as missing; returns A's latency and when B saw it. */
  async function createAndWatch(name: string) {
    assert.equal(await b.services.repositories.find(name), null); // B now caches the miss
    const started = performance.now();
    const res = await a.api("PUT", `/repositories/${name}`, { token: a.adminToken, body: { repo: { type: "file", storage: "shared" } } });
    assert.ok(res.status < 300, res.text);
    return { writeMs: performance.now() - started, propagationMs: await visibleOn(b, name) };
  }

  /** The three writes the issue timed: repository create, file upload on 8080, auth-settings. */
  async function timedWrites(rounds: number) {
    const timed = async (run: (signal: AbortSignal) => Promise<Response>) => {
      const started = performance.now();
      try {
        const res = await run(AbortSignal.timeout(WRITE_CAP_MS));
        assert.ok(res.status < 300, `${res.status} ${await res.text()}`);
        await res.arrayBuffer().catch(() => {});
      } catch (err) {
        if ((err as Error).name !== "TimeoutError") throw err;
        return WRITE_CAP_MS;
      }
      return performance.now() - started;
    };
    const out = { repository: [] as number[], upload: [] as number[], authSettings: [] as number[] };
    const json = { authorization: `Bearer ${a.adminToken}`, "content-type": "application/json" };
    for (let i = 0; i < rounds; i++) {
      const name = `timed-${++seq}`;
      const body = JSON.stringify({ repo: { type: "file", storage: "shared" } });
      out.repository.push(await timed((signal) => fetch(`${a.apiUrl}/api/v1/repositories/${name}`, { method: "PUT", headers: json, body, signal })));
      out.upload.push(
        await timed((signal) =>
          fetch(`${a.repoUrl}/files/lib/f-${seq}.txt`, { method: "PUT", headers: { authorization: basic }, body: `content ${seq}`, signal }),
        ),
      );
      const settings = JSON.stringify({ login_lockout_seconds: 30 + (seq % 5) });
      out.authSettings.push(await timed((signal) => fetch(`${a.apiUrl}/api/v1/admin/auth-settings`, { method: "PUT", headers: json, body: settings, signal })));
    }
    return out;
  }

  let up: Awaited<ReturnType<typeof timedWrites>>;

  it("Redis up: a repository created on A is served by B within milliseconds", async () => {
    await timedWrites(3); // warm-up: first requests compile code paths
    const propagation: number[] = [];
    for (let i = 0; i < 20; i++) propagation.push((await createAndWatch(`up-${i}`)).propagationMs);
    console.log(`# propagation A -> B, Redis up: ${fmt(propagation)}`);
    up = await timedWrites(8);
  });

  it("Redis down: writes keep their latency", async () => {
    await redis.stop();
    const down = await timedWrites(8);
    const kinds = ["repository", "upload", "authSettings"] as const;
    const bound = (kind: (typeof kinds)[number]) => 2 * median(up[kind]) + 50;
    for (const kind of kinds) {
      console.log(`# ${kind} write: Redis up ${fmt(up[kind])}; Redis down ${fmt(down[kind])}; bound ${bound(kind).toFixed(1)} ms`);
    }
    for (const kind of kinds) {
      assert.ok(median(down[kind]) < bound(kind), `${kind}: median ${median(down[kind]).toFixed(1)} ms with Redis down, bound ${bound(kind).toFixed(1)} ms`);
    }
  });

  it("Redis back: propagation in milliseconds again", async () => {
    if (!redis.running) {
      const reconnected = new Promise<void>((resolve) => b.services.bus.onReconnect(resolve)); // B's subscriber is down
      await redis.start();
      await reconnected;
    }
    const propagation: number[] = [];
    for (let i = 0; i < 10; i++) propagation.push((await createAndWatch(`after-${i}`)).propagationMs);
    console.log(`# propagation A -> B after Redis returned: ${fmt(propagation)}`);
  });

  it("events queued while A cannot reach Redis are delivered once it can", async () => {
    await proxy.stop(); // A alone is cut off; B stays subscribed
    const names = ["queued-1", "queued-2", "queued-3"];
    for (const name of names) {
      assert.equal(await b.services.repositories.find(name), null);
      const res = await a.api("PUT", `/repositories/${name}`, { token: a.adminToken, body: { repo: { type: "file", storage: "shared" } } });
      assert.ok(res.status < 300, res.text);
    }
    assert.ok(a.services.bus.queued >= names.length, `queued ${a.services.bus.queued}`);
    const restored = performance.now();
    await proxy.start();
    await Promise.all(names.map((n) => visibleOn(b, n)));
    const after = performance.now() - restored;
    console.log(`# queued events: B served all ${names.length} repositories ${after.toFixed(0)} ms after A's Redis link returned`);
    assert.equal(await a.services.bus.flush(5_000), true);
    assert.equal(a.services.bus.queued, 0);
  });

  it("a cluster with another PANTERA_CLUSTER_NAME on the same Redis does not see this cluster's events", async () => {
    if (!redis.running) await redis.start(); // an earlier test failed mid-outage
    const db = await createPostgresDatabase();
    const c = await startServer({ backend: "postgres", databaseUrl: db.url, redisUrl: redis.url, config: { ...NO_POLLING, clusterName: "blue" } });
    const raw = new Redis(redis.url);
    try {
      assert.equal(c.services.bus.channel, "blue:events");
      assert.equal(a.services.bus.channel, "pantera:events");
      const atC: PanteraEvent[] = [];
      c.services.bus.on((e) => void atC.push(e));
      await createAndWatch("only-pantera");
      // Redis handles PUBLISHes in order: had C been listening to A's channel, A's event would reach it before this.
      await raw.publish("blue:events", JSON.stringify({ origin: "test", event: { type: "repository.changed", name: "blue-marker" } }));
      const started = performance.now();
      while (!atC.some((e) => e.type === "repository.changed" && e.name === "blue-marker")) {
        assert.ok(performance.now() - started < 10_000, "C never got its own cluster's event");
        await sleep(1);
      }
      assert.ok(!atC.some((e) => e.type === "repository.changed" && e.name === "only-pantera"), JSON.stringify(atC));
    } finally {
      raw.disconnect();
      await c.close();
      await db.drop();
    }
  });
});
