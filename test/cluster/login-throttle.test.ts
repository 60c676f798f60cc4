// Two nodes on one PostgreSQL with Redis: failed logins counted on node A lock the user out on node B,
// and a throttle whose Redis is unreachable answers at once from per-node memory.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { LoginThrottle, RedisThrottleStore } from "../../src/auth/throttle.js";
import { createLogger } from "../../src/log.js";
import type { SettingsService } from "../../src/settings/service.js";
import { expectError, postgresUrl, redisUrl, request, startNodePair, type NodePair, type TestServer } from "../helpers/server.js";

const pg = postgresUrl();
const redis = redisUrl();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("cluster: login throttling through Redis", { skip: !pg || !redis ? "TEST_DATABASE_URL and TEST_REDIS_URL are needed" : false }, () => {
  let a: TestServer;
  let b: TestServer;
  let pair: NodePair;
  before(async () => {
    pair = await startNodePair(redis);
    ({ a, b } = pair);
    const limits = { login_max_failures_per_user: 3, login_lockout_seconds: 1, login_lockout_max_seconds: 1 };
    assert.equal((await a.api("PUT", "/admin/auth-settings", { token: a.adminToken, body: limits })).status, 200);
    await a.api("PUT", "/users/hank", { token: a.adminToken, body: { pass: "hank-pass" } });
    await sleep(200); // settings.changed reaches node B's cache
  });
  after(() => pair.close());

  const login = (s: TestServer, pass: string) => request("POST", `${s.apiUrl}/api/v1/auth/token`, { body: { name: "hank", pass } });

  it("failures on node A lock the user on node B (REST and Basic on 8080), until the lockout ends", async () => {
    for (let i = 0; i < 3; i++) expectError(await login(a, "wrong"), 401, "UNAUTHORIZED");
    const locked = await login(b, "hank-pass");
    expectError(locked, 429, "TOO_MANY_REQUESTS");
    assert.equal(locked.headers.get("retry-after"), "1");
    const oci = await b.repo("GET", "/v2/", { basic: ["hank", "hank-pass"] });
    assert.equal(oci.status, 429);
    assert.equal(oci.body.errors[0].code, "TOOMANYREQUESTS");
    assert.equal(oci.headers.get("retry-after"), "1");
    await sleep(1100);
    assert.equal((await login(b, "hank-pass")).status, 200);
    // Node B's success reset the shared count: one failure on node A is not a lockout.
    expectError(await login(a, "wrong"), 401, "UNAUTHORIZED");
    assert.equal((await login(a, "hank-pass")).status, 200);
  });

  it("with Redis unreachable the throttle counts in memory and answers without waiting", async () => {
    const settings = { get: async () => ({ login_max_failures_per_user: 2 }) } as unknown as SettingsService;
    const store = new RedisThrottleStore("redis://127.0.0.1:1", createLogger("error"));
    const throttle = new LoginThrottle(settings, () => Buffer.from("secret"), store);
    try {
      const started = Date.now();
      await throttle.check("ivy", "192.0.2.1");
      await throttle.failure("ivy", "192.0.2.1");
      await throttle.failure("ivy", "192.0.2.1");
      await assert.rejects(throttle.check("ivy", "192.0.2.1"), (err: { code?: string }) => err.code === "TOO_MANY_REQUESTS");
      // Four operations; a dead Redis must not cost each of them a timeout.
      assert.ok(Date.now() - started < 200, `took ${Date.now() - started} ms`);
    } finally {
      await throttle.close();
    }
  });
});
