// REST §1 SSO (redirect, callback) and §12 provider rows, against real OpenID Providers
// (oidc-provider, laid out once like Okta and once like Keycloak; see test/helpers/oidc.ts):
// identities keyed by (provider, subject), role sync limited to the provider's own links, state
// with PKCE and nonce kept server-side, issuer/audience/expiry checks, JIT provisioning.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { ADMIN_PASSWORD, backends, expectError, listenLocal, startServer, type TestServer } from "../helpers/server.js";
import { browserLogin, startOp, type TestOp } from "../helpers/oidc.js";
import { bootstrap } from "../../src/bootstrap.js";
import { MAX_PENDING_SSO_STATES } from "../../src/auth/providers.js";

const CALLBACK = "http://ui.test/callback";

for (const backend of backends()) {
  describe(`SSO against real OpenID Providers [${backend}]`, () => {
    let s: TestServer;
    let okta: TestOp;
    let keycloak: TestOp;
    const ids: Record<string, number> = {};

    const configure = async (type: string, config: Record<string, unknown>) => {
      const res = await s.api("PUT", `/auth-providers/${ids[type]}/config`, { token: s.adminToken, body: config });
      assert.equal(res.status, 200, res.text);
    };
    const redirect = async (provider: string, callback = CALLBACK) => {
      const res = await s.api("GET", `/auth/providers/${provider}/redirect?callback_url=${encodeURIComponent(callback)}`);
      assert.equal(res.status, 200, res.text);
      return res.body as { url: string; state: string };
    };
    /** Redirect, browser login at the OP as `sub`, callback; `edit` may tamper with the authorization URL. */
    const sso = async (provider: string, sub: string, opts: { sendState?: boolean; edit?: (u: URL) => void } = {}) => {
      const r = await redirect(provider);
      const url = new URL(r.url);
      opts.edit?.(url);
      const back = await browserLogin(url.toString(), sub, CALLBACK);
      assert.equal(back.searchParams.get("error"), null, back.toString());
      assert.equal(back.searchParams.get("state"), r.state);
      const body: Record<string, string> = { code: back.searchParams.get("code")!, provider, callback_url: CALLBACK };
      if (opts.sendState !== false) body.state = r.state;
      return { res: await s.api("POST", "/auth/callback", { body }), body, redirect: r };
    };
    const me = async (token: string) => (await s.api("GET", "/auth/me", { token })).body;
    const userRoles = async (name: string) =>
      (await s.services.db.prisma.userRole.findMany({ where: { user: { name } }, include: { role: true } })).map((l) => `${l.role.name}:${l.source}`).sort();

    before(async () => {
      s = await startServer({ backend });
      okta = await startOp({
        style: "okta",
        accounts: [
          { sub: "00u-admin-impostor", username: "admin" },
          { sub: "00u-alice", username: "alice", email: "alice@okta.test", groups: ["devs"] },
          { sub: "00u-dora", username: "dora" },
          { sub: "00u-lee", username: "lee" },
        ],
      });
      keycloak = await startOp({
        style: "keycloak",
        pkceRequired: true,
        accounts: [
          { sub: "kc-alice", username: "alice" },
          { sub: "kc-bob", username: "bob", groups: ["ops"] },
          { sub: "kc-carl", username: "carl" },
        ],
      });
      for (const p of (await s.api("GET", "/settings", { token: s.adminToken })).body.credentials) ids[p.type] = p.id;
      // The rows are bootstrapped (see "provider rows"); made here only where they are missing, so
      // that the identity tests also run against code from before that, and show what they catch.
      for (const [type, priority] of [
        ["okta", 1],
        ["keycloak", 2],
      ] as const) {
        ids[type] ??= (await s.services.db.prisma.authProvider.create({ data: { type, priority, enabled: false } })).id;
      }
      await s.api("PUT", "/roles/devs-role", { token: s.adminToken, body: { permissions: { api_search_permissions: ["read"] } } });
      await s.api("PUT", "/roles/ops-role", { token: s.adminToken, body: { permissions: { api_search_permissions: ["read"] } } });
      await s.api("PUT", "/roles/manual-role", { token: s.adminToken, body: { permissions: { api_repository_permissions: ["read"] } } });
      await configure("okta", { issuer: okta.issuer, "client-id": okta.clientId, "client-secret": okta.clientSecret, "group-roles": { devs: "devs-role" } });
      await configure("keycloak", {
        issuer: keycloak.issuer,
        "client-id": keycloak.clientId,
        "client-secret": keycloak.clientSecret,
        "group-roles": { ops: "ops-role" },
        "require-state": true,
      });
      for (const type of ["okta", "keycloak"]) {
        const res = await s.api("PUT", `/auth-providers/${ids[type]}/toggle`, { token: s.adminToken, body: { enabled: true } });
        assert.equal(res.status, 200, res.text);
      }
    });
    after(async () => {
      await s?.close();
      await okta?.close();
      await keycloak?.close();
    });

    describe("identities keyed by (provider, subject)", () => {
      it("an IdP account named like the local admin is refused and admin keeps its roles", async () => {
        const { res } = await sso("okta", "00u-admin-impostor");
        expectError(res, 409, "CONFLICT");
        assert.match(res.body.message, /'admin' already exists and is not linked/);
        assert.deepEqual((await s.api("GET", "/users/admin", { token: s.adminToken })).body.roles, ["admin"]);
        assert.equal(await s.services.db.prisma.externalIdentity.count({ where: { subject: "00u-admin-impostor" } }), 0);
        assert.equal((await s.api("POST", "/auth/token", { body: { name: "admin", pass: ADMIN_PASSWORD } })).status, 200);
      });

      it("provisions a user just in time and finds it again by subject, not by name", async () => {
        const first = await sso("okta", "00u-alice", { sendState: false });
        assert.equal(first.res.status, 200, first.res.text);
        const profile = await me(first.res.body.token);
        assert.equal(profile.name, "alice");
        assert.equal(profile.context, "okta");
        assert.equal(profile.email, "alice@okta.test");
        assert.deepEqual(profile.groups, ["devs"]);
        const user = await s.services.db.prisma.user.findUniqueOrThrow({ where: { name: "alice" }, include: { identities: true } });
        assert.equal(user.authType, "okta");
        assert.equal(user.passwordHash, null);
        assert.deepEqual(
          user.identities.map((i) => [i.provider, i.subject]),
          [["okta", "00u-alice"]],
        );
        // The audit trail records the provisioning once (not the later logins).
        const provisioned = () => s.services.db.prisma.auditEvent.count({ where: { action: "provisionUser", target: "alice" } });
        assert.equal(await provisioned(), 1);
        // The IdP renames the account: the same subject still reaches the same Pantera user.
        okta.accounts.get("00u-alice")!.username = "alice.renamed";
        const again = await sso("okta", "00u-alice", { sendState: false });
        assert.equal(again.res.status, 200, again.res.text);
        assert.equal((await me(again.res.body.token)).name, "alice");
        okta.accounts.get("00u-alice")!.username = "alice";
        assert.equal(await s.services.db.prisma.user.count({ where: { name: "alice.renamed" } }), 0);
        assert.equal(await provisioned(), 1);
      });

      it("keycloak's alice does not get okta's alice's account", async () => {
        const { res } = await sso("keycloak", "kc-alice");
        expectError(res, 409, "CONFLICT");
        const user = await s.services.db.prisma.user.findUniqueOrThrow({ where: { name: "alice" }, include: { identities: true } });
        assert.deepEqual(
          user.identities.map((i) => i.provider),
          ["okta"],
        );
        assert.equal(user.context, "okta");
      });

      it("only an explicit admin action links an IdP account to an existing user", async () => {
        assert.equal((await s.api("PUT", "/users/carl", { token: s.adminToken, body: { pass: "carl-local-pw" } })).status, 201);
        expectError((await sso("keycloak", "kc-carl")).res, 409, "CONFLICT");
        const link = `mutation($u: String!, $p: String!, $s: String!) { linkExternalIdentity(username: $u, provider: $p, subject: $s) }`;
        const reader = (await s.api("POST", "/auth/token", { body: { name: "carl", pass: "carl-local-pw" } })).body.token;
        const denied = await s.graphql(link, { u: "carl", p: "keycloak", s: "kc-carl" }, reader);
        assert.equal(denied.body.errors?.[0]?.extensions?.code, "FORBIDDEN");
        const bad = await s.graphql(link, { u: "carl", p: "local", s: "kc-carl" }, s.adminToken);
        assert.equal(bad.body.errors?.[0]?.extensions?.code, "BAD_REQUEST");
        const ok = await s.graphql(link, { u: "carl", p: "keycloak", s: "kc-carl" }, s.adminToken);
        assert.deepEqual(ok.body, { data: { linkExternalIdentity: true } });
        const { res } = await sso("keycloak", "kc-carl");
        assert.equal(res.status, 200, res.text);
        assert.equal((await me(res.body.token)).name, "carl");
        // A subject linked to one user is not moved to another by a second link.
        const moved = await s.graphql(link, { u: "admin", p: "keycloak", s: "kc-carl" }, s.adminToken);
        assert.equal(moved.body.errors?.[0]?.extensions?.code, "CONFLICT");
      });

      it("role sync re-applies group-roles at each login and leaves manual grants alone", async () => {
        assert.deepEqual(await userRoles("alice"), ["devs-role:okta"]);
        // An administrator grants a role by hand (PUT replaces the list: devs-role is now manual too).
        const put = await s.api("PUT", "/users/alice", { token: s.adminToken, body: { roles: ["manual-role"] } });
        assert.ok(put.status < 300, put.text);
        assert.deepEqual(await userRoles("alice"), ["manual-role:"]);
        let { res } = await sso("okta", "00u-alice", { sendState: false });
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(await userRoles("alice"), ["devs-role:okta", "manual-role:"]);
        assert.deepEqual((await me(res.body.token)).permissions.api_search_permissions, ["read"]);
        // Out of the group at the IdP: the mapped role goes, the manual one stays.
        okta.accounts.get("00u-alice")!.groups = [];
        ({ res } = await sso("okta", "00u-alice", { sendState: false }));
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(await userRoles("alice"), ["manual-role:"]);
        // The admin's own grants survive any SSO login of any user.
        assert.deepEqual(await userRoles("admin"), ["admin:"]);
      });

      it("a user provisioned by name before migration 0004 is re-keyed by its provider's first login", async () => {
        // What 0004 leaves for an okta-provisioned user: a link keyed by name, not yet by subject.
        const lee = await s.services.db.prisma.user.create({
          data: { name: "lee", authType: "okta", context: "okta", identities: { create: [{ provider: "okta", subject: "name:lee" }] } },
        });
        const { res } = await sso("okta", "00u-lee", { sendState: false });
        assert.equal(res.status, 200, res.text);
        const links = await s.services.db.prisma.externalIdentity.findMany({ where: { userId: lee.id } });
        assert.deepEqual(
          links.map((l) => [l.provider, l.subject]),
          [["okta", "00u-lee"]],
        );
      });

      it("a disabled user is refused", async () => {
        assert.equal((await s.api("POST", "/users/alice/disable", { token: s.adminToken })).status < 300, true);
        const { res } = await sso("okta", "00u-alice", { sendState: false });
        expectError(res, 401, "UNAUTHORIZED");
        assert.match(res.body.message, /disabled/);
        await s.api("POST", "/users/alice/enable", { token: s.adminToken });
      });
    });

    describe("state, PKCE and nonce", () => {
      it("require-state: the redirect sends an S256 code_challenge and a nonce; the verifier reaches the OP", async () => {
        const { res, redirect: r } = await sso("keycloak", "kc-bob");
        assert.equal(res.status, 200, res.text);
        const url = new URL(r.url);
        assert.equal(url.origin + url.pathname, keycloak.issuer + "/protocol/openid-connect/auth");
        assert.equal(url.searchParams.get("code_challenge_method"), "S256");
        assert.match(url.searchParams.get("code_challenge") ?? "", /^[A-Za-z0-9_-]{43}$/);
        assert.match(url.searchParams.get("nonce") ?? "", /^[A-Za-z0-9_-]{20,}$/);
        const grant = keycloak.grants.at(-1)!;
        assert.match(grant.code_verifier ?? "", /^[A-Za-z0-9_-]{43,}$/);
        const stored = await s.services.db.prisma.ssoState.findUniqueOrThrow({ where: { state: r.state } });
        assert.equal(stored.verifier, grant.code_verifier);
        assert.equal(stored.provider, "keycloak");
        assert.ok(stored.usedAt, "the state is spent");
        assert.ok(stored.expiresAt.getTime() - stored.createdAt.getTime() <= 10 * 60_000);
        const profile = await me(res.body.token);
        assert.equal(profile.name, "bob");
        assert.deepEqual(await userRoles("bob"), ["ops-role:keycloak"]);
      });

      it("the state is shared by every node: redirect on one, callback on another", { skip: backend !== "postgres" }, async () => {
        const other = await startServer({ backend: "postgres", databaseUrl: s.config.databaseUrl });
        try {
          const r = await redirect("keycloak");
          const back = await browserLogin(r.url, "kc-bob", CALLBACK);
          const body = { code: back.searchParams.get("code"), provider: "keycloak", callback_url: CALLBACK, state: r.state };
          const res = await other.api("POST", "/auth/callback", { body });
          assert.equal(res.status, 200, res.text);
          expectError(await s.api("POST", "/auth/callback", { body }), 401, "UNAUTHORIZED");
        } finally {
          await other.close();
        }
      });

      it("an id_token whose nonce is not the login's is refused", async () => {
        const { res } = await sso("keycloak", "kc-bob", { edit: (u) => u.searchParams.set("nonce", "attacker-chosen-nonce") });
        expectError(res, 401, "UNAUTHORIZED");
        assert.match(res.body.message, /nonce/);
      });

      it("a code_challenge that is not Pantera's makes the OP refuse the exchange", async () => {
        const { res } = await sso("keycloak", "kc-bob", { edit: (u) => u.searchParams.set("code_challenge", "A".repeat(43)) });
        expectError(res, 401, "UNAUTHORIZED");
        assert.match(keycloak.grantErrors.at(-1) ?? "", /invalid_grant/);
      });

      it("the state must be Pantera's, for this provider and callback, unexpired and unused", async () => {
        // Without the state, a provider with require-state refuses the documented body.
        const bob = await sso("keycloak", "kc-bob", { sendState: false });
        expectError(bob.res, 400, "BAD_REQUEST");
        const r = await redirect("keycloak");
        const base = { code: "whatever", provider: "keycloak", callback_url: CALLBACK };
        expectError(await s.api("POST", "/auth/callback", { body: { ...base, state: "f".repeat(24) } }), 401, "UNAUTHORIZED");
        expectError(await s.api("POST", "/auth/callback", { body: { ...base, provider: "okta", state: r.state } }), 401, "UNAUTHORIZED");
        expectError(await s.api("POST", "/auth/callback", { body: { ...base, callback_url: "http://ui.test/other", state: r.state } }), 401, "UNAUTHORIZED");
        expectError(await s.api("POST", "/auth/callback", { body: { ...base, state: 42 } }), 400, "BAD_REQUEST");
        // Expired (ten minutes) is refused even when never used.
        await s.services.db.prisma.ssoState.update({ where: { state: r.state }, data: { expiresAt: new Date(Date.now() - 1000) } });
        const res = await s.api("POST", "/auth/callback", { body: { ...base, state: r.state } });
        expectError(res, 401, "UNAUTHORIZED");
        assert.match(res.body.message, /unknown or expired/);
      });

      it("the public redirect cannot fill the state table: past the cap it answers 429 with Retry-After", async () => {
        await s.services.db.sql.query(
          `INSERT INTO "sso_states" ("state", "provider", "redirect_uri", "nonce", "expires_at")
           SELECT 'flood-' || i, 'okta', $1, 'n', now() + interval '5 minutes' FROM generate_series(1, $2::int) AS i`,
          [CALLBACK, MAX_PENDING_SSO_STATES],
        );
        try {
          const res = await s.api("GET", `/auth/providers/okta/redirect?callback_url=${encodeURIComponent(CALLBACK)}`);
          expectError(res, 429, "TOO_MANY_REQUESTS");
          assert.equal(res.headers.get("retry-after"), "60");
        } finally {
          await s.services.db.sql.query(`DELETE FROM "sso_states" WHERE "state" LIKE 'flood-%'`);
        }
        assert.ok((await redirect("okta")).state, "redirects work again once states are spent or expired");
      });

      it("a replayed callback is refused: the state is spent, and the OP will not redeem a code twice", async () => {
        const first = await sso("keycloak", "kc-bob");
        assert.equal(first.res.status, 200, first.res.text);
        const replay = await s.api("POST", "/auth/callback", { body: first.body });
        expectError(replay, 401, "UNAUTHORIZED");
        assert.match(replay.body.message, /already used/);
        // Without state (okta does not require it) the OP itself refuses the second redemption.
        const once = await sso("okta", "00u-dora", { sendState: false });
        assert.equal(once.res.status, 200, once.res.text);
        const twice = await s.api("POST", "/auth/callback", { body: once.body });
        expectError(twice, 401, "UNAUTHORIZED");
        assert.match(twice.body.message, /invalid_grant/);
      });

      it("without require-state the documented body works: nonce sent, no PKCE (a stateless callback could not send the verifier)", async () => {
        const { res, redirect: r } = await sso("okta", "00u-dora", { sendState: false });
        assert.equal(res.status, 200, res.text);
        const url = new URL(r.url);
        assert.equal(url.origin + url.pathname, okta.issuer + "/v1/authorize");
        assert.ok(url.searchParams.get("nonce"));
        assert.equal(url.searchParams.get("code_challenge"), null);
        // The same login naming its state has the nonce checked.
        const withState = await sso("okta", "00u-dora", { edit: (u) => u.searchParams.set("nonce", "other") });
        expectError(withState.res, 401, "UNAUTHORIZED");
      });
    });

    describe("id_token checks (tokens signed with the OP's own key, served by a stand-in token endpoint)", () => {
      let stub: { url: string; close(): Promise<void> };
      let next = "";
      before(async () => {
        stub = await listenLocal(
          http.createServer((_req, res) => {
            res.setHeader("content-type", "application/json");
            res.end(JSON.stringify({ access_token: "x", token_type: "Bearer", id_token: next }));
          }),
        );
        // okta's row keeps its issuer and JWKS (the real OP) but trades codes at the stand-in.
        await configure("okta", { "token-endpoint": stub.url + "/token", "jwks-uri": okta.issuer + "/v1/keys" });
      });
      after(async () => {
        await configure("okta", { "token-endpoint": null, "jwks-uri": null });
        await stub.close();
      });
      const now = () => Math.floor(Date.now() / 1000);
      const callbackWith = async (claims: Record<string, unknown>) => {
        next = await okta.signIdToken({
          iss: okta.issuer,
          aud: okta.clientId,
          sub: "00u-dora",
          preferred_username: "dora",
          iat: now(),
          exp: now() + 300,
          ...claims,
        });
        return s.api("POST", "/auth/callback", { body: { code: "c", provider: "okta", callback_url: CALLBACK } });
      };

      it("accepts a well-formed token (the stand-in works)", async () => {
        assert.equal((await callbackWith({})).status, 200);
      });
      it("refuses another issuer, another audience, an expired token, and a token for several audiences without azp", async () => {
        for (const claims of [
          { iss: "http://evil.test/oauth2/default" },
          { aud: "other-client" },
          { exp: now() - 120, iat: now() - 600 },
          { aud: [okta.clientId, "other"] },
        ]) {
          const res = await callbackWith(claims);
          expectError(res, 401, "UNAUTHORIZED");
          assert.match(res.body.message, /SSO login with 'okta' failed: the id_token/);
        }
      });
    });

    describe("provider rows", () => {
      it("okta and keycloak rows come back on a database that has only local", async () => {
        const local = await s.services.db.prisma.authProvider.findUniqueOrThrow({ where: { type: "local" } });
        await s.services.db.prisma.authProvider.deleteMany({ where: { type: { in: ["okta", "keycloak"] } } });
        await bootstrap(s.services);
        const rows = await s.services.db.prisma.authProvider.findMany({ orderBy: { priority: "asc" } });
        assert.deepEqual(
          rows.map((r) => [r.type, r.priority, r.enabled]),
          [
            ["local", 0, true],
            ["okta", 1, false],
            ["keycloak", 2, false],
          ],
        );
        assert.equal(rows[0].id, local.id);
        const list = (await s.api("GET", "/auth/providers")).body;
        assert.deepEqual(list, {
          providers: [
            { type: "local", enabled: true },
            { type: "okta", enabled: false },
            { type: "keycloak", enabled: false },
          ],
        });
        // Unconfigured: cannot be enabled, and offers no SSO.
        const okta2 = rows[1];
        expectError(await s.api("PUT", `/auth-providers/${okta2.id}/toggle`, { token: s.adminToken, body: { enabled: true } }), 400, "BAD_REQUEST");
        expectError(await s.api("GET", `/auth/providers/okta/redirect?callback_url=${encodeURIComponent(CALLBACK)}`), 404, "NOT_FOUND");
      });

      it("an enabled provider cannot lose its issuer or client id", async () => {
        const local = await s.services.db.prisma.authProvider.findUniqueOrThrow({ where: { type: "local" } });
        await s.api("PUT", `/auth-providers/${local.id}/config`, { token: s.adminToken, body: {} });
        const kc = await s.services.db.prisma.authProvider.findUniqueOrThrow({ where: { type: "keycloak" } });
        let res = await s.api("PUT", `/auth-providers/${kc.id}/config`, { token: s.adminToken, body: { issuer: keycloak.issuer, "client-id": "pantera" } });
        assert.equal(res.status, 200, res.text);
        res = await s.api("PUT", `/auth-providers/${kc.id}/toggle`, { token: s.adminToken, body: { enabled: true } });
        assert.equal(res.status, 200, res.text);
        expectError(await s.api("PUT", `/auth-providers/${kc.id}/config`, { token: s.adminToken, body: { "client-id": null } }), 400, "BAD_REQUEST");
        expectError(await s.api("PUT", `/auth-providers/${kc.id}/config`, { token: s.adminToken, body: { "require-state": "yes" } }), 400, "BAD_REQUEST");
        expectError(await s.api("PUT", `/auth-providers/${kc.id}/config`, { token: s.adminToken, body: { "group-roles": { ops: 1 } } }), 400, "BAD_REQUEST");
        // A mask that is not the stored secret's is never saved as the secret.
        expectError(await s.api("PUT", `/auth-providers/${kc.id}/config`, { token: s.adminToken, body: { "client-secret": "zz***zz" } }), 400, "BAD_REQUEST");
      });
    });

    it("an unreachable IdP is a 401 that names no secret", async () => {
      const kc = await s.services.db.prisma.authProvider.findUniqueOrThrow({ where: { type: "keycloak" } });
      await s.api("PUT", `/auth-providers/${kc.id}/config`, {
        token: s.adminToken,
        body: { issuer: "http://127.0.0.1:9/realms/x", "client-secret": "top-secret-value", "require-state": false },
      });
      const res = await s.api("POST", "/auth/callback", { body: { code: "c", provider: "keycloak", callback_url: CALLBACK } });
      expectError(res, 401, "UNAUTHORIZED");
      assert.doesNotMatch(res.text, /top-secret-value/);
      assert.match(res.body.message, /could not be reached/);
    });
  });
}
