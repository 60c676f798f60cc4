// Sections 5, 6, 18: users and roles, pagination, sorting, permissions, bad input.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { backends, expectError, startServer, userWithPermissions, type TestServer } from "../helpers/server.js";

for (const backend of backends()) {
  describe(`users and roles [${backend}]`, () => {
    let s: TestServer;
    let reader: string;
    let nobody: string;
    before(async () => {
      s = await startServer({ backend });
      reader = await userWithPermissions(s, "reader", { api_user_permissions: ["read"], api_role_permissions: ["read"] });
      nobody = await userWithPermissions(s, "nobody", {});
    });
    after(() => s.close());

    describe("users", () => {
      it("PUT creates (201, empty body) with roles; GET returns the documented shape", async () => {
        const put = await s.api("PUT", "/users/alice", {
          token: s.adminToken,
          body: { type: "plain", pass: "securePassword123", email: "alice@example.com", roles: ["reader-role"] },
        });
        assert.equal(put.status, 201);
        assert.equal(put.text, "");
        const get = await s.api("GET", "/users/alice", { token: s.adminToken });
        assert.equal(get.status, 200);
        assert.deepEqual(get.body, { name: "alice", type: "plain", email: "alice@example.com", roles: ["reader-role"], enabled: true });
        assert.ok(await s.login("alice", "securePassword123"));
      });

      it("accepts 'password' as an alias of 'pass'; updating keeps fields not sent", async () => {
        assert.equal((await s.api("PUT", "/users/bob", { token: s.adminToken, body: { password: "pw-b", email: "bob@example.com" } })).status, 201);
        assert.ok(await s.login("bob", "pw-b"));
        assert.equal((await s.api("PUT", "/users/bob", { token: s.adminToken, body: { roles: ["reader-role"] } })).status, 201);
        const get = await s.api("GET", "/users/bob", { token: s.adminToken });
        assert.equal(get.body.email, "bob@example.com");
        assert.deepEqual(get.body.roles, ["reader-role"]);
        assert.ok(await s.login("bob", "pw-b"));
      });

      it("lists with pagination, q on name and email, and sorting", async () => {
        for (const n of ["u1", "u2", "u3"]) await s.api("PUT", `/users/${n}`, { token: s.adminToken, body: { pass: "x", email: `${n}@corp.io` } });
        const page = await s.api("GET", "/users?page=0&size=2", { token: reader });
        assert.equal(page.status, 200);
        assert.deepEqual(Object.keys(page.body).sort(), ["hasMore", "items", "page", "size", "total"]);
        assert.equal(page.body.items.length, 2);
        assert.equal(page.body.size, 2);
        assert.equal(page.body.hasMore, true);
        const total = page.body.total;
        const last = await s.api("GET", `/users?page=${Math.ceil(total / 2) - 1}&size=2`, { token: reader });
        assert.equal(last.body.hasMore, false);
        const beyond = await s.api("GET", "/users?page=99&size=2", { token: reader });
        assert.deepEqual(beyond.body.items, []);
        assert.equal(beyond.body.hasMore, false);
        assert.equal(beyond.body.total, total);

        const q = await s.api("GET", "/users?q=CORP.IO", { token: reader });
        assert.deepEqual(
          q.body.items.map((u: { name: string }) => u.name),
          ["u1", "u2", "u3"],
        );
        assert.deepEqual(q.body.items[0], { name: "u1", type: "plain", email: "u1@corp.io", enabled: true });
        const desc = await s.api("GET", "/users?q=corp&sort=email&sort_dir=desc", { token: reader });
        assert.deepEqual(
          desc.body.items.map((u: { name: string }) => u.name),
          ["u3", "u2", "u1"],
        );
        const capped = await s.api("GET", "/users?size=1000", { token: reader });
        assert.equal(capped.body.size, 100);
      });

      it("400 for bad list parameters", async () => {
        expectError(await s.api("GET", "/users?page=-1", { token: reader }), 400, "BAD_REQUEST");
        expectError(await s.api("GET", "/users?size=abc", { token: reader }), 400, "BAD_REQUEST");
        expectError(await s.api("GET", "/users?size=0", { token: reader }), 400, "BAD_REQUEST");
        expectError(await s.api("GET", "/users?sort=password", { token: reader }), 400, "BAD_REQUEST");
        expectError(await s.api("GET", "/users?sort_dir=up", { token: reader }), 400, "BAD_REQUEST");
      });

      it("400 for invalid bodies and names", async () => {
        expectError(await s.api("PUT", "/users/newbie", { token: s.adminToken, body: { email: "n@x.io" } }), 400, "BAD_REQUEST"); // no pass
        expectError(await s.api("PUT", "/users/newbie", { token: s.adminToken, body: { pass: 123 } }), 400, "BAD_REQUEST");
        expectError(await s.api("PUT", "/users/newbie", { token: s.adminToken, body: { pass: "x", roles: "reader" } }), 400, "BAD_REQUEST");
        expectError(await s.api("PUT", "/users/newbie", { token: s.adminToken, body: { pass: "x", roles: ["no-such-role"] } }), 400, "BAD_REQUEST");
        expectError(await s.api("PUT", "/users/newbie", { token: s.adminToken, body: { pass: "x", email: "not-an-email" } }), 400, "BAD_REQUEST");
        expectError(await s.api("PUT", "/users/newbie", { token: s.adminToken, raw: "{oops" }), 400, "BAD_REQUEST");
        expectError(await s.api("PUT", "/users/newbie", { token: s.adminToken, raw: "" }), 400, "BAD_REQUEST");
        expectError(await s.api("PUT", "/users/" + encodeURIComponent("bad name!"), { token: s.adminToken, body: { pass: "x" } }), 400, "BAD_REQUEST");
        expectError(await s.api("GET", "/users/newbie", { token: s.adminToken }), 404, "NOT_FOUND");
      });

      it("permission checks: read vs create/update/delete/enable", async () => {
        expectError(await s.api("GET", "/users", { token: nobody }), 403, "FORBIDDEN");
        expectError(await s.api("GET", "/users/admin", { token: nobody }), 403, "FORBIDDEN");
        expectError(await s.api("PUT", "/users/x1", { token: reader, body: { pass: "x" } }), 403, "FORBIDDEN");
        const creator = await userWithPermissions(s, "creator", { api_user_permissions: ["create"] });
        assert.equal((await s.api("PUT", "/users/x1", { token: creator, body: { pass: "x" } })).status, 201);
        expectError(await s.api("PUT", "/users/x1", { token: creator, body: { pass: "y" } }), 403, "FORBIDDEN"); // existing: update needed
        expectError(await s.api("DELETE", "/users/x1", { token: creator }), 403, "FORBIDDEN");
        expectError(await s.api("POST", "/users/x1/disable", { token: creator }), 403, "FORBIDDEN");
        expectError(await s.api("GET", "/users"), 401, "UNAUTHORIZED");
      });

      it("enable/disable: a disabled user's tokens stop working and it cannot log in; 404 for unknown", async () => {
        const token = await userWithPermissions(s, "flip", { api_user_permissions: ["read"] });
        assert.equal((await s.api("POST", "/users/flip/disable", { token: s.adminToken })).status, 200);
        expectError(await s.api("GET", "/users", { token }), 401, "UNAUTHORIZED");
        assert.equal((await s.api("GET", "/users/flip", { token: s.adminToken })).body.enabled, false);
        assert.equal((await s.api("POST", "/users/flip/enable", { token: s.adminToken })).status, 200);
        assert.equal((await s.api("GET", "/users", { token })).status, 200);
        expectError(await s.api("POST", "/users/ghost/enable", { token: s.adminToken }), 404, "NOT_FOUND");
        expectError(await s.api("POST", "/users/ghost/disable", { token: s.adminToken }), 404, "NOT_FOUND");
      });

      it("password change verifies the old password", async () => {
        await s.api("PUT", "/users/pwuser", { token: s.adminToken, body: { pass: "old-pass" } });
        const r401 = await s.api("POST", "/users/pwuser/password", { token: s.adminToken, body: { old_pass: "wrong", new_pass: "new-pass" } });
        expectError(r401, 401, "UNAUTHORIZED");
        assert.equal(r401.body.message, "Invalid old password");
        expectError(await s.api("POST", "/users/pwuser/password", { token: s.adminToken, body: { old_pass: "old-pass" } }), 400, "BAD_REQUEST");
        expectError(await s.api("POST", "/users/ghost/password", { token: s.adminToken, body: { old_pass: "a", new_pass: "b" } }), 404, "NOT_FOUND");
        const ok = await s.api("POST", "/users/pwuser/password", { token: s.adminToken, body: { old_pass: "old-pass", new_pass: "new-pass" } });
        assert.equal(ok.status, 200);
        assert.ok(await s.login("pwuser", "new-pass"));
        // Changing someone else's password needs change_password; one's own does not.
        const own = await s.login("pwuser", "new-pass");
        expectError(await s.api("POST", "/users/admin/password", { token: own, body: { old_pass: "x", new_pass: "y" } }), 403, "FORBIDDEN");
        assert.equal((await s.api("POST", "/users/pwuser/password", { token: own, body: { old_pass: "new-pass", new_pass: "newer" } })).status, 200);
      });

      it("DELETE removes the user and its tokens stop working; 404 for unknown", async () => {
        const token = await userWithPermissions(s, "gone", { api_user_permissions: ["read"] });
        assert.equal((await s.api("DELETE", "/users/gone", { token: s.adminToken })).status, 200);
        expectError(await s.api("GET", "/users/gone", { token: s.adminToken }), 404, "NOT_FOUND");
        expectError(await s.api("GET", "/users", { token }), 401, "UNAUTHORIZED");
        expectError(await s.api("DELETE", "/users/gone", { token: s.adminToken }), 404, "NOT_FOUND");
      });
    });

    describe("roles", () => {
      it("PUT creates (201) and GET returns permissions and enabled", async () => {
        const perms = { "maven-central": ["read", "download"], "npm-local": ["read", "download", "upload"] };
        const put = await s.api("PUT", "/roles/developer", { token: s.adminToken, body: { permissions: perms } });
        assert.equal(put.status, 201);
        assert.equal(put.text, "");
        const get = await s.api("GET", "/roles/developer", { token: reader });
        assert.deepEqual(get.body, { name: "developer", permissions: perms, enabled: true });
      });

      it("lists with q, sort and pagination", async () => {
        for (const n of ["dev-a", "dev-b", "ops"]) await s.api("PUT", `/roles/${n}`, { token: s.adminToken, body: { permissions: {} } });
        await s.api("POST", "/roles/dev-a/disable", { token: s.adminToken });
        const q = await s.api("GET", "/roles?q=DEV-&sort=name&sort_dir=desc", { token: reader });
        assert.equal(q.status, 200);
        assert.deepEqual(
          q.body.items.map((r: { name: string }) => r.name),
          ["dev-b", "dev-a"],
        );
        assert.deepEqual(q.body.items[1], { name: "dev-a", permissions: {}, enabled: false });
        const byEnabled = await s.api("GET", "/roles?q=dev-&sort=enabled&sort_dir=asc", { token: reader });
        assert.deepEqual(
          byEnabled.body.items.map((r: { name: string }) => r.name),
          ["dev-a", "dev-b"],
        );
        const page = await s.api("GET", "/roles?size=1&page=1", { token: reader });
        assert.equal(page.body.items.length, 1);
        assert.equal(page.body.page, 1);
        expectError(await s.api("GET", "/roles?sort=permissions", { token: reader }), 400, "BAD_REQUEST");
      });

      it("400 for invalid permissions", async () => {
        expectError(await s.api("PUT", "/roles/badrole", { token: s.adminToken, body: {} }), 400, "BAD_REQUEST");
        expectError(await s.api("PUT", "/roles/badrole", { token: s.adminToken, body: { permissions: ["read"] } }), 400, "BAD_REQUEST");
        expectError(await s.api("PUT", "/roles/badrole", { token: s.adminToken, body: { permissions: { repo: ["launch"] } } }), 400, "BAD_REQUEST");
        expectError(
          await s.api("PUT", "/roles/badrole", { token: s.adminToken, body: { permissions: { api_user_permissions: ["fly"] } } }),
          400,
          "BAD_REQUEST",
        );
        expectError(await s.api("PUT", "/roles/badrole", { token: s.adminToken, body: { permissions: {}, enabled: "yes" } }), 400, "BAD_REQUEST");
        expectError(await s.api("PUT", "/roles/badrole", { token: s.adminToken, raw: "nope" }), 400, "BAD_REQUEST");
        expectError(await s.api("GET", "/roles/badrole", { token: s.adminToken }), 404, "NOT_FOUND");
      });

      it("updating a role changes what its users may do at once", async () => {
        await s.api("PUT", "/roles/grow", { token: s.adminToken, body: { permissions: {} } });
        await s.api("PUT", "/users/grower", { token: s.adminToken, body: { pass: "pw", roles: ["grow"] } });
        const token = await s.login("grower", "pw");
        expectError(await s.api("GET", "/roles", { token }), 403, "FORBIDDEN");
        await s.api("PUT", "/roles/grow", { token: s.adminToken, body: { permissions: { api_role_permissions: ["read"] } } });
        assert.equal((await s.api("GET", "/roles", { token })).status, 200);
        await s.api("POST", "/roles/grow/disable", { token: s.adminToken });
        expectError(await s.api("GET", "/roles", { token }), 403, "FORBIDDEN");
        await s.api("POST", "/roles/grow/enable", { token: s.adminToken });
        assert.equal((await s.api("GET", "/roles", { token })).status, 200);
      });

      it("permission checks and 404s for enable/disable/delete", async () => {
        expectError(await s.api("GET", "/roles", { token: nobody }), 403, "FORBIDDEN");
        expectError(await s.api("PUT", "/roles/x", { token: reader, body: { permissions: {} } }), 403, "FORBIDDEN");
        expectError(await s.api("POST", "/roles/developer/disable", { token: reader }), 403, "FORBIDDEN");
        expectError(await s.api("DELETE", "/roles/developer", { token: reader }), 403, "FORBIDDEN");
        expectError(await s.api("POST", "/roles/ghost/enable", { token: s.adminToken }), 404, "NOT_FOUND");
        expectError(await s.api("DELETE", "/roles/ghost", { token: s.adminToken }), 404, "NOT_FOUND");
        expectError(await s.api("GET", "/roles"), 401, "UNAUTHORIZED");
      });

      it("DELETE removes the role from its users", async () => {
        await s.api("PUT", "/roles/temp", { token: s.adminToken, body: { permissions: {} } });
        await s.api("PUT", "/users/tempuser", { token: s.adminToken, body: { pass: "pw", roles: ["temp"] } });
        assert.equal((await s.api("DELETE", "/roles/temp", { token: s.adminToken })).status, 200);
        assert.deepEqual((await s.api("GET", "/users/tempuser", { token: s.adminToken })).body.roles, []);
      });
    });

    it("GraphQL and REST are one surface: a user created over GraphQL is visible over REST", async () => {
      const res = await s.graphql(`mutation { putUser(name: "gql-user", input: { pass: "pw", email: "g@x.io" }) { created } }`, {}, s.adminToken);
      assert.deepEqual(res.body.data, { putUser: { created: true } });
      const get = await s.api("GET", "/users/gql-user", { token: s.adminToken });
      assert.equal(get.body.email, "g@x.io");
      const list = await s.graphql(`{ users(q: "gql") { total items { name roles } } }`, {}, s.adminToken);
      assert.deepEqual(list.body.data.users, { total: 1, items: [{ name: "gql-user", roles: [] }] });
    });
  });
}
