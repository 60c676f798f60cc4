// The audit trail: one event per security-relevant or changing action (REST, GraphQL and the
// repository port), with who/when/where/what/outcome, no secrets, filters and paging, admin-only
// reads, and the retention purge.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AuditService } from "../../src/audit/service.js";
import { createLogger } from "../../src/log.js";
import type { SettingsService } from "../../src/settings/service.js";
import { ADMIN_PASSWORD, backends, expectError, startServer, userWithPermissions, type TestServer } from "../helpers/server.js";

interface Row {
  action: string;
  category: string;
  outcome: string;
  errorCode: string | null;
  userName: string | null;
  sourceIp: string;
  target: string;
  details: any;
  at: Date;
}

const BOB_PASS = "bob-secret-pass-1";
const BOB_NEW_PASS = "bob-secret-pass-2";
const WRONG_PASS = "wrong-secret-pass-3";
// The reader's password is also the proxy remote's credential: both must stay out of the trail.
const READER_PASS = "reader-secret-pass-4";
const PROVIDER_SECRET = "provider-client-secret-5";
const REPO_WRONG_PASS = "repo-wrong-pass-6";

for (const backend of backends()) {
  describe(`audit trail [${backend}]`, () => {
    let s: TestServer;
    let admin: string;
    let reader: string;
    const secrets: string[] = [ADMIN_PASSWORD, BOB_PASS, BOB_NEW_PASS, WRONG_PASS, READER_PASS, PROVIDER_SECRET, REPO_WRONG_PASS];
    const storageDir = mkdtempSync(path.join(os.tmpdir(), "pantera-audit-storage-"));
    const start = new Date();

    const rows = async (where: Record<string, unknown> = {}): Promise<Row[]> =>
      (await s.services.db.prisma.auditEvent.findMany({ where, orderBy: { id: "asc" } })) as unknown as Row[];
    /** The one event of `action` on `target` (the newest when repeated). */
    const event = async (action: string, target?: string): Promise<Row> => {
      const found = await rows({ action, ...(target !== undefined ? { target } : {}) });
      assert.ok(found.length > 0, `an audit event for ${action} ${target ?? ""}: ${JSON.stringify((await rows()).map((r) => `${r.action} ${r.target}`))}`);
      return found[found.length - 1];
    };
    const expectEvent = async (action: string, target: string, want: Partial<Row>) => {
      const e = await event(action, target);
      for (const [k, v] of Object.entries(want)) assert.deepEqual((e as any)[k], v, `${action} ${target}: ${k}`);
      assert.equal(e.sourceIp, "127.0.0.1", `${action} ${target}: client address`);
      assert.ok(e.at >= new Date(start.getTime() - 1000) && e.at <= new Date(Date.now() + 1000), `${action}: when`);
      return e;
    };

    before(async () => {
      s = await startServer({ backend });
      admin = s.adminToken;
      secrets.push(admin);
      // The file sink, so that the test can read every line this node writes.
      const res = await s.api("PUT", "/settings/audit", { token: admin, body: { log: "file" } });
      assert.equal(res.status, 200, res.text);
      reader = await userWithPermissions(s, "reader", { "*": ["read"] }, READER_PASS);
      secrets.push(reader);
    });
    after(async () => {
      await s.close();
      rmSync(storageDir, { recursive: true, force: true });
    });

    it("logins: REST and GraphQL success, a failure with the attempted name, SSO callback", async () => {
      const ok = await s.api("POST", "/auth/token", { body: { name: "admin", pass: ADMIN_PASSWORD } });
      assert.equal(ok.status, 200);
      secrets.push(ok.body.token, ok.body.refresh_token);
      const bad = await s.api("POST", "/auth/token", { body: { name: "mallory", pass: WRONG_PASS } });
      assert.equal(bad.status, 401);
      const gql = await s.graphql(`mutation($n: String!, $p: String!) { login(name: $n, pass: $p) { token refreshToken } }`, { n: "admin", p: ADMIN_PASSWORD });
      assert.equal(gql.status, 200);
      secrets.push(gql.body.data.login.token, gql.body.data.login.refreshToken);
      const sso = await s.api("POST", "/auth/callback", { body: { provider: "okta", code: "sso-code-value", callback_url: "http://localhost/cb" } });
      assert.ok(sso.status >= 400 && sso.status < 500, sso.text);

      const logins = await rows({ action: "login" });
      const successes = logins.filter((r) => r.outcome === "success" && r.userName === "admin");
      assert.ok(successes.length >= 3, "bootstrap login, REST login and GraphQL login");
      await expectEvent("login", "mallory", { outcome: "failure", errorCode: "UNAUTHORIZED", userName: "mallory", category: "authentication" });
      const e = await expectEvent("ssoCallback", "okta", { outcome: "failure", category: "authentication" });
      assert.ok(e.errorCode, "a failure carries its error code");
    });

    it("SSO provisioning hook: provisionUser with the login request's address", async () => {
      // The SSO login code calls this right after creating a user just in time, inside the ssoCallback
      // (or login) mutation, whose wrapper supplies the address; here the request is simulated.
      await s.services.audit.requests.run({ ip: "::ffff:10.1.2.3", user: null }, () => s.services.audit.userProvisioned("sso-jit", "okta"));
      const e = await event("provisionUser", "sso-jit");
      assert.equal(e.userName, "sso-jit");
      assert.equal(e.sourceIp, "10.1.2.3");
      assert.equal(e.category, "iam");
      assert.deepEqual(e.details, { provider: "okta" });
    });

    it("API tokens: create and revoke", async () => {
      const gen = await s.api("POST", "/auth/token/generate", { token: admin, body: { label: "ci", expiry_days: 7 } });
      assert.equal(gen.status, 200, gen.text);
      secrets.push(gen.body.token);
      const created = await expectEvent("generateApiToken", "ci", { outcome: "success", userName: "admin", errorCode: null });
      assert.equal(created.details.tokenId, gen.body.id);
      assert.equal(created.details.expiryDays, 7);
      assert.equal((await s.api("DELETE", `/auth/tokens/${gen.body.id}`, { token: admin })).status, 204);
      await expectEvent("revokeApiToken", gen.body.id, { outcome: "success", userName: "admin" });
      const revokeUser = await s.api("POST", "/admin/revoke-user/reader", { token: admin });
      assert.equal(revokeUser.status, 200);
      await expectEvent("revokeUser", "reader", { outcome: "success", userName: "admin" });
      reader = await s.login("reader", READER_PASS);
      secrets.push(reader);
    });

    it("users and roles", async () => {
      assert.equal((await s.api("PUT", "/roles/devs", { token: admin, body: { permissions: { files: ["read", "write"] } } })).status, 201);
      await expectEvent("putRole", "devs", { outcome: "success", userName: "admin", category: "iam" });
      assert.equal((await s.api("PUT", "/users/bob", { token: admin, body: { pass: BOB_PASS, email: "bob@example.com", roles: ["devs"] } })).status, 201);
      const put = await expectEvent("putUser", "bob", { outcome: "success", userName: "admin", category: "iam" });
      assert.deepEqual(put.details.roles, ["devs"]);
      assert.equal(put.details.email, "bob@example.com");
      const pw = await s.api("POST", "/users/bob/password", { token: admin, body: { old_pass: BOB_PASS, new_pass: BOB_NEW_PASS } });
      assert.ok(pw.status < 300, pw.text);
      await expectEvent("changePassword", "bob", { outcome: "success", userName: "admin" });
      assert.equal((await s.api("POST", "/users/bob/disable", { token: admin })).status, 200);
      await expectEvent("setUserEnabled", "bob", { outcome: "success", details: { enabled: false } });
      assert.equal((await s.api("POST", "/roles/devs/disable", { token: admin })).status, 200);
      await expectEvent("setRoleEnabled", "devs", { outcome: "success", details: { enabled: false } });
      assert.equal((await s.api("DELETE", "/users/bob", { token: admin })).status, 200);
      await expectEvent("deleteUser", "bob", { outcome: "success" });
      assert.equal((await s.api("DELETE", "/roles/devs", { token: admin })).status, 200);
      await expectEvent("deleteRole", "devs", { outcome: "success" });
    });

    it("repositories, storage aliases, settings and auth providers", async () => {
      let res = await s.api("PUT", "/storages/audit-fs", { token: admin, body: { type: "fs", path: storageDir } });
      assert.ok(res.status < 300, res.text);
      await expectEvent("putStorageAlias", "audit-fs", { outcome: "success", category: "configuration", details: { type: "fs" } });
      res = await s.api("PUT", "/repositories/files", { token: admin, body: { repo: { type: "file", storage: "default" } } });
      assert.ok(res.status < 300, res.text);
      await expectEvent("putRepository", "files", { outcome: "success", userName: "admin" });
      // A proxy whose remote carries credentials: only the type and storage are kept.
      res = await s.api("PUT", "/repositories/fproxy", {
        token: admin,
        body: { repo: { type: "file-proxy", storage: "default", remotes: [{ url: `${s.repoUrl}/files`, username: "reader", password: READER_PASS }] } },
      });
      assert.ok(res.status < 300, res.text);
      const proxy = await expectEvent("putRepository", "fproxy", { outcome: "success" });
      assert.deepEqual(Object.keys(proxy.details).sort(), ["created", "storage", "type"]);
      res = await s.api("PUT", "/repositories/scratch", { token: admin, body: { repo: { type: "file", storage: "audit-fs" } } });
      assert.ok(res.status < 300, res.text);
      assert.equal((await s.api("DELETE", "/repositories/scratch", { token: admin })).status, 200);
      await expectEvent("deleteRepository", "scratch", { outcome: "success" });
      assert.equal((await s.api("DELETE", "/storages/audit-fs", { token: admin })).status, 200);
      await expectEvent("deleteStorageAlias", "audit-fs", { outcome: "success" });

      res = await s.api("PUT", "/settings/http_client", { token: admin, body: { proxy_timeout: 45000 } });
      assert.equal(res.status, 200);
      await expectEvent("updateSettingsSection", "http_client", { outcome: "success", details: { values: { proxy_timeout: 45000 } } });
      res = await s.api("PUT", "/admin/auth-settings", { token: admin, body: { api_token_max_expiry_days: 60 } });
      assert.equal(res.status, 200);
      await expectEvent("updateAuthSettings", "jwt", { outcome: "success" });

      const providers = (await s.api("GET", "/settings", { token: admin })).body.credentials as { id: number; type: string }[];
      const local = providers.find((p) => p.type === "local")!;
      res = await s.api("PUT", `/auth-providers/${local.id}/toggle`, { token: admin, body: { enabled: true } });
      assert.equal(res.status, 200, res.text);
      await expectEvent("toggleAuthProvider", `auth-provider/${local.id}`, { outcome: "success", details: { id: local.id, enabled: true } });
      // Valid or not for this provider, the attempt is recorded, with the keys and never the secret.
      await s.api("PUT", `/auth-providers/${local.id}/config`, { token: admin, body: { "client-secret": PROVIDER_SECRET, issuer: "https://idp.example" } });
      const cfg = await event("updateAuthProviderConfig", `auth-provider/${local.id}`);
      assert.deepEqual(cfg.details.keys, ["client-secret", "issuer"]);
    });

    it("repository port: uploads and deletes by users; proxy cache fills are not uploads", async () => {
      let res = await s.repo("PUT", "/files/dir/a.txt", { basic: ["admin", ADMIN_PASSWORD], raw: "hello audit" });
      assert.equal(res.status, 201, res.text);
      const up = await expectEvent("uploadArtifact", "files/dir/a.txt", { outcome: "success", userName: "admin", category: "file", errorCode: null });
      assert.equal(up.details.urlPath, "/files/dir/a.txt");

      // Through the proxy: the cached copy is indexed, and no upload is recorded for it.
      res = await s.repo("GET", "/fproxy/dir/a.txt", { basic: ["admin", ADMIN_PASSWORD] });
      assert.equal(res.status, 200);
      assert.ok(await s.services.artifacts.find("fproxy", "dir/a.txt"), "the cache fill is in the index");
      assert.equal((await rows({ action: "uploadArtifact", target: { startsWith: "fproxy/" } })).length, 0);

      res = await s.repo("DELETE", "/files/dir/a.txt", { basic: ["admin", ADMIN_PASSWORD] });
      assert.equal(res.status, 204);
      await expectEvent("deleteArtifact", "files/dir/a.txt", { outcome: "success", userName: "admin" });

      res = await s.repo("PUT", "/files/dir/b.txt", { basic: ["intruder", REPO_WRONG_PASS], raw: "nope" });
      assert.equal(res.status, 401);
      await expectEvent("uploadArtifact", "files/dir/b.txt", { outcome: "failure", errorCode: "UNAUTHORIZED", userName: "intruder" });
      res = await s.repo("PUT", "/files/dir/b.txt", { token: reader, raw: "nope" });
      assert.equal(res.status, 403);
      await expectEvent("uploadArtifact", "files/dir/b.txt", { outcome: "failure", errorCode: "FORBIDDEN", userName: "reader" });
      // The usual challenge round (no credentials yet) is not an event.
      const before = (await rows()).length;
      assert.equal((await s.repo("PUT", "/files/dir/c.txt", { raw: "x" })).status, 401);
      assert.equal((await rows()).length, before);
    });

    it("repository port: an import is an upload by the caller, the owner it names kept beside", async () => {
      const res = await s.repo("PUT", "/.import/files/imported/x.txt", {
        basic: ["admin", ADMIN_PASSWORD],
        raw: "imported",
        headers: { "X-Pantera-Repo-Type": "file", "X-Pantera-Idempotency-Key": "audit-1", "X-Pantera-Artifact-Owner": "legacy-user" },
      });
      assert.ok(res.status === 200 || res.status === 201, res.text);
      const e = await expectEvent("uploadArtifact", "files/imported/x.txt", { outcome: "success", userName: "admin" });
      assert.equal(e.details.owner, "legacy-user");
    });

    it("repository port: Indy store API writes are repository changes", async () => {
      let res = await s.repo("POST", "/api/admin/hosted", {
        basic: ["admin", ADMIN_PASSWORD],
        body: { key: "hosted:indy-local", type: "hosted", name: "indy-local" },
      });
      assert.equal(res.status, 201, res.text);
      await expectEvent("putRepository", "indy-local", {
        outcome: "success",
        userName: "admin",
        details: { via: "indy", method: "POST", urlPath: "/api/admin/hosted" },
      });
      res = await s.repo("DELETE", "/api/admin/hosted/indy-local", { basic: ["admin", ADMIN_PASSWORD] });
      assert.equal(res.status, 204, res.text);
      await expectEvent("deleteRepository", "indy-local", { outcome: "success", userName: "admin" });
      res = await s.repo("PUT", "/api/admin/hosted/indy-other", { token: reader, body: { key: "hosted:indy-other", type: "hosted", name: "indy-other" } });
      assert.equal(res.status, 403, res.text);
      await expectEvent("putRepository", "indy-other", { outcome: "failure", errorCode: "FORBIDDEN", userName: "reader" });
    });

    it("management deletes and cooldown unblock", async () => {
      assert.equal((await s.repo("PUT", "/files/pkg/c.txt", { basic: ["admin", ADMIN_PASSWORD], raw: "c" })).status, 201);
      let res = await s.api("DELETE", "/repositories/files/artifacts", { token: admin, body: { path: "pkg/c.txt" } });
      assert.equal(res.status, 204, res.text);
      const del = await rows({ action: "deleteArtifact", target: "files/pkg/c.txt" });
      assert.equal(del.length, 1, "one event for a management delete (not one more from the index removal)");
      assert.equal(del[0].outcome, "success");
      assert.equal(del[0].details.urlPath, undefined, "recorded by the management API, not the repository port");

      res = await s.api("POST", "/repositories/fproxy/cooldown/unblock", { token: admin, body: { artifact: "dir", version: "a.txt" } });
      assert.ok(res.status < 500, res.text);
      const unblock = await expectEvent("cooldownUnblock", "fproxy/dir@a.txt", { userName: "admin" });
      assert.deepEqual(unblock.details, { repository: "fproxy", artifact: "dir", version: "a.txt" });
      if (res.status >= 400) assert.equal(unblock.outcome, "failure");
    });

    it("no password, token or secret is in the table or the audit log", async () => {
      const table = JSON.stringify(await rows(), (_k, v) => (typeof v === "bigint" ? String(v) : v));
      const file = path.join(s.config.dataDir, "audit.log");
      assert.ok(existsSync(file), "the file sink wrote <data>/audit.log");
      const log = readFileSync(file, "utf8");
      for (const secret of secrets) {
        assert.ok(!table.includes(secret), `secret ${secret.slice(0, 6)}... in the table`);
        assert.ok(!log.includes(secret), `secret ${secret.slice(0, 6)}... in the audit log`);
      }
      const lines = log
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      const failed = lines.find((l) => l.event.action === "login" && l.user?.name === "mallory");
      assert.ok(failed, "the failed login is a log line");
      assert.equal(failed.log.logger, "audit");
      assert.equal(failed.event.outcome, "failure");
      assert.deepEqual(failed.event.category, ["authentication"]);
      assert.equal(failed.error.code, "UNAUTHORIZED");
      assert.equal(failed.source.ip, "127.0.0.1");
      assert.ok(!Number.isNaN(Date.parse(failed["@timestamp"])));
      const upload = lines.find((l) => l.event.action === "uploadArtifact" && l.event.outcome === "success");
      assert.equal(upload.url.path, "/files/dir/a.txt");
      assert.equal(upload.pantera.audit.target, "files/dir/a.txt");
    });

    it("the default sink: each event's ECS document goes to the logger's audit stream", async () => {
      const documents: Record<string, any>[] = [];
      const log = { ...createLogger("silent"), audit: (d: Record<string, unknown>) => documents.push(d) };
      const settings = { get: async () => ({ retention_days: 90, log: "stdout" }) } as unknown as SettingsService;
      const audit = new AuditService(s.services.db, settings, log, s.config.dataDir);
      await audit.record({ action: "putRole", category: "iam", outcome: "success", user: "admin", ip: "127.0.0.1", target: "stdout-role" });
      assert.equal(documents.length, 1);
      assert.equal(documents[0].log.logger, "audit");
      assert.equal(documents[0].event.action, "putRole");
      assert.equal(documents[0].user.name, "admin");
      assert.equal(documents[0].pantera.audit.target, "stdout-role");
      await s.services.db.prisma.auditEvent.deleteMany({ where: { target: "stdout-role" } });
    });

    it("GraphQL auditEvents and GET /admin/audit-events: filters and paging", async () => {
      const q = `query($action: String, $user: String, $outcome: String, $from: DateTime, $to: DateTime, $target: String, $page: Int, $size: Int) {
        auditEvents(action: $action, user: $user, outcome: $outcome, from: $from, to: $to, target: $target, page: $page, size: $size) {
          items { id at action category outcome errorCode user sourceIp target details message } page size total hasMore } }`;
      let g = await s.graphql(q, { action: "login", outcome: "failure" }, admin);
      assert.equal(g.status, 200, g.text);
      let page = g.body.data.auditEvents;
      assert.ok(page.items.length >= 1);
      assert.ok(page.items.every((e: { action: string; outcome: string }) => e.action === "login" && e.outcome === "failure"));
      assert.equal(page.items[0].user, "mallory");
      assert.equal(page.items[0].sourceIp, "127.0.0.1");

      g = await s.graphql(q, { target: "files", user: "admin" }, admin);
      page = g.body.data.auditEvents;
      const targets = page.items.map((e: { target: string }) => e.target);
      assert.ok(targets.includes("files") && targets.includes("files/dir/a.txt"), JSON.stringify(targets));
      assert.ok(
        targets.every((t: string) => t === "files" || t.startsWith("files/")),
        "not 'fproxy' or others",
      );

      const all = (await s.graphql(q, { size: 100 }, admin)).body.data.auditEvents;
      const times = all.items.map((e: { at: string }) => Date.parse(e.at));
      assert.deepEqual(
        times,
        [...times].sort((a, b) => b - a),
        "newest first",
      );

      // REST: same filters, snake_case items, the documented page envelope.
      const res = await s.api("GET", "/admin/audit-events?action=putUser&user=admin&target=bob", { token: admin });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.total, 1);
      assert.deepEqual(Object.keys(res.body).sort(), ["hasMore", "items", "page", "size", "total"]);
      const item = res.body.items[0];
      assert.equal(item.action, "putUser");
      assert.equal(item.target, "bob");
      assert.equal(item.user, "admin");
      assert.equal(item.outcome, "success");
      assert.equal(item.error_code, null);
      assert.equal(item.source_ip, "127.0.0.1");
      assert.ok(!Number.isNaN(Date.parse(item.timestamp)));

      const total = (await s.api("GET", "/admin/audit-events", { token: admin })).body.total as number;
      assert.ok(total > 4);
      const p0 = (await s.api("GET", "/admin/audit-events?page=0&size=2", { token: admin })).body;
      const p1 = (await s.api("GET", "/admin/audit-events?page=1&size=2", { token: admin })).body;
      assert.equal(p0.items.length, 2);
      assert.equal(p0.hasMore, true);
      assert.equal(p0.total, total);
      assert.notEqual(p0.items[0].id, p1.items[0].id);
      const past = (await s.api("GET", `/admin/audit-events?page=${total}&size=1`, { token: admin })).body;
      assert.deepEqual(past.items, []);
      assert.equal(past.hasMore, false);

      // Time range: everything so far is before `mark`, nothing after it.
      const mark = new Date(Date.now() + 1000).toISOString();
      assert.equal((await s.api("GET", `/admin/audit-events?to=${mark}`, { token: admin })).body.total, total, "reads are not events");
      assert.equal((await s.api("GET", `/admin/audit-events?from=${mark}`, { token: admin })).body.total, 0);
      const failures = (await s.api("GET", "/admin/audit-events?outcome=failure&size=100", { token: admin })).body;
      assert.ok(failures.items.every((e: { outcome: string; error_code: string }) => e.outcome === "failure" && e.error_code));

      expectError(await s.api("GET", "/admin/audit-events?outcome=maybe", { token: admin }), 400, "BAD_REQUEST");
      expectError(await s.api("GET", "/admin/audit-events?from=yesterday", { token: admin }), 400, "BAD_REQUEST");
      expectError(await s.api("GET", "/admin/audit-events?size=0", { token: admin }), 400, "BAD_REQUEST");
      expectError(await s.api("GET", `/admin/audit-events?from=${mark}&to=${start.toISOString()}`, { token: admin }), 400, "BAD_REQUEST");
    });

    it("only admins read the trail", async () => {
      expectError(await s.api("GET", "/admin/audit-events", { token: reader }), 403, "FORBIDDEN");
      expectError(await s.api("GET", "/admin/audit-events"), 401, "UNAUTHORIZED");
      const g = await s.graphql(`{ auditEvents { total } }`, undefined, reader);
      assert.equal(g.body.errors?.[0]?.extensions?.code, "FORBIDDEN");
    });

    it("what a caller sent cannot keep its event out of the table (NUL, huge values)", async () => {
      await s.services.audit.record({
        action: "putRole",
        category: "iam",
        outcome: "failure",
        errorCode: "BAD_REQUEST",
        user: "ad\0min",
        target: "nul\0role",
        details: { note: "x\0y", big: "z".repeat(5000) },
      });
      const e = await event("putRole", "nulrole");
      assert.equal(e.userName, "admin");
      assert.equal(e.details.note, "xy");
      assert.ok(e.details.big.length < 1100, "long values are cut");
      await s.services.db.prisma.auditEvent.deleteMany({ where: { target: "nulrole" } });
    });

    it("an audit write failure never fails the action", async () => {
      const audit = s.services.audit as unknown as { db: typeof s.services.db };
      const real = audit.db;
      audit.db = { ...real, sql: { ...real.sql, query: () => Promise.reject(new Error("audit table unavailable")) } };
      try {
        const res = await s.api("PUT", "/roles/while-down", { token: admin, body: { permissions: {} } });
        assert.equal(res.status, 201, res.text);
        const up = await s.repo("PUT", "/files/down.txt", { basic: ["admin", ADMIN_PASSWORD], raw: "d" });
        assert.equal(up.status, 201, up.text);
      } finally {
        audit.db = real;
      }
      assert.ok(await s.services.db.prisma.role.findUnique({ where: { name: "while-down" } }));
    });

    it("retention: audit.retention_days purges older events, 0 keeps them", async () => {
      const day = 86_400_000;
      const old = await s.services.db.prisma.auditEvent.create({
        data: { at: new Date(Date.now() - 40 * day), action: "old", category: "iam", outcome: "success" },
      });
      const recent = await s.services.db.prisma.auditEvent.create({
        data: { at: new Date(Date.now() - 10 * day), action: "recent", category: "iam", outcome: "success" },
      });
      assert.equal((await s.api("PUT", "/settings/audit", { token: admin, body: { retention_days: 0 } })).status, 200);
      assert.equal(await s.services.audit.purge(), 0);
      assert.equal((await s.api("PUT", "/settings/audit", { token: admin, body: { retention_days: 30 } })).status, 200);
      assert.equal((await s.api("GET", "/settings", { token: admin })).body.audit.retention_days, 30);
      assert.equal(await s.services.audit.purge(), 1);
      assert.equal(await s.services.db.prisma.auditEvent.findUnique({ where: { id: old.id } }), null);
      assert.ok(await s.services.db.prisma.auditEvent.findUnique({ where: { id: recent.id } }));
      expectError(await s.api("PUT", "/settings/audit", { token: admin, body: { retention_days: 1.5 } }), 400, "BAD_REQUEST");
      expectError(await s.api("PUT", "/settings/audit", { token: admin, body: { log: "syslog" } }), 400, "BAD_REQUEST");
    });
  });
}

describe("audit documents on stdout", () => {
  it("createLogger writes them to stdout as JSON lines, apart from the diagnostics on stderr; silent writes none", () => {
    const script = `import { createLogger } from "./src/log.ts";
      createLogger("info").audit?.({ log: { logger: "audit" }, message: "one" });
      createLogger("silent").audit?.({ log: { logger: "audit" }, message: "two" });`;
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    assert.deepEqual(
      out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
      [{ log: { logger: "audit" }, message: "one" }],
    );
  });
});
