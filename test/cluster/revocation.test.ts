// Two nodes on one PostgreSQL with Redis pub/sub: tokens are valid on every node,
// and revocations and role changes made on one node apply on the other at once.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { expectError, postgresUrl, redisUrl, startNodePair, userWithPermissions, type NodePair, type TestServer } from "../helpers/server.js";

const pg = postgresUrl();
const redis = redisUrl();

describe("cluster: PostgreSQL + Redis", { skip: !pg || !redis ? "TEST_DATABASE_URL and TEST_REDIS_URL are needed" : false }, () => {
  let a: TestServer;
  let b: TestServer;
  let pair: NodePair;
  before(async () => {
    pair = await startNodePair(redis);
    ({ a, b } = pair);
  });
  after(() => pair.close());

  it("both nodes share one signing key: a token from node A works on node B", async () => {
    assert.equal(a.services.keys.signingKey().kid, b.services.keys.signingKey().kid);
    assert.equal((await b.api("GET", "/auth/me", { token: a.adminToken })).status, 200);
  });

  it("revoke-user on node A blocks access and API tokens on node B immediately", async () => {
    const access = await userWithPermissions(a, "frank", { api_user_permissions: ["read"] });
    const api = await a.api("POST", "/auth/token/generate", { token: access, body: { label: "ci" } });
    // Warm node B's caches so the test proves invalidation, not a cold lookup.
    assert.equal((await b.api("GET", "/users", { token: access })).status, 200);
    assert.equal((await b.api("GET", "/users", { token: api.body.token })).status, 200);
    const res = await a.api("POST", "/admin/revoke-user/frank", { token: a.adminToken });
    assert.equal(res.status, 200);
    await new Promise((r) => setTimeout(r, 200)); // pub/sub delivery; far below the cache TTL
    expectError(await b.api("GET", "/users", { token: access }), 401, "UNAUTHORIZED");
    expectError(await b.api("GET", "/users", { token: api.body.token }), 401, "UNAUTHORIZED");
  });

  it("a role change on node B applies to a user's cached permissions on node A", async () => {
    const token = await userWithPermissions(b, "gina", { api_role_permissions: ["read"] });
    assert.equal((await a.api("GET", "/roles", { token })).status, 200);
    await b.api("PUT", "/roles/gina-role", { token: b.adminToken, body: { permissions: {} } });
    await new Promise((r) => setTimeout(r, 200));
    expectError(await a.api("GET", "/roles", { token }), 403, "FORBIDDEN");
  });

  it("the admin is bootstrapped once even when two nodes start on an empty database", async () => {
    const users = await a.api("GET", "/users?q=admin", { token: a.adminToken });
    assert.equal(users.body.total, 1);
  });
});
