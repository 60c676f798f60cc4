// Two nodes on one PostgreSQL and NO Redis: every per-node cache converges through the change feed
// (change_log, polled every 200 ms here). Each case warms node B's cache first, changes the row on node
// A, and waits (bounded, well below the 5 s the user cache took to expire before the feed) for B to follow.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pgClient from "pg";
import { hasRedisServer, PrivateRedis } from "../helpers/redis.js";
import { ADMIN_PASSWORD, createPostgresDatabase, postgresUrl, startServer, type Response, type TestServer } from "../helpers/server.js";

const pg = postgresUrl();
const POLL_MS = 200;
/** Far past one poll interval, yet below the 5 s user-cache TTL, so only the feed can pass it. */
const BOUND_MS = 4_000;
const admin: [string, string] = ["admin", ADMIN_PASSWORD];

/** Repeats `probe` until `done` holds for its answer; returns how long that took (fails past BOUND_MS). */
async function converges(
  what: string,
  probe: () => Promise<Response>,
  done: (res: Response) => boolean,
  boundMs = BOUND_MS,
  pollMs = POLL_MS,
): Promise<number> {
  const start = Date.now();
  let last: Response | undefined;
  while (Date.now() - start < boundMs) {
    last = await probe();
    if (done(last)) {
      const ms = Date.now() - start;
      console.log(`${what}: converged in ${ms} ms (poll interval ${pollMs} ms)`);
      return ms;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`${what}: not converged within ${boundMs} ms; last answer ${last?.status} ${last?.text}`);
}

describe("cluster without Redis: caches converge through the change feed", { skip: !pg ? "TEST_DATABASE_URL is needed" : false }, () => {
  let a: TestServer;
  let b: TestServer;
  let drop: () => Promise<void>;
  before(async () => {
    const db = await createPostgresDatabase();
    drop = db.drop;
    const opts = { backend: "postgres" as const, databaseUrl: db.url, config: { changePollMs: POLL_MS } };
    a = await startServer(opts);
    b = await startServer(opts);
    assert.equal(a.services.bus.clustered, false);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await drop?.();
  });

  const createRepo = async (node: TestServer, name: string) => {
    const res = await node.api("PUT", `/repositories/${name}`, { token: node.adminToken, body: { repo: { type: "file", storage: "default" } } });
    assert.equal(res.status, 200, res.text);
  };

  it("a repository created on A is served by B's repository port", async () => {
    await createRepo(a, "fresh");
    // Each node has its own default storage: B stores and serves the file itself.
    await converges(
      "new repository on B",
      () => b.repo("PUT", "/fresh/f.txt", { raw: "hello", basic: admin }),
      (r) => r.status === 201,
    );
    const got = await b.repo("GET", "/fresh/f.txt", { basic: admin });
    assert.equal(got.status, 200);
    assert.equal(got.text, "hello");
  });

  it("a repository B already answered 404 for (a remembered miss) is found after it is created on A", async () => {
    const miss = await b.repo("PUT", "/late/f.txt", { raw: "x", basic: admin });
    assert.equal(miss.status, 404, miss.text);
    assert.match(miss.body.message, /Repository 'late' not found/);
    await createRepo(a, "late");
    await converges(
      "remembered miss on B",
      () => b.repo("PUT", "/late/f.txt", { raw: "x", basic: admin }),
      (r) => r.status === 201,
    );
  });

  it("a repository deleted on A is gone on B", async () => {
    await createRepo(a, "doomed");
    await converges(
      "repository before delete",
      () => b.repo("PUT", "/doomed/f.txt", { raw: "kept", basic: admin }),
      (r) => r.status === 201,
    );
    assert.equal((await b.repo("GET", "/doomed/f.txt", { basic: admin })).status, 200); // B caches the repository
    assert.equal((await a.api("DELETE", "/repositories/doomed", { token: a.adminToken })).status, 200);
    // A deleted its own storage only: while B keeps its cached record it still serves B's copy.
    await converges(
      "deleted repository on B",
      () => b.repo("GET", "/doomed/f.txt", { basic: admin }),
      (r) => r.status === 404 && /Repository 'doomed' not found/.test(String(r.body?.message)),
    );
  });

  it("a settings change on A (PUT /settings/prefixes) takes effect on B", async () => {
    await createRepo(a, "pfx");
    await converges(
      "repository for prefixes",
      () => b.repo("PUT", "/pfx/f.txt", { raw: "p", basic: admin }),
      (r) => r.status === 201,
    );
    // B caches the prefixes section (empty): /team/pfx/... names repository 'team'.
    const before = await b.repo("GET", "/team/pfx/f.txt", { basic: admin });
    assert.equal(before.status, 404, before.text);
    const put = await a.api("PUT", "/settings/prefixes", { token: a.adminToken, body: { prefixes: ["team"] } });
    assert.equal(put.status, 200, put.text);
    await converges(
      "prefixes on B",
      () => b.repo("GET", "/team/pfx/f.txt", { basic: admin }),
      (r) => r.status === 200 && r.text === "p",
    );
  });

  it("a user disabled on A is refused on B", async () => {
    let res = await a.api("PUT", "/roles/reader", { token: a.adminToken, body: { permissions: { api_repository_permissions: ["read"] } } });
    assert.equal(res.status, 201, res.text);
    res = await a.api("PUT", "/users/ursula", { token: a.adminToken, body: { pass: "pw-ursula-1", roles: ["reader"] } });
    assert.equal(res.status, 201, res.text);
    const token = await b.login("ursula", "pw-ursula-1");
    assert.equal((await b.api("GET", "/repositories", { token })).status, 200); // B caches the principal
    res = await a.api("POST", "/users/ursula/disable", { token: a.adminToken });
    assert.equal(res.status, 200, res.text);
    await converges(
      "disabled user on B",
      () => b.api("GET", "/repositories", { token }),
      (r) => r.status === 401,
    );
  });
});

describe(
  "cluster with Redis: a node resyncs from the change feed as soon as Redis is back",
  {
    skip: !pg ? "TEST_DATABASE_URL is needed" : !hasRedisServer() ? "redis-server is not installed" : false,
  },
  () => {
    // A poll interval far past the test: only the resync on reconnect can repair B within the bound.
    const SLOW_POLL_MS = 120_000;
    let a: TestServer;
    let b: TestServer;
    let redis: PrivateRedis;
    let db: { url: string; drop: () => Promise<void> };
    before(async () => {
      redis = await PrivateRedis.create();
      db = await createPostgresDatabase();
      const opts = { backend: "postgres" as const, databaseUrl: db.url, redisUrl: redis.url, config: { changePollMs: SLOW_POLL_MS } };
      a = await startServer(opts);
      b = await startServer(opts);
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await redis?.stop();
      await db?.drop();
    });

    it("a change whose event was lost (written while Redis was down, by a writer that never published) reaches B on reconnect", async () => {
      const res = await a.api("PUT", "/repositories/rc", { token: a.adminToken, body: { repo: { type: "file", storage: "default" } } });
      assert.equal(res.status, 200, res.text);
      await converges(
        "repository over Redis",
        () => b.repo("PUT", "/rc/f.txt", { raw: "r", basic: admin }),
        (r) => r.status === 201,
        BOUND_MS,
        SLOW_POLL_MS,
      );
      assert.equal((await b.repo("GET", "/team/rc/f.txt", { basic: admin })).status, 404); // B caches the empty prefixes
      await redis.stop();
      // A node that crashed before its queued event went out: the row changed, no event will ever come.
      const writer = new pgClient.Client({ connectionString: db.url });
      await writer.connect();
      await writer.query(
        `INSERT INTO settings (section, value, updated_at) VALUES ('prefixes', '{"prefixes":["team"]}', now())
       ON CONFLICT (section) DO UPDATE SET value = excluded.value, updated_at = now()`,
      );
      await writer.end();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await b.repo("GET", "/team/rc/f.txt", { basic: admin })).status, 404, "B is stale while Redis is down");
      await redis.start();
      // ioredis retries with a growing delay (at most 2 s): the bound leaves room for a few of them.
      await converges(
        "resync on Redis reconnect",
        () => b.repo("GET", "/team/rc/f.txt", { basic: admin }),
        (r) => r.status === 200,
        10_000,
        SLOW_POLL_MS,
      );
    });
  },
);
