// Indy store API (seed 002) on the repository port: stores are repositories.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, backends, expectError, startServer, userWithPermissions, type TestServer } from "../helpers/server.js";

for (const backend of backends()) {
  describe(`indy store API [${backend}]`, () => {
    let s: TestServer;
    let admin: string;
    const basic: [string, string] = ["admin", ADMIN_PASSWORD];
    before(async () => {
      s = await startServer({ backend });
      admin = s.adminToken;
    });
    after(() => s.close());

    it("round trip: hosted + remote + group through Indy, read through /api/v1, deploy to hosted, read through the group", async () => {
      let res = await s.repo("POST", "/api/admin/hosted", {
        basic,
        body: { key: "hosted:local-deployments", type: "hosted", name: "local-deployments", allow_snapshots: true, allow_releases: true },
      });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.headers.get("location"), `${s.repoUrl}/api/admin/hosted/local-deployments`);
      assert.deepEqual(res.body, {
        type: "hosted",
        key: "hosted:local-deployments",
        snapshotTimeoutSeconds: 86400,
        doctype: "hosted",
        name: "local-deployments",
        allow_snapshots: true,
        allow_releases: true,
      });

      res = await s.repo("POST", "/api/admin/remote", {
        basic,
        body: { key: "remote:central", url: "http://127.0.0.1:9/maven2/", timeout_seconds: 30, custom_field: "kept" },
      });
      assert.equal(res.status, 201, res.text);
      res = await s.repo("GET", "/api/admin/remote/central", { basic });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, {
        type: "remote",
        key: "remote:central",
        host: "127.0.0.1",
        port: 9,
        doctype: "remote",
        name: "central",
        url: "http://127.0.0.1:9/maven2/",
        timeout_seconds: 30,
        nfc_timeout_seconds: 0,
        is_passthrough: false,
        cache_timeout_seconds: 0,
        proxy_port: 0,
        custom_field: "kept",
      });

      res = await s.repo("POST", "/api/admin/group", { basic, body: { key: "group:public", constituents: ["hosted:local-deployments", "remote:central"] } });
      assert.equal(res.status, 201, res.text);
      res = await s.repo("GET", "/api/admin/group/public", { basic });
      assert.deepEqual(res.body, {
        type: "group",
        key: "group:public",
        constituents: ["hosted:local-deployments", "remote:central"],
        doctype: "group",
        name: "public",
      });

      // The same stores are repositories.
      res = await s.api("GET", "/repositories/public", { token: admin });
      assert.equal(res.body.repo.type, "maven-group");
      assert.deepEqual(res.body.repo.members, ["local-deployments", "central"]);
      res = await s.api("GET", "/repositories/central", { token: admin });
      assert.equal(res.body.repo.type, "maven-proxy");
      assert.deepEqual(res.body.repo.remotes, [{ url: "http://127.0.0.1:9/maven2/" }]);
      assert.equal(res.body.repo.indy.timeout_seconds, 30, "Indy-only fields are kept in the repository config");
      res = await s.api("GET", "/repositories?type=maven", { token: admin });
      assert.deepEqual(
        res.body.items.map((i: { name: string }) => i.name),
        ["central", "local-deployments", "public"],
      );

      // Deploy to the hosted store, read through the group (maven format module on port 8080).
      const jar = "PK fake jar bytes";
      const path = "/com/example/demo/1.0/demo-1.0.jar";
      res = await s.repo("PUT", `/local-deployments${path}`, { basic, raw: jar, headers: { "content-type": "application/java-archive" } });
      assert.ok(res.status === 200 || res.status === 201, `deploy: ${res.status} ${res.text}`);
      res = await s.repo("GET", `/public${path}`, { basic });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.text, jar);

      // Modify: drop the remote from the group (200).
      res = await s.repo("PUT", "/api/admin/group/public", { basic, body: { key: "group:public", constituents: ["hosted:local-deployments"] } });
      assert.equal(res.status, 200);
      assert.deepEqual((await s.api("GET", "/repositories/public", { token: admin })).body.repo.members, ["local-deployments"]);
    });

    it("HEAD, listing by type, and DELETE 204 whether or not the store existed; delete removes it from groups", async () => {
      assert.equal((await s.repo("HEAD", "/api/admin/group/public", { basic })).status, 200);
      const missing = await s.repo("HEAD", "/api/admin/group/foo", { basic });
      assert.equal(missing.status, 404);
      assert.equal(missing.text, "");
      assert.equal((await s.repo("HEAD", "/api/admin/hosted/public", { basic })).status, 404, "a group is not a hosted store");

      assert.equal((await s.repo("POST", "/api/admin/group", { basic, body: { name: "foo" } })).status, 201);
      let res = await s.repo("GET", "/api/admin/group", { basic });
      assert.deepEqual(res.body, {
        items: [
          { type: "group", key: "group:foo", doctype: "group", name: "foo" },
          { type: "group", key: "group:public", constituents: ["hosted:local-deployments"], doctype: "group", name: "public" },
        ],
      });
      res = await s.repo("GET", "/api/admin/hosted", { basic });
      assert.deepEqual(
        res.body.items.map((i: { key: string }) => i.key),
        ["hosted:local-deployments"],
      );

      res = await s.repo("DELETE", "/api/admin/group/foo", { basic });
      assert.equal(res.status, 204);
      res = await s.repo("DELETE", "/api/admin/group/foo", { basic });
      assert.equal(res.status, 204);
      assert.equal((await s.repo("HEAD", "/api/admin/group/foo", { basic })).status, 404);

      // A store used by a group: Indy delete takes it out of the group first.
      res = await s.repo("DELETE", "/api/admin/hosted/local-deployments", { basic });
      assert.equal(res.status, 204);
      assert.deepEqual((await s.repo("GET", "/api/admin/group/public", { basic })).body, {
        type: "group",
        key: "group:public",
        doctype: "group",
        name: "public",
      });
      expectError(await s.api("GET", "/repositories/local-deployments", { token: admin }), 404, "NOT_FOUND");
    });

    it("supports /api/admin/stores/{maven|npm}/{type} with three-part keys; REST-created repositories appear as stores", async () => {
      assert.equal((await s.api("PUT", "/repositories/npm-hosted", { token: admin, body: { repo: { type: "npm", storage: "default" } } })).status, 200);
      let res = await s.repo("GET", "/api/admin/stores/npm/hosted/npm-hosted", { basic });
      assert.equal(res.status, 200);
      assert.equal(res.body.key, "npm:hosted:npm-hosted");
      assert.equal(res.body.packageType, "npm");
      res = await s.repo("POST", "/api/admin/stores/npm/group", { basic, body: { key: "npm:group:npm-all", constituents: ["npm:hosted:npm-hosted"] } });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.headers.get("location"), `${s.repoUrl}/api/admin/stores/npm/group/npm-all`);
      assert.deepEqual(res.body.constituents, ["npm:hosted:npm-hosted"]);
      assert.equal((await s.api("GET", "/repositories/npm-all", { token: admin })).body.repo.type, "npm-group");
      res = await s.repo("GET", "/api/admin/stores/maven/group", { basic });
      assert.deepEqual(
        res.body.items.map((i: { key: string }) => i.key),
        ["maven:group:public"],
      );
      assert.equal((await s.repo("GET", "/api/admin/stores/maven/hosted/npm-hosted", { basic })).status, 404);
      assert.equal((await s.repo("GET", "/api/admin/stores/cobol/hosted", { basic })).status, 404);
    });

    it("rejects bad store definitions with 400 and duplicates with 409", async () => {
      const bad: [string, unknown][] = [
        ["/api/admin/remote", { name: "r1" }],
        ["/api/admin/remote", { name: "r1", url: "not a url" }],
        ["/api/admin/group", { name: "g1", constituents: ["hosted:nope"] }],
        ["/api/admin/group", { name: "g1", constituents: ["bogus"] }],
        ["/api/admin/group", { name: "g1", constituents: "hosted:x" }],
        ["/api/admin/hosted", { key: "remote:x" }],
        ["/api/admin/hosted", { key: "hosted:x", name: "y" }],
        ["/api/admin/hosted", { name: "api" }],
        ["/api/admin/hosted", { name: "h1", allow_snapshots: "yes" }],
        ["/api/admin/hosted", {}],
        ["/api/admin/hosted", [1]],
      ];
      for (const [p, body] of bad) expectError(await s.repo("POST", p, { basic, body }), 400, "BAD_REQUEST");
      expectError(await s.repo("POST", "/api/admin/hosted", { basic, raw: "{oops", headers: { "content-type": "application/json" } }), 400, "BAD_REQUEST");
      expectError(await s.repo("POST", "/api/admin/group", { basic, body: { name: "public" } }), 409, "CONFLICT");
      expectError(await s.repo("PUT", "/api/admin/hosted/public", { basic, body: { name: "public" } }), 409, "CONFLICT");
      expectError(await s.repo("GET", "/api/admin/bogus/x", { basic }), 404, "NOT_FOUND");
    });

    it("is authenticated like port 8080 and needs the repository permissions", async () => {
      const res = await s.repo("GET", "/api/admin/group");
      expectError(res, 401, "UNAUTHORIZED");
      assert.match(res.headers.get("www-authenticate") ?? "", /Basic/);
      expectError(await s.repo("GET", "/api/admin/group", { basic: ["admin", "wrong"] }), 401, "UNAUTHORIZED");
      await userWithPermissions(s, "indy-reader", { api_repository_permissions: ["read"], "*": ["read"] }, "pw-reader");
      const reader: [string, string] = ["indy-reader", "pw-reader"];
      assert.equal((await s.repo("GET", "/api/admin/group", { basic: reader })).status, 200);
      assert.equal(
        (await s.repo("GET", "/api/admin/group/public", { headers: { authorization: `Bearer ${await s.login("indy-reader", "pw-reader")}` } })).status,
        200,
      );
      expectError(await s.repo("POST", "/api/admin/hosted", { basic: reader, body: { name: "nope" } }), 403, "FORBIDDEN");
      expectError(await s.repo("PUT", "/api/admin/group/public", { basic: reader, body: { constituents: [] } }), 403, "FORBIDDEN");
      expectError(await s.repo("DELETE", "/api/admin/group/public", { basic: reader }), 403, "FORBIDDEN");
      const other = await userWithPermissions(s, "indy-none", { api_user_permissions: ["read"] }, "pw-none");
      assert.ok(other);
      expectError(await s.repo("GET", "/api/admin/group", { basic: ["indy-none", "pw-none"] }), 403, "FORBIDDEN");
    });
  });
}
