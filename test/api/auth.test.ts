// Sections 1-3 and 13: login, refresh, providers, SSO, current user, API tokens, auth settings, revoke-user.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, backends, expectError, startServer, userWithPermissions, type TestServer } from "../helpers/server.js";

for (const backend of backends()) {
  describe(`authentication and tokens [${backend}]`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer({ backend });
    });
    after(() => s.close());

    describe("POST /auth/token", () => {
      it("returns an RS256 access token, a refresh token and expires_in", async () => {
        const res = await s.api("POST", "/auth/token", { body: { name: "admin", pass: ADMIN_PASSWORD } });
        assert.equal(res.status, 200);
        assert.deepEqual(Object.keys(res.body).sort(), ["expires_in", "refresh_token", "token"]);
        assert.equal(res.body.expires_in, 3600);
        const header = JSON.parse(Buffer.from(res.body.token.split(".")[0], "base64url").toString());
        const claims = JSON.parse(Buffer.from(res.body.token.split(".")[1], "base64url").toString());
        assert.equal(header.alg, "RS256");
        assert.equal(claims.type, "access");
        assert.equal(claims.sub, "admin");
        assert.equal(JSON.parse(Buffer.from(res.body.refresh_token.split(".")[1], "base64url").toString()).type, "refresh");
      });

      it("401 for a wrong password or unknown user, in the documented format", async () => {
        expectError(await s.api("POST", "/auth/token", { body: { name: "admin", pass: "nope" } }), 401, "UNAUTHORIZED");
        const res = await s.api("POST", "/auth/token", { body: { name: "ghost", pass: "x" } });
        expectError(res, 401, "UNAUTHORIZED");
        assert.equal(res.body.message, "Invalid credentials");
      });

      it("400 for malformed JSON, missing fields and wrong types", async () => {
        expectError(await s.api("POST", "/auth/token", { raw: "{not json", headers: { "content-type": "application/json" } }), 400, "BAD_REQUEST");
        expectError(await s.api("POST", "/auth/token", { body: { name: "admin" } }), 400, "BAD_REQUEST");
        expectError(await s.api("POST", "/auth/token", { body: { name: 1, pass: true } }), 400, "BAD_REQUEST");
        expectError(await s.api("POST", "/auth/token", { body: ["admin"] }), 400, "BAD_REQUEST");
        expectError(await s.api("POST", "/auth/token"), 400, "BAD_REQUEST");
      });

      it("a disabled user cannot log in", async () => {
        await s.api("PUT", "/users/sleepy", { token: s.adminToken, body: { pass: "pw" } });
        await s.api("POST", "/users/sleepy/disable", { token: s.adminToken });
        expectError(await s.api("POST", "/auth/token", { body: { name: "sleepy", pass: "pw" } }), 401, "UNAUTHORIZED");
      });
    });

    describe("POST /auth/refresh", () => {
      it("exchanges a refresh token for a new access token", async () => {
        const login = await s.api("POST", "/auth/token", { body: { name: "admin", pass: ADMIN_PASSWORD } });
        const res = await s.api("POST", "/auth/refresh", { body: { refresh_token: login.body.refresh_token } });
        assert.equal(res.status, 200);
        assert.deepEqual(Object.keys(res.body).sort(), ["expires_in", "token"]);
        assert.equal((await s.api("GET", "/auth/me", { token: res.body.token })).status, 200);
      });

      it("401 for garbage, an access token, or a revoked refresh token", async () => {
        const r1 = await s.api("POST", "/auth/refresh", { body: { refresh_token: "garbage" } });
        expectError(r1, 401, "UNAUTHORIZED");
        assert.equal(r1.body.message, "Refresh token expired or revoked");
        expectError(await s.api("POST", "/auth/refresh", { body: { refresh_token: s.adminToken } }), 401, "UNAUTHORIZED");
        const token = await userWithPermissions(s, "refresher", {});
        const login = await s.api("POST", "/auth/token", { body: { name: "refresher", pass: "pw-refresher" } });
        assert.ok(token);
        await s.api("POST", "/admin/revoke-user/refresher", { token: s.adminToken });
        expectError(await s.api("POST", "/auth/refresh", { body: { refresh_token: login.body.refresh_token } }), 401, "UNAUTHORIZED");
      });

      it("400 when refresh_token is missing or not a string", async () => {
        expectError(await s.api("POST", "/auth/refresh", { body: {} }), 400, "BAD_REQUEST");
        expectError(await s.api("POST", "/auth/refresh", { body: { refresh_token: 42 } }), 400, "BAD_REQUEST");
      });
    });

    describe("providers and SSO", () => {
      it("GET /auth/providers lists providers without authentication", async () => {
        const res = await s.api("GET", "/auth/providers");
        assert.equal(res.status, 200);
        // All three rows exist from the first start; okta and keycloak stay disabled until configured.
        assert.deepEqual(res.body, {
          providers: [
            { type: "local", enabled: true },
            { type: "okta", enabled: false },
            { type: "keycloak", enabled: false },
          ],
        });
      });

      it("SSO redirect: 404 for an unconfigured provider, 400 without callback_url", async () => {
        expectError(await s.api("GET", "/auth/providers/okta/redirect?callback_url=http://ui/cb"), 404, "NOT_FOUND");
        expectError(await s.api("GET", "/auth/providers/okta/redirect"), 400, "BAD_REQUEST");
      });

      it("SSO redirect builds the authorization URL of a configured provider", async () => {
        await s.services.db.prisma.authProvider.update({
          where: { type: "keycloak" },
          data: { enabled: true, config: { issuer: "https://kc.example/realms/dev", "client-id": "pantera" } },
        });
        const res = await s.api("GET", "/auth/providers/keycloak/redirect?callback_url=" + encodeURIComponent("http://ui/cb"));
        assert.equal(res.status, 200);
        const url = new URL(res.body.url);
        assert.equal(url.origin + url.pathname, "https://kc.example/realms/dev/protocol/openid-connect/auth");
        assert.equal(url.searchParams.get("client_id"), "pantera");
        assert.equal(url.searchParams.get("redirect_uri"), "http://ui/cb");
        assert.equal(url.searchParams.get("state"), res.body.state);
        assert.match(res.body.state, /^[0-9a-f]{24}$/);
      });

      it("SSO callback: 404 for an unconfigured provider, 400 for missing fields, 401 when the IdP is unreachable", async () => {
        expectError(await s.api("POST", "/auth/callback", { body: { code: "c", provider: "okta", callback_url: "http://ui/cb" } }), 404, "NOT_FOUND");
        expectError(await s.api("POST", "/auth/callback", { body: { provider: "okta" } }), 400, "BAD_REQUEST");
        await s.services.db.prisma.authProvider.update({
          where: { type: "okta" },
          data: { enabled: true, config: { issuer: "http://127.0.0.1:9/oauth2/default", "client-id": "p" } },
        });
        expectError(await s.api("POST", "/auth/callback", { body: { code: "c", provider: "okta", callback_url: "http://ui/cb" } }), 401, "UNAUTHORIZED");
      });
    });

    describe("GET /auth/me", () => {
      it("returns the profile with every permission domain resolved", async () => {
        const res = await s.api("GET", "/auth/me", { token: s.adminToken });
        assert.equal(res.status, 200);
        assert.equal(res.body.name, "admin");
        assert.equal(res.body.context, "local");
        assert.deepEqual(res.body.groups, []);
        assert.deepEqual(res.body.permissions.api_repository_permissions, ["read", "create", "update", "delete", "move"]);
        assert.deepEqual(res.body.permissions.api_user_permissions, ["read", "create", "update", "delete", "enable", "change_password"]);
        assert.deepEqual(res.body.permissions.api_alias_permissions, ["read", "create", "delete"]);
        assert.equal(res.body.permissions.can_delete_artifacts, true);
      });

      it("reflects role grants and ignores disabled roles", async () => {
        const token = await userWithPermissions(s, "carol", { api_search_permissions: ["read"], "maven-central": ["read"] });
        const me = await s.api("GET", "/auth/me", { token });
        assert.deepEqual(me.body.permissions.api_search_permissions, ["read"]);
        assert.deepEqual(me.body.permissions.api_user_permissions, []);
        assert.equal(me.body.permissions.can_delete_artifacts, false);
        await s.api("POST", "/roles/carol-role/disable", { token: s.adminToken });
        const after = await s.api("GET", "/auth/me", { token });
        assert.deepEqual(after.body.permissions.api_search_permissions, []);
      });

      it("401 without a token, with a bad token, or with a refresh token", async () => {
        expectError(await s.api("GET", "/auth/me"), 401, "UNAUTHORIZED");
        expectError(await s.api("GET", "/auth/me", { token: "abc.def.ghi" }), 401, "UNAUTHORIZED");
        const login = await s.api("POST", "/auth/token", { body: { name: "admin", pass: ADMIN_PASSWORD } });
        expectError(await s.api("GET", "/auth/me", { token: login.body.refresh_token }), 401, "UNAUTHORIZED");
        expectError(await s.api("GET", "/auth/me", { headers: { authorization: "Digest x" } }), 401, "UNAUTHORIZED");
      });
    });

    describe("API tokens", () => {
      it("generates, lists (without values) and revokes tokens; the token authenticates until revoked", async () => {
        const gen = await s.api("POST", "/auth/token/generate", { token: s.adminToken, body: { label: "CI/CD Pipeline Token", expiry_days: 90 } });
        assert.equal(gen.status, 200);
        assert.equal(gen.body.label, "CI/CD Pipeline Token");
        assert.equal(gen.body.permanent, false);
        assert.match(gen.body.id, /^[0-9a-f-]{36}$/);
        const days = (Date.parse(gen.body.expires_at) - Date.now()) / 86400_000;
        assert.ok(days > 89.9 && days <= 90, `expires in ${days} days`);
        assert.equal((await s.api("GET", "/auth/me", { token: gen.body.token })).status, 200);

        const list = await s.api("GET", "/auth/tokens", { token: s.adminToken });
        const entry = list.body.tokens.find((t: { id: string }) => t.id === gen.body.id);
        assert.deepEqual(Object.keys(entry).sort(), ["created_at", "expired", "expires_at", "id", "label"]);
        assert.equal(entry.expired, false);
        assert.ok(!JSON.stringify(list.body).includes(gen.body.token));

        const del = await s.api("DELETE", `/auth/tokens/${gen.body.id}`, { token: s.adminToken });
        assert.equal(del.status, 204);
        expectError(await s.api("GET", "/auth/me", { token: gen.body.token }), 401, "UNAUTHORIZED");
        expectError(await s.api("DELETE", `/auth/tokens/${gen.body.id}`, { token: s.adminToken }), 404, "NOT_FOUND");
      });

      it("defaults: label 'API Token', 30 days", async () => {
        const gen = await s.api("POST", "/auth/token/generate", { token: s.adminToken });
        assert.equal(gen.status, 200);
        assert.equal(gen.body.label, "API Token");
        const days = (Date.parse(gen.body.expires_at) - Date.now()) / 86400_000;
        assert.ok(days > 29.9 && days <= 30);
      });

      it("only the owner can revoke a token (others get 404)", async () => {
        const dave = await userWithPermissions(s, "dave", {});
        const gen = await s.api("POST", "/auth/token/generate", { token: dave, body: { label: "mine" } });
        expectError(await s.api("DELETE", `/auth/tokens/${gen.body.id}`, { token: s.adminToken }), 404, "NOT_FOUND");
        expectError(await s.api("DELETE", "/auth/tokens/not-a-uuid", { token: dave }), 404, "NOT_FOUND");
        assert.equal((await s.api("DELETE", `/auth/tokens/${gen.body.id}`, { token: dave })).status, 204);
      });

      it("enforces the token policy with 400s", async () => {
        expectError(await s.api("POST", "/auth/token/generate", { token: s.adminToken, body: { expiry_days: 0 } }), 400, "BAD_REQUEST");
        expectError(await s.api("POST", "/auth/token/generate", { token: s.adminToken, body: { expiry_days: 91 } }), 400, "BAD_REQUEST");
        expectError(await s.api("POST", "/auth/token/generate", { token: s.adminToken, body: { expiry_days: -1 } }), 400, "BAD_REQUEST");
        expectError(await s.api("POST", "/auth/token/generate", { token: s.adminToken, body: { expiry_days: "ten" } }), 400, "BAD_REQUEST");
        expectError(await s.api("POST", "/auth/token/generate", { token: s.adminToken, body: { label: ["x"] } }), 400, "BAD_REQUEST");
        await s.api("PUT", "/admin/auth-settings", { token: s.adminToken, body: { allow_permanent_tokens: true } });
        const perm = await s.api("POST", "/auth/token/generate", { token: s.adminToken, body: { label: "Permanent Token", expiry_days: 0 } });
        assert.equal(perm.status, 200);
        assert.equal(perm.body.permanent, true);
        assert.equal(perm.body.expires_at, undefined);
        const list = await s.api("GET", "/auth/tokens", { token: s.adminToken });
        const entry = list.body.tokens.find((t: { id: string }) => t.id === perm.body.id);
        assert.deepEqual(entry, { id: perm.body.id, label: "Permanent Token", created_at: entry.created_at, permanent: true });
        await s.api("PUT", "/admin/auth-settings", { token: s.adminToken, body: { allow_permanent_tokens: false } });
      });

      it("401 without authentication", async () => {
        expectError(await s.api("POST", "/auth/token/generate", { body: {} }), 401, "UNAUTHORIZED");
        expectError(await s.api("GET", "/auth/tokens"), 401, "UNAUTHORIZED");
        expectError(await s.api("DELETE", "/auth/tokens/x"), 401, "UNAUTHORIZED");
      });
    });

    describe("admin auth settings", () => {
      it("GET returns the policy; PUT updates given fields only and takes effect for new tokens", async () => {
        const get = await s.api("GET", "/admin/auth-settings", { token: s.adminToken });
        assert.deepEqual(get.body, {
          access_token_expiry_seconds: 3600,
          refresh_token_expiry_seconds: 604800,
          api_token_max_expiry_days: 90,
          allow_permanent_tokens: false,
        });
        const put = await s.api("PUT", "/admin/auth-settings", { token: s.adminToken, body: { access_token_expiry_seconds: 1800 } });
        assert.equal(put.status, 200);
        assert.deepEqual(put.body, { status: "saved" });
        const after = await s.api("GET", "/admin/auth-settings", { token: s.adminToken });
        assert.equal(after.body.access_token_expiry_seconds, 1800);
        assert.equal(after.body.api_token_max_expiry_days, 90);
        const login = await s.api("POST", "/auth/token", { body: { name: "admin", pass: ADMIN_PASSWORD } });
        assert.equal(login.body.expires_in, 1800);
        await s.api("PUT", "/admin/auth-settings", { token: s.adminToken, body: { access_token_expiry_seconds: 3600 } });
      });

      it("400 for invalid values, 403 without role permissions, 401 without a token", async () => {
        expectError(await s.api("PUT", "/admin/auth-settings", { token: s.adminToken, body: { access_token_expiry_seconds: -5 } }), 400, "BAD_REQUEST");
        expectError(await s.api("PUT", "/admin/auth-settings", { token: s.adminToken, body: { allow_permanent_tokens: "yes" } }), 400, "BAD_REQUEST");
        expectError(await s.api("PUT", "/admin/auth-settings", { token: s.adminToken, raw: "[" }), 400, "BAD_REQUEST");
        const reader = await userWithPermissions(s, "policyreader", { api_role_permissions: ["read"] });
        assert.equal((await s.api("GET", "/admin/auth-settings", { token: reader })).status, 200);
        expectError(await s.api("PUT", "/admin/auth-settings", { token: reader, body: { allow_permanent_tokens: true } }), 403, "FORBIDDEN");
        const nobody = await userWithPermissions(s, "policynobody", {});
        expectError(await s.api("GET", "/admin/auth-settings", { token: nobody }), 403, "FORBIDDEN");
        expectError(await s.api("GET", "/admin/auth-settings"), 401, "UNAUTHORIZED");
      });
    });

    describe("POST /admin/revoke-user/:username", () => {
      it("revokes refresh and API tokens and blocks live access tokens at once", async () => {
        const access = await userWithPermissions(s, "erin", {});
        const api1 = await s.api("POST", "/auth/token/generate", { token: access, body: { label: "a" } });
        const api2 = await s.api("POST", "/auth/token/generate", { token: access, body: { label: "b" } });
        assert.equal((await s.api("GET", "/auth/me", { token: api1.body.token })).status, 200);
        const res = await s.api("POST", "/admin/revoke-user/erin", { token: s.adminToken });
        assert.equal(res.status, 200);
        // one refresh token (from userWithPermissions' login) + two API tokens
        assert.deepEqual(res.body, { status: "revoked", username: "erin", tokens_revoked: 3 });
        expectError(await s.api("GET", "/auth/me", { token: access }), 401, "UNAUTHORIZED");
        expectError(await s.api("GET", "/auth/me", { token: api1.body.token }), 401, "UNAUTHORIZED");
        expectError(await s.api("GET", "/auth/me", { token: api2.body.token }), 401, "UNAUTHORIZED");
        // A fresh login after revocation works.
        const fresh = await s.login("erin", "pw-erin");
        assert.equal((await s.api("GET", "/auth/me", { token: fresh })).status, 200);
      });

      it("404 for an unknown user, 403 without api_user_permissions:update", async () => {
        expectError(await s.api("POST", "/admin/revoke-user/nobody-here", { token: s.adminToken }), 404, "NOT_FOUND");
        const weak = await userWithPermissions(s, "weak", { api_user_permissions: ["read"] });
        expectError(await s.api("POST", "/admin/revoke-user/admin", { token: weak }), 403, "FORBIDDEN");
      });
    });

    it("tokens survive a restart: the signing key lives in the database", async () => {
      // Same database, new AuthService/KeyStore: verification must still succeed.
      const { KeyStore } = await import("../../src/auth/keys.js");
      const keys = new KeyStore(s.services.db.prisma);
      await keys.init();
      assert.equal(keys.signingKey().kid, s.services.keys.signingKey().kid);
    });
  });
}
