// REST §1 POST /auth/token: "Auth providers are tried in priority order (local, Okta, Keycloak)".
// Keycloak: the direct-access grant (grant_type=password) at a real OP (oidc-provider with that
// grant registered, see test/helpers/oidc.ts). Okta: no Okta server can run here, so a small local
// server plays Okta, written from Okta's API reference: the Authn API (POST /api/v1/authn,
// MFA_REQUIRED with a TOTP factor, POST /api/v1/authn/factors/{id}/verify with passCode), and the
// session-token exchange at /oauth2/default/v1/authorize, /v1/token and /v1/keys.
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHash, randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { ADMIN_PASSWORD, backends, expectError, listenLocal, startServer, type TestServer } from "../helpers/server.js";
import { startOp, type TestOp } from "../helpers/oidc.js";

interface OktaUser {
  id: string;
  login: string;
  password: string;
  totp?: string;
  groups?: string[];
}

/** Okta's Authn API and the authorization server's authorize/token/keys, as documented by Okta. */
async function startFakeOkta(users: OktaUser[], clientId: string, clientSecret: string) {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "okta-" + randomUUID(), alg: "RS256", use: "sig" };
  const transactions = new Map<string, OktaUser>(); // stateToken -> user
  const sessions = new Map<string, OktaUser>(); // sessionToken -> user
  const codes = new Map<string, { user: OktaUser; nonce: string; challenge: string; redirectUri: string }>();
  const calls = { authn: 0, verify: 0, authorize: 0, token: 0 };
  const state = { down: false, issuer: "" };
  const success = (user: OktaUser) => {
    const sessionToken = "st-" + randomUUID();
    sessions.set(sessionToken, user);
    return {
      status: "SUCCESS",
      expiresAt: new Date(Date.now() + 300_000).toISOString(),
      sessionToken,
      _embedded: { user: { id: user.id, profile: { login: user.login } } },
    };
  };
  const e0000004 = { errorCode: "E0000004", errorSummary: "Authentication failed", errorLink: "E0000004", errorId: "oae" + randomUUID(), errorCauses: [] };
  const readBody = async (req: http.IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString();
  };
  const answer = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://okta.local");
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (state.down) return send(500, { errorSummary: "UPSTREAM-INTERNAL-DETAIL do not show this" });
    if (req.method === "POST" && url.pathname === "/api/v1/authn") {
      calls.authn++;
      const { username, password } = JSON.parse(await readBody(req));
      const user = users.find((u) => u.login === username && u.password === password);
      if (!user) return send(401, e0000004);
      if (!user.totp) return send(200, success(user));
      const stateToken = "00" + randomUUID();
      transactions.set(stateToken, user);
      const factorId = "ostf" + user.id;
      return send(200, {
        stateToken,
        expiresAt: new Date(Date.now() + 300_000).toISOString(),
        status: "MFA_REQUIRED",
        _embedded: {
          user: { id: user.id, profile: { login: user.login } },
          factors: [
            { id: "opf-push", factorType: "push", provider: "OKTA" },
            {
              id: factorId,
              factorType: "token:software:totp",
              provider: "GOOGLE",
              vendorName: "GOOGLE",
              _links: { verify: { href: `http://elsewhere.invalid/api/v1/authn/factors/${factorId}/verify`, hints: { allow: ["POST"] } } },
            },
          ],
        },
      });
    }
    const verify = /^\/api\/v1\/authn\/factors\/([^/]+)\/verify$/.exec(url.pathname);
    if (req.method === "POST" && verify) {
      calls.verify++;
      const { stateToken, passCode } = JSON.parse(await readBody(req));
      const user = transactions.get(stateToken);
      if (!user || verify[1] !== "ostf" + user.id) return send(404, { errorCode: "E0000011", errorSummary: "Invalid token provided" });
      if (passCode !== user.totp) return send(403, { errorCode: "E0000068", errorSummary: "Invalid Passcode/Answer" });
      transactions.delete(stateToken);
      return send(200, success(user));
    }
    if (req.method === "GET" && url.pathname === "/oauth2/default/v1/authorize") {
      calls.authorize++;
      const p = url.searchParams;
      const user = sessions.get(p.get("sessionToken") ?? "");
      const back = new URL(p.get("redirect_uri") ?? "");
      back.searchParams.set("state", p.get("state") ?? "");
      if (p.get("client_id") !== clientId || !user || p.get("code_challenge_method") !== "S256" || !p.get("nonce")) {
        back.searchParams.set("error", "access_denied");
      } else {
        sessions.delete(p.get("sessionToken")!); // a session token is good for one exchange
        const code = "code-" + randomUUID();
        codes.set(code, { user, nonce: p.get("nonce")!, challenge: p.get("code_challenge")!, redirectUri: back.origin + back.pathname });
        back.searchParams.set("code", code);
      }
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (req.method === "POST" && url.pathname === "/oauth2/default/v1/token") {
      calls.token++;
      const p = new URLSearchParams(await readBody(req));
      const grant = codes.get(p.get("code") ?? "");
      codes.delete(p.get("code") ?? "");
      const verifierOk =
        grant &&
        createHash("sha256")
          .update(p.get("code_verifier") ?? "")
          .digest("base64url") === grant.challenge;
      if (p.get("client_id") !== clientId || p.get("client_secret") !== clientSecret) return send(401, { error: "invalid_client" });
      if (!grant || !verifierOk || p.get("redirect_uri") !== grant.redirectUri) return send(400, { error: "invalid_grant" });
      const now = Math.floor(Date.now() / 1000);
      const idToken = await new SignJWT({ preferred_username: grant.user.login, nonce: grant.nonce, groups: grant.user.groups ?? [] })
        .setProtectedHeader({ alg: "RS256", kid: jwk.kid })
        .setIssuer(state.issuer)
        .setAudience(clientId)
        .setSubject(grant.user.id)
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(privateKey);
      return send(200, { token_type: "Bearer", expires_in: 3600, access_token: randomUUID(), scope: "openid profile email", id_token: idToken });
    }
    if (req.method === "GET" && url.pathname === "/oauth2/default/v1/keys") return send(200, { keys: [jwk] });
    send(404, { errorCode: "E0000022", errorSummary: "The endpoint does not support the provided HTTP method" });
  };
  const server = http.createServer((req, res) => void answer(req, res));
  const listening = await listenLocal(server);
  state.issuer = listening.url + "/oauth2/default";
  return { ...listening, issuer: state.issuer, calls, state };
}

for (const backend of backends()) {
  describe(`password login through providers in priority order [${backend}]`, () => {
    let s: TestServer;
    let keycloak: TestOp;
    let okta: Awaited<ReturnType<typeof startFakeOkta>>;
    const oktaSecret = "okta-client-secret-" + randomUUID();
    const ids: Record<string, number> = {};
    const login = (name: string, pass: string, mfa?: string) =>
      s.api("POST", "/auth/token", { body: { name, pass, ...(mfa !== undefined ? { mfa_code: mfa } : {}) } });
    const me = async (token: string) => (await s.api("GET", "/auth/me", { token })).body;
    const setRow = (type: string, data: { enabled?: boolean; priority?: number }) => s.services.db.prisma.authProvider.update({ where: { type }, data });

    before(async () => {
      s = await startServer({ backend });
      keycloak = await startOp({
        style: "keycloak",
        passwordGrant: true,
        accounts: [
          { sub: "kc-1", username: "kc-user", password: "kc-pass", groups: ["ops"] },
          { sub: "kc-admin", username: "admin", password: "kc-admin-pass" },
          { sub: "kc-frank", username: "frank", password: "frank-pass" },
        ],
      });
      okta = await startFakeOkta(
        [
          { id: "00u-carol", login: "carol", password: "carol-pass", groups: ["devs"] },
          { id: "00u-dave", login: "dave", password: "dave-pass", totp: "123456" },
        ],
        "okta-client",
        oktaSecret,
      );
      for (const p of (await s.api("GET", "/settings", { token: s.adminToken })).body.credentials) ids[p.type] = p.id;
      // Bootstrapped rows (test/api/sso.test.ts); made here only where missing, so the file also runs on older code.
      for (const [type, priority] of [
        ["okta", 1],
        ["keycloak", 2],
      ] as const) {
        ids[type] ??= (await s.services.db.prisma.authProvider.create({ data: { type, priority, enabled: false } })).id;
      }
      await s.api("PUT", "/roles/ops-role", { token: s.adminToken, body: { permissions: { api_search_permissions: ["read"] } } });
      await s.api("PUT", "/roles/devs-role", { token: s.adminToken, body: { permissions: { api_repository_permissions: ["read"] } } });
      const config = async (type: string, body: Record<string, unknown>) => {
        const res = await s.api("PUT", `/auth-providers/${ids[type]}/config`, { token: s.adminToken, body });
        assert.equal(res.status, 200, res.text);
        assert.equal((await s.api("PUT", `/auth-providers/${ids[type]}/toggle`, { token: s.adminToken, body: { enabled: true } })).status, 200);
      };
      await config("keycloak", {
        issuer: keycloak.issuer,
        "client-id": keycloak.clientId,
        "client-secret": keycloak.clientSecret,
        "group-roles": { ops: "ops-role" },
      });
      await config("okta", {
        issuer: okta.issuer,
        "client-id": "okta-client",
        "client-secret": oktaSecret,
        "redirect-uri": "http://ui.test/okta-callback",
        "group-roles": { devs: "devs-role" },
      });
    });
    after(async () => {
      await s?.close();
      await keycloak?.close();
      await okta?.close();
    });
    beforeEach(async () => {
      okta.state.down = false;
      await setRow("okta", { enabled: true, priority: 1 });
      await setRow("keycloak", { enabled: true, priority: 2 });
    });

    it("Keycloak: the direct-access grant logs a user in, provisioned by (keycloak, sub) with mapped roles", async () => {
      const res = await login("kc-user", "kc-pass");
      assert.equal(res.status, 200, res.text);
      const profile = await me(res.body.token);
      assert.equal(profile.name, "kc-user");
      assert.equal(profile.context, "keycloak");
      assert.deepEqual(profile.groups, ["ops"]);
      assert.deepEqual(profile.permissions.api_search_permissions, ["read"]);
      const identity = await s.services.db.prisma.externalIdentity.findUniqueOrThrow({
        where: { provider_subject: { provider: "keycloak", subject: "kc-1" } },
        include: { user: true },
      });
      assert.equal(identity.user.name, "kc-user");
      assert.equal(keycloak.grants.at(-1)?.grant_type, "password");
      const wrong = await login("kc-user", "nope");
      expectError(wrong, 401, "UNAUTHORIZED");
      assert.equal(wrong.body.message, "Invalid credentials");
    });

    it("the local password is checked first: a local user never reaches the IdPs", async () => {
      const before = { authn: okta.calls.authn, grants: keycloak.grants.length };
      assert.equal((await login("admin", ADMIN_PASSWORD)).status, 200);
      assert.deepEqual({ authn: okta.calls.authn, grants: keycloak.grants.length }, before);
    });

    it("an IdP account named like a local user gets no session as that user", async () => {
      const res = await login("admin", "kc-admin-pass");
      expectError(res, 409, "CONFLICT");
      assert.deepEqual((await s.api("GET", "/users/admin", { token: s.adminToken })).body.roles, ["admin"]);
      assert.equal(await s.services.db.prisma.externalIdentity.count({ where: { subject: "kc-admin" } }), 0);
    });

    it("Okta: Authn API, then the session token traded for a code (PKCE, nonce) and an id_token", async () => {
      const before = { ...okta.calls };
      const res = await login("carol", "carol-pass");
      assert.equal(res.status, 200, res.text);
      const profile = await me(res.body.token);
      assert.equal(profile.name, "carol");
      assert.equal(profile.context, "okta");
      assert.deepEqual(profile.permissions.api_repository_permissions, ["read"]);
      assert.deepEqual(
        { authn: okta.calls.authn - before.authn, authorize: okta.calls.authorize - before.authorize, token: okta.calls.token - before.token },
        { authn: 1, authorize: 1, token: 1 },
      );
      const identity = await s.services.db.prisma.externalIdentity.findFirstOrThrow({ where: { provider: "okta", user: { name: "carol" } } });
      assert.equal(identity.subject, "00u-carol");
    });

    it("Okta MFA: MFA_REQUIRED asks for mfa_code; a wrong code is refused, the right TOTP code logs in", async () => {
      let res = await login("dave", "dave-pass");
      expectError(res, 401, "UNAUTHORIZED");
      assert.match(res.body.message, /MFA code required/);
      res = await login("dave", "dave-pass", "000000");
      expectError(res, 401, "UNAUTHORIZED");
      assert.match(res.body.message, /Invalid MFA code/);
      res = await login("dave", "dave-pass", "123456");
      assert.equal(res.status, 200, res.text);
      assert.equal((await me(res.body.token)).name, "dave");
    });

    it("providers are tried in the priority order of their rows, enabled ones only", async () => {
      // okta (1) before keycloak (2): frank is unknown at Okta, then found at Keycloak.
      let authn = okta.calls.authn;
      assert.equal((await login("frank", "frank-pass")).status, 200);
      assert.equal(okta.calls.authn, authn + 1);
      await setRow("keycloak", { priority: 0 });
      await setRow("okta", { priority: 5 });
      authn = okta.calls.authn;
      assert.equal((await login("frank", "frank-pass")).status, 200);
      assert.equal(okta.calls.authn, authn, "Keycloak answered first, Okta was not asked");
      await setRow("keycloak", { priority: 2 });
      await setRow("okta", { priority: 1, enabled: false });
      assert.equal((await login("frank", "frank-pass")).status, 200);
      assert.equal(okta.calls.authn, authn, "a disabled provider is not asked");
      expectError(await login("carol", "carol-pass"), 401, "UNAUTHORIZED");
      await setRow("okta", { enabled: true });
    });

    it("the local provider takes its row's place too: after an IdP when ranked lower, not asked when disabled", async () => {
      try {
        await setRow("local", { priority: 10 });
        const before = okta.calls.authn;
        assert.equal((await login("admin", ADMIN_PASSWORD)).status, 200);
        assert.equal(okta.calls.authn, before + 1, "Okta (1) was asked before local (10)");
        await setRow("local", { enabled: false });
        expectError(await login("admin", ADMIN_PASSWORD), 401, "UNAUTHORIZED");
        assert.equal((await login("kc-user", "kc-pass")).status, 200, "the IdPs still log in");
      } finally {
        await setRow("local", { enabled: true, priority: 0 });
      }
    });

    it("a provider that is down passes the login on; the answer names nothing secret", async () => {
      okta.state.down = true;
      assert.equal((await login("kc-user", "kc-pass")).status, 200, "Okta down, Keycloak still logs in");
      const res = await login("carol", "carol-pass");
      expectError(res, 401, "UNAUTHORIZED");
      assert.equal(res.body.message, "Invalid credentials");
      okta.state.down = false;
      const kc = await s.services.db.prisma.authProvider.findUniqueOrThrow({ where: { type: "keycloak" } });
      await s.services.db.prisma.authProvider.update({
        where: { id: kc.id },
        data: { config: { ...(kc.config as object), issuer: "http://127.0.0.1:9/realms/x" } },
      });
      try {
        assert.equal((await login("carol", "carol-pass")).status, 200, "Keycloak unreachable, Okta logs in");
        await setRow("okta", { enabled: false });
        const down = await login("kc-user", "kc-pass");
        expectError(down, 401, "UNAUTHORIZED");
        for (const secret of [keycloak.clientSecret, oktaSecret, "UPSTREAM-INTERNAL-DETAIL", "kc-pass"]) assert.doesNotMatch(down.text, new RegExp(secret));
      } finally {
        await s.services.db.prisma.authProvider.update({ where: { id: kc.id }, data: { config: kc.config as object } });
      }
    });

    it("a disabled user is refused even when the IdP accepts the password", async () => {
      assert.ok((await s.api("POST", "/users/kc-user/disable", { token: s.adminToken })).status < 300);
      const res = await login("kc-user", "kc-pass");
      assert.equal(res.status, 401, res.text);
      await s.api("POST", "/users/kc-user/enable", { token: s.adminToken });
    });
  });
}
