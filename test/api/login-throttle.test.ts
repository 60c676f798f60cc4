// Login throttling: failed password checks lock the user name (and the client address) out with 429 +
// Retry-After on REST, GraphQL and Basic auth on 8080; unknown users cost one scrypt like known ones.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { passwordStats } from "../../src/auth/passwords.js";
import { backends, expectError, request, startServer, type Response, type TestServer } from "../helpers/server.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Small thresholds keep the suite fast: 3 failures per user, then 1 s, doubling to at most 2 s.
const LIMITS = {
  login_max_failures_per_user: 3,
  login_max_failures_per_address: 100,
  login_failure_window_seconds: 60,
  login_lockout_seconds: 1,
  login_lockout_max_seconds: 2,
};

for (const backend of backends()) {
  describe(`login throttling [${backend}]`, () => {
    let s: TestServer;
    let defaultSettings: Response;
    before(async () => {
      // One trusted proxy: each case's X-Forwarded-For is its client address.
      s = await startServer({ backend, config: { trustedProxies: 1 } });
      defaultSettings = await s.api("GET", "/admin/auth-settings", { token: s.adminToken });
      // Not asserted here: the settings case checks these limits took effect.
      await s.api("PUT", "/admin/auth-settings", { token: s.adminToken, body: LIMITS });
      await s.services.repositories.put(await s.services.auth.authenticateToken(s.adminToken), "files", { type: "file", storage: "default" });
      for (const name of ["rest-user", "rest-user-timing", "gql-user", "basic-user", "burst-user", "addr-user", "plain-user", "off-user"]) {
        assert.equal((await s.api("PUT", `/users/${name}`, { token: s.adminToken, body: { pass: "right-" + name } })).status, 201);
      }
    });
    after(() => s.close());

    // Each case sends its own X-Forwarded-For (as the trusted proxy would), so the per-address counts do not mix.
    const login = (name: string, pass: string, ip: string) =>
      request("POST", `${s.apiUrl}/api/v1/auth/token`, { body: { name, pass }, headers: { "x-forwarded-for": ip } });
    const gqlLogin = (name: string, pass: string, ip: string) =>
      request("POST", `${s.apiUrl}/graphql`, {
        body: { query: "mutation($n: String!, $p: String!) { login(name: $n, pass: $p) { token } }", variables: { n: name, p: pass } },
        headers: { "x-forwarded-for": ip },
      });
    const basicGet = (path: string, name: string, pass: string, ip: string) =>
      request("GET", `${s.repoUrl}${path}`, { basic: [name, pass], headers: { "x-forwarded-for": ip } });

    function expectLocked(res: Response, seconds: number) {
      expectError(res, 429, "TOO_MANY_REQUESTS");
      assert.equal(res.headers.get("retry-after"), String(seconds));
    }

    it("the default GET body is the documented one: throttle fields appear only once set", () => {
      assert.deepEqual(defaultSettings.body, {
        access_token_expiry_seconds: 3600,
        refresh_token_expiry_seconds: 604800,
        api_token_max_expiry_days: 90,
        allow_permanent_tokens: false,
      });
    });

    it("REST: N wrong passwords, then 429 with Retry-After even for the right one; the lockout doubles; success resets", async () => {
      const ip = "203.0.113.1";
      for (let i = 0; i < 3; i++) expectError(await login("rest-user", "wrong", ip), 401, "UNAUTHORIZED");
      expectLocked(await login("rest-user", "wrong", ip), 1);
      expectLocked(await login("rest-user", "right-rest-user", ip), 1);
      await sleep(1100);
      // One more failure after the lockout: it is answered, and starts a lockout twice as long.
      expectError(await login("rest-user", "wrong", ip), 401, "UNAUTHORIZED");
      expectLocked(await login("rest-user", "right-rest-user", ip), 2);
      await sleep(2100);
      assert.equal((await login("rest-user", "right-rest-user", ip)).status, 200);
      // The success cleared the count: a single failure is not locked out.
      expectError(await login("rest-user", "wrong", ip), 401, "UNAUTHORIZED");
      assert.equal((await login("rest-user", "right-rest-user", ip)).status, 200);
    });

    it("GraphQL login: extensions.code TOO_MANY_REQUESTS with retryAfter while locked", async () => {
      const ip = "203.0.113.2";
      for (let i = 0; i < 3; i++) assert.equal((await gqlLogin("gql-user", "wrong", ip)).body.errors[0].extensions.code, "UNAUTHORIZED");
      const locked = await gqlLogin("gql-user", "right-gql-user", ip);
      assert.equal(locked.body.errors[0].extensions.code, "TOO_MANY_REQUESTS");
      assert.equal(locked.body.errors[0].extensions.retryAfter, 1);
      // REST and GraphQL share one count.
      expectLocked(await login("gql-user", "right-gql-user", ip), 1);
      await sleep(1100);
      assert.equal(typeof (await gqlLogin("gql-user", "right-gql-user", ip)).body.data.login.token, "string");
    });

    it("Basic auth on 8080: wrong passwords lock the user out of the repository port and the OCI token endpoint", async () => {
      const ip = "203.0.113.3";
      const path = "/files/nothing.txt";
      for (let i = 0; i < 3; i++) expectError(await basicGet(path, "basic-user", "wrong", ip), 401, "UNAUTHORIZED");
      expectLocked(await basicGet(path, "basic-user", "right-basic-user", ip), 1);
      const token = await basicGet("/v2/token?service=pantera", "basic-user", "right-basic-user", ip);
      assert.equal(token.status, 429);
      assert.equal(token.headers.get("retry-after"), "1");
      // The management port's Basic auth and the login endpoint count the same user.
      expectLocked(await login("basic-user", "right-basic-user", ip), 1);
      await sleep(1100);
      // Authenticated (no permission on the repository): 403, not 401 or 429.
      expectError(await basicGet(path, "basic-user", "right-basic-user", ip), 403, "FORBIDDEN");
    });

    it("a burst of parallel wrong passwords gets no more answers than the threshold", async () => {
      const ip = "203.0.113.4";
      const all = await Promise.all(Array.from({ length: 8 }, () => login("burst-user", "wrong", ip)));
      assert.deepEqual(all.map((r) => r.status).sort(), [401, 401, 401, 429, 429, 429, 429, 429]);
      await sleep(1100);
    });

    it("per address: failures across different user names lock the address, not other addresses", async () => {
      const ip = "198.51.100.9";
      assert.equal((await s.api("PUT", "/admin/auth-settings", { token: s.adminToken, body: { login_max_failures_per_address: 4 } })).status, 200);
      try {
        for (let i = 0; i < 4; i++) expectError(await login(`nobody-${i}`, "wrong", ip), 401, "UNAUTHORIZED");
        const locked = await login("nobody-9", "wrong", ip);
        expectLocked(locked, 1);
        assert.match(locked.body.message, /address/);
        expectLocked(await login("addr-user", "right-addr-user", ip), 1);
        expectLocked(await basicGet("/files/x", "addr-user", "right-addr-user", ip), 1);
        // The same user from another address is not affected: its own count is 0.
        assert.equal((await login("addr-user", "right-addr-user", "198.51.100.10")).status, 200);
        await sleep(1100);
        assert.equal((await login("addr-user", "right-addr-user", ip)).status, 200);
      } finally {
        await s.api("PUT", "/admin/auth-settings", { token: s.adminToken, body: { login_max_failures_per_address: 100 } });
      }
    });

    it("unknown, disabled and password-less users pay one scrypt verification, like a wrong password", async () => {
      const ip = "203.0.113.6";
      await s.services.db.prisma.user.create({ data: { name: "sso-only", passwordHash: null, authType: "okta" } });
      assert.equal((await s.api("POST", "/users/off-user/disable", { token: s.adminToken })).status, 200);
      for (const name of ["plain-user", "ghost-user", "off-user", "sso-only"]) {
        const before = passwordStats.verifications;
        const res = await login(name, "wrong", ip);
        expectError(res, 401, "UNAUTHORIZED");
        assert.equal(res.body.message, "Invalid credentials");
        assert.equal(passwordStats.verifications - before, 1, `${name}: one scrypt verification`);
      }
      // Loosely, in time too (it was 5 ms against 86 ms): the fastest of two tries of each, within a wide margin.
      const fastest = async (name: string) => {
        let best = Infinity;
        for (let i = 0; i < 2; i++) {
          const started = performance.now();
          expectError(await login(name, "wrong", "203.0.113.7"), 401, "UNAUTHORIZED");
          best = Math.min(best, performance.now() - started);
        }
        return best;
      };
      const known = await fastest("rest-user-timing");
      const unknown = await fastest("ghost-user-timing");
      assert.ok(unknown > known * 0.3, `unknown user ${unknown.toFixed(1)} ms, wrong password ${known.toFixed(1)} ms`);
      // Unknown names are throttled like known ones, so a lockout does not reveal existence either.
      for (let i = 0; i < 2; i++) expectError(await login("ghost-user", "wrong", ip), 401, "UNAUTHORIZED");
      expectLocked(await login("ghost-user", "wrong", ip), 1);
    });

    it("auth-settings: throttle fields are validated, shown once set, and visible in GraphQL", async () => {
      const put = (body: unknown) => s.api("PUT", "/admin/auth-settings", { token: s.adminToken, body });
      for (const body of [
        { login_max_failures_per_user: "5" },
        { login_max_failures_per_user: 0 },
        { login_max_failures_per_address: 2.5 },
        { login_failure_window_seconds: -1 },
        { login_lockout_seconds: true },
        { login_lockout_max_seconds: 10_000_000 },
        { login_lockout_seconds: 10, login_lockout_max_seconds: 5 },
        { login_lockout_max_seconds: 0 },
      ]) {
        expectError(await put(body), 400, "BAD_REQUEST");
      }
      const get = await s.api("GET", "/admin/auth-settings", { token: s.adminToken });
      assert.deepEqual(get.body, { ...defaultSettings.body, ...LIMITS });
      const gql = await s.graphql(
        "{ authSettings { loginMaxFailuresPerUser loginMaxFailuresPerAddress loginFailureWindowSeconds loginLockoutSeconds loginLockoutMaxSeconds } }",
        {},
        s.adminToken,
      );
      assert.deepEqual(gql.body.data.authSettings, {
        loginMaxFailuresPerUser: 3,
        loginMaxFailuresPerAddress: 100,
        loginFailureWindowSeconds: 60,
        loginLockoutSeconds: 1,
        loginLockoutMaxSeconds: 2,
      });
      // The documented fields keep working beside them.
      expectError(await put({ access_token_expiry_seconds: -5 }), 400, "BAD_REQUEST");
      assert.equal((await put({ access_token_expiry_seconds: 1800 })).status, 200);
      assert.equal((await s.api("GET", "/admin/auth-settings", { token: s.adminToken })).body.access_token_expiry_seconds, 1800);
      await put({ access_token_expiry_seconds: 3600 });
    });
  });

  describe(`login throttling without a trusted proxy [${backend}]`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer({ backend });
      await s.api("PUT", "/admin/auth-settings", { token: s.adminToken, body: { ...LIMITS, login_max_failures_per_address: 4 } });
    });
    after(() => s.close());

    it("a client cannot choose its address with X-Forwarded-For: the socket's address is counted", async () => {
      for (let i = 0; i < 4; i++) {
        const res = await request("POST", `${s.apiUrl}/api/v1/auth/token`, {
          body: { name: `spoof-${i}`, pass: "wrong" },
          headers: { "x-forwarded-for": `192.0.2.${i}` },
        });
        expectError(res, 401, "UNAUTHORIZED");
      }
      const res = await request("POST", `${s.apiUrl}/api/v1/auth/token`, {
        body: { name: "spoof-9", pass: "wrong" },
        headers: { "x-forwarded-for": "192.0.2.200" },
      });
      expectError(res, 429, "TOO_MANY_REQUESTS");
      assert.match(res.body.message, /address/);
    });
  });
}
