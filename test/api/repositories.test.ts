// REST section 4 (repositories) and its GraphQL operations.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { text } from "node:stream/consumers";
import { backends, createPostgresDatabase, expectError, redisUrl, startServer, userWithPermissions, type TestServer } from "../helpers/server.js";

for (const backend of backends()) {
  describe(`repositories [${backend}]`, () => {
    let s: TestServer;
    let admin: string;
    before(async () => {
      s = await startServer({ backend });
      admin = s.adminToken;
    });
    after(() => s.close());

    const put = (name: string, repo: unknown, token = admin) => s.api("PUT", `/repositories/${name}`, { token, body: { repo } });

    it("creates, reads, updates, lists and checks repositories", async () => {
      let res = await put("maven-central", { type: "maven-proxy", storage: "default", remotes: [{ url: "https://repo1.maven.org/maven2" }] });
      assert.equal(res.status, 200);
      assert.equal(res.text, "");
      res = await put("npm-local", { type: "npm", storage: "default", custom_setting: { a: 1 } });
      assert.equal(res.status, 200);

      res = await s.api("GET", "/repositories/maven-central", { token: admin });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { repo: { type: "maven-proxy", storage: "default", remotes: [{ url: "https://repo1.maven.org/maven2" }] } });
      res = await s.api("GET", "/repositories/npm-local", { token: admin });
      assert.deepEqual(res.body.repo.custom_setting, { a: 1 }, "extra settings are kept");

      res = await s.api("GET", "/repositories", { token: admin });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, {
        items: [
          { name: "maven-central", type: "maven-proxy" },
          { name: "npm-local", type: "npm" },
        ],
        page: 0,
        size: 20,
        total: 2,
        hasMore: false,
      });
      res = await s.api("GET", "/repositories?type=maven&page=0&size=10", { token: admin });
      assert.deepEqual(res.body.items, [{ name: "maven-central", type: "maven-proxy" }]);
      assert.equal(res.body.size, 10);
      res = await s.api("GET", "/repositories?q=npm", { token: admin });
      assert.deepEqual(res.body.items, [{ name: "npm-local", type: "npm" }]);
      res = await s.api("GET", "/repositories?size=1&page=1", { token: admin });
      assert.deepEqual(res.body, { items: [{ name: "npm-local", type: "npm" }], page: 1, size: 1, total: 2, hasMore: false });
      res = await s.api("GET", "/repositories?size=1", { token: admin });
      assert.equal(res.body.hasMore, true);
      expectError(await s.api("GET", "/repositories?page=-1", { token: admin }), 400, "BAD_REQUEST");
      expectError(await s.api("GET", "/repositories?size=abc", { token: admin }), 400, "BAD_REQUEST");

      res = await s.api("HEAD", "/repositories/maven-central", { token: admin });
      assert.equal(res.status, 200);
      assert.equal(res.text, "");
      res = await s.api("HEAD", "/repositories/nonexistent", { token: admin });
      assert.equal(res.status, 404);
      assert.equal(res.text, "");

      // update: type change and remotes
      res = await put("maven-central", { type: "maven-proxy", storage: "default", remotes: [{ url: "https://example.org/m2", username: "u", password: "p" }] });
      assert.equal(res.status, 200);
      res = await s.api("GET", "/repositories/maven-central", { token: admin });
      assert.equal(res.body.repo.remotes[0].url, "https://example.org/m2");
      // the hot-path record follows at once (cache dropped by the change event)
      const rec = await s.services.repositories.find("maven-central");
      assert.equal(rec?.remotes[0].url, "https://example.org/m2");
      assert.equal(rec?.kind, "proxy");
      assert.equal(rec?.format, "maven");
    });

    it("GET of an unknown repository gives the documented 404", async () => {
      const res = await s.api("GET", "/repositories/nonexistent", { token: admin });
      assert.equal(res.status, 404);
      assert.deepEqual(res.body, { error: "NOT_FOUND", message: "Repository 'nonexistent' not found", status: 404 });
      expectError(await s.api("DELETE", "/repositories/nonexistent", { token: admin }), 404, "NOT_FOUND");
      const mv = await s.api("PUT", "/repositories/nonexistent/move", { token: admin, body: { new_name: "x" } });
      assert.deepEqual(mv.body, { error: "NOT_FOUND", message: "Repository 'nonexistent' not found", status: 404 });
    });

    it("accepts every type of the built formats and rejects unknown types and bad bodies with 400", async () => {
      // Types of formats FORMATS.md lists but this build does not serve are rejected: test/api/repository-types.test.ts.
      const formats = ["maven", "gradle", "npm", "pypi", "docker", "file"];
      for (const f of formats) {
        assert.equal((await put(`t-${f}`, { type: f, storage: "default" })).status, 200, f);
        assert.equal(
          (await put(`t-${f}-proxy`, { type: `${f}-proxy`, storage: "default", remotes: [{ url: "http://upstream.example/" + f }] })).status,
          200,
          f + "-proxy",
        );
        assert.equal((await put(`t-${f}-group`, { type: `${f}-group`, storage: "default", members: [`t-${f}`, `t-${f}-proxy`] })).status, 200, f + "-group");
      }
      const bad: [string, unknown, RegExp][] = [
        ["b1", { type: "cobol", storage: "default" }, /Unknown repository type 'cobol'/],
        ["b2", { storage: "default" }, /repo.type/],
        ["b3", { type: "maven" }, /repo.storage/],
        ["b4", { type: "maven", storage: "nowhere" }, /Storage alias 'nowhere' does not exist/],
        ["b5", { type: "maven-proxy", storage: "default" }, /remotes/],
        ["b6", { type: "maven-proxy", storage: "default", remotes: [] }, /at least one remote/],
        ["b7", { type: "maven-proxy", storage: "default", remotes: [{ url: "not a url" }] }, /not a valid URL/],
        ["b8", { type: "maven-proxy", storage: "default", remotes: [{ url: "ftp://x.example" }] }, /http\(s\)/],
        ["b9", { type: "maven-proxy", storage: "default", remotes: ["https://x.example"] }, /remotes\[0\]/],
        ["b10", { type: "maven-group", storage: "default", members: ["missing-one"] }, /Unknown member repositories: missing-one/],
        ["b11", { type: "maven-group", storage: "default", members: "t-maven" }, /members/],
        ["b12", { type: "maven-group", storage: "default", members: ["t-npm"] }, /npm repository/],
        ["b13", { type: "maven", storage: "default", members: ["t-maven"] }, /Only group repositories/],
        ["b14", { type: 42, storage: "default" }, /repo.type/],
        ["b15", "maven", /JSON object/],
      ];
      for (const [name, repo, msg] of bad) {
        const res = await put(name, repo);
        expectError(res, 400, "BAD_REQUEST");
        assert.match(res.body.message, msg, `${name}: ${res.body.message}`);
      }
      expectError(await s.api("PUT", "/repositories/b16", { token: admin, body: { type: "maven", storage: "default" } }), 400, "BAD_REQUEST");
      expectError(
        await s.api("PUT", "/repositories/b17", { token: admin, raw: "{not json", headers: { "content-type": "application/json" } }),
        400,
        "BAD_REQUEST",
      );
      expectError(await s.api("PUT", "/repositories/b18", { token: admin }), 400, "BAD_REQUEST");
      const none = await s.api("GET", "/repositories?q=b1", { token: admin });
      assert.equal(none.body.total, 0, "nothing was created by bad requests");
    });

    it("validates names: reserved api, v2, leading dot, bad characters", async () => {
      for (const name of ["api", "v2", "API", ".hidden", "a%20b", "x".repeat(200), "a@b"]) {
        const res = await put(encodeURIComponent(name).replace(/%2520/, "%20"), { type: "file", storage: "default" });
        expectError(res, 400, "BAD_REQUEST");
      }
      assert.equal((await put("ok.name_1-x", { type: "file", storage: "default" })).status, 200);
    });

    it("rejects group cycles and self membership", async () => {
      assert.equal((await put("cy-a", { type: "file", storage: "default" })).status, 200);
      assert.equal((await put("cy-g1", { type: "file-group", storage: "default", members: ["cy-a"] })).status, 200);
      assert.equal((await put("cy-g2", { type: "file-group", storage: "default", members: ["cy-g1"] })).status, 200);
      let res = await put("cy-g1", { type: "file-group", storage: "default", members: ["cy-a", "cy-g2"] });
      expectError(res, 400, "BAD_REQUEST");
      assert.match(res.body.message, /cycle/);
      res = await put("cy-g1", { type: "file-group", storage: "default", members: ["cy-g1"] });
      expectError(res, 400, "BAD_REQUEST");
      res = await put("cy-g1", { type: "file-group", storage: "default", members: ["cy-a", "cy-a"] });
      expectError(res, 400, "BAD_REQUEST");
    });

    it("lists group members as repository-port URLs; non-groups say not-a-group", async () => {
      await put("m-local", { type: "maven", storage: "default" });
      await put("m-central", { type: "maven-proxy", storage: "default", remotes: [{ url: "https://repo1.maven.org/maven2" }] });
      await put("m-group", { type: "maven-group", storage: "default", members: ["m-local", "m-central"] });
      let res = await s.api("GET", "/repositories/m-group/members", { token: admin });
      assert.equal(res.status, 200);
      const port = new URL(s.repoUrl).port;
      assert.deepEqual(res.body, { type: "maven-group", members: [`http://localhost:${port}/m-local`, `http://localhost:${port}/m-central`] });
      res = await s.api("GET", "/repositories/m-local/members", { token: admin });
      assert.deepEqual(res.body, { type: "not-a-group", members: [] });
      expectError(await s.api("GET", "/repositories/none/members", { token: admin }), 404, "NOT_FOUND");
    });

    it("delete removes data and index rows, and is refused while a group lists the repository", async () => {
      await put("d-local", { type: "file", storage: "default" });
      await put("d-g1", { type: "file-group", storage: "default", members: ["d-local"] });
      await put("d-g2", { type: "file-group", storage: "default", members: ["d-local"] });
      const rec = (await s.services.repositories.find("d-local"))!;
      const storage = await s.services.storages.forRepository(rec);
      await storage.put("dir/file.txt", "content");
      await s.services.db.prisma.artifact.create({ data: { repoName: "d-local", repoType: "file", path: "dir/file.txt", name: "file.txt" } });
      const dir = path.join(s.config.dataDir, "storage", "d-local");
      assert.ok(existsSync(path.join(dir, "dir", "file.txt")));

      let res = await s.api("DELETE", "/repositories/d-local", { token: admin });
      expectError(res, 409, "CONFLICT");
      assert.match(res.body.message, /d-g1, d-g2/);
      assert.ok(await s.services.repositories.find("d-local"));

      await put("d-g1", { type: "file-group", storage: "default", members: [] });
      assert.equal((await s.api("DELETE", "/repositories/d-g2", { token: admin })).status, 200);
      res = await s.api("DELETE", "/repositories/d-local", { token: admin });
      assert.equal(res.status, 200);
      assert.equal(res.text, "");
      assert.equal(await s.services.repositories.find("d-local"), null);
      assert.equal(existsSync(dir), false, "data removed");
      assert.equal(await s.services.db.prisma.artifact.count({ where: { repoName: "d-local" } }), 0, "index rows removed");
      expectError(await s.api("GET", "/repositories/d-local", { token: admin }), 404, "NOT_FOUND");
    });

    it("move renames everywhere: group members, role permissions, scoped aliases, data, index rows", async () => {
      await put("mv-src", { type: "file", storage: "default" });
      await put("mv-group", { type: "file-group", storage: "default", members: ["mv-src"] });
      await s.api("PUT", "/repositories/mv-src/storages/local", { token: admin, body: { type: "fs", path: path.join(s.config.dataDir, "scoped") } });
      await put("mv-src", { type: "file", storage: "local" });
      const rec = (await s.services.repositories.find("mv-src"))!;
      await (await s.services.storages.forRepository(rec)).put("a/b.txt", "moved bytes");
      assert.ok(existsSync(path.join(s.config.dataDir, "scoped", "mv-src", "a", "b.txt")));
      await s.services.db.prisma.artifact.create({ data: { repoName: "mv-src", repoType: "file", path: "a/b.txt", name: "b.txt" } });
      await s.api("PUT", "/roles/mv-role", { token: admin, body: { permissions: { "mv-src": ["read"], adapter_basic_permissions: { "mv-src": ["write"] } } } });

      expectError(await s.api("PUT", "/repositories/mv-src/move", { token: admin, body: {} }), 400, "BAD_REQUEST");
      expectError(await s.api("PUT", "/repositories/mv-src/move", { token: admin, body: { new_name: "api" } }), 400, "BAD_REQUEST");
      expectError(await s.api("PUT", "/repositories/mv-src/move", { token: admin, body: { new_name: "mv-group" } }), 409, "CONFLICT");

      const res = await s.api("PUT", "/repositories/mv-src/move", { token: admin, body: { new_name: "mv-dst" } });
      assert.equal(res.status, 200);
      assert.equal(res.text, "");
      expectError(await s.api("GET", "/repositories/mv-src", { token: admin }), 404, "NOT_FOUND");
      assert.equal((await s.api("GET", "/repositories/mv-dst", { token: admin })).body.repo.storage, "local");
      assert.deepEqual((await s.api("GET", "/repositories/mv-group", { token: admin })).body.repo.members, ["mv-dst"]);
      assert.deepEqual(
        (await s.api("GET", "/repositories/mv-dst/storages", { token: admin })).body.map((a: { name: string }) => a.name),
        ["local"],
      );
      const role = await s.api("GET", "/roles/mv-role", { token: admin });
      assert.deepEqual(role.body.permissions["mv-dst"], ["read"]);
      assert.equal(role.body.permissions["mv-src"], undefined);
      assert.deepEqual(role.body.permissions.adapter_basic_permissions, { "mv-dst": ["write"] });
      assert.equal(await s.services.db.prisma.artifact.count({ where: { repoName: "mv-dst", path: "a/b.txt" } }), 1);
      const moved = await s.services.storages.forRepository((await s.services.repositories.find("mv-dst"))!);
      assert.equal(await text((await moved.get("a/b.txt"))!.stream), "moved bytes");
      assert.equal(existsSync(path.join(s.config.dataDir, "scoped", "mv-src")), false);
      assert.equal(await s.services.repositories.find("mv-src"), null);
    });

    it("enforces api_repository_permissions and filters the list by repository read permission", async () => {
      await put("perm-a", { type: "file", storage: "default" });
      await put("perm-b", { type: "file", storage: "default" });
      const reader = await userWithPermissions(s, "repo-reader", { api_repository_permissions: ["read"], "perm-a": ["read"] });
      let res = await s.api("GET", "/repositories", { token: reader });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.items, [{ name: "perm-a", type: "file" }]);
      assert.equal(res.body.total, 1);
      assert.equal((await s.api("GET", "/repositories/perm-a", { token: reader })).status, 200);
      // A repository the caller may not read answers as a missing one (no name probing).
      expectError(await s.api("GET", "/repositories/perm-b", { token: reader }), 404, "NOT_FOUND");
      expectError(await put("perm-c", { type: "file", storage: "default" }, reader), 403, "FORBIDDEN");
      expectError(await put("perm-a", { type: "file", storage: "default" }, reader), 403, "FORBIDDEN");
      expectError(await s.api("DELETE", "/repositories/perm-a", { token: reader }), 403, "FORBIDDEN");
      expectError(await s.api("PUT", "/repositories/perm-a/move", { token: reader, body: { new_name: "perm-z" } }), 403, "FORBIDDEN");

      const creator = await userWithPermissions(s, "repo-creator", { api_repository_permissions: ["create"] });
      assert.equal((await put("perm-c", { type: "file", storage: "default" }, creator)).status, 200);
      expectError(await put("perm-c", { type: "file", storage: "default" }, creator), 403, "FORBIDDEN"); // update needs update
      expectError(await s.api("GET", "/repositories", { token: creator }), 403, "FORBIDDEN");

      const noRepoRead = await userWithPermissions(s, "repo-blind", { api_repository_permissions: ["read"] });
      res = await s.api("GET", "/repositories", { token: noRepoRead });
      assert.deepEqual(res.body.items, []);

      expectError(await s.api("GET", "/repositories"), 401, "UNAUTHORIZED");
      expectError(await s.api("GET", "/repositories", { token: "garbage" }), 401, "UNAUTHORIZED");
      assert.equal((await s.api("HEAD", "/repositories/perm-a")).status, 401);
    });

    it("answers the same operations through GraphQL", async () => {
      let res = await s.graphql(`mutation { putRepository(name: "gql-repo", repo: {type: "npm", storage: "default"}) { created } }`, {}, admin);
      assert.deepEqual(res.body.data, { putRepository: { created: true } });
      res = await s.graphql(`{ repository(name: "gql-repo") { name type format kind storage members config } }`, {}, admin);
      assert.deepEqual(res.body.data.repository, {
        name: "gql-repo",
        type: "npm",
        format: "npm",
        kind: "hosted",
        storage: "default",
        members: [],
        config: { type: "npm", storage: "default" },
      });
      res = await s.graphql(`mutation { putRepository(name: "gql-bad", repo: {type: "nope", storage: "default"}) { created } }`, {}, admin);
      assert.equal(res.body.errors[0].extensions.code, "BAD_REQUEST");
    });
  });
}

// Config changes reach every node at once through the Redis-backed event bus (PostgreSQL shared).
describe("repository changes on every node [postgres + redis]", () => {
  const redis = redisUrl();
  const pg = process.env.TEST_DATABASE_URL;
  let a: TestServer;
  let b: TestServer;
  let drop: (() => Promise<void>) | undefined;
  before(async () => {
    if (!redis || !pg) return;
    const db = await createPostgresDatabase();
    drop = db.drop;
    a = await startServer({ backend: "postgres", databaseUrl: db.url, redisUrl: redis });
    b = await startServer({ backend: "postgres", databaseUrl: db.url, redisUrl: redis });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await drop?.();
  });

  /** Polls until `check` passes (event delivery is asynchronous); fails after many attempts. */
  async function eventually(check: () => Promise<boolean>) {
    for (let i = 0; i < 200; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.fail("condition never became true");
  }

  it(
    "a repository created, changed, moved and deleted on node A is seen by node B's repository port",
    { skip: !redis || !pg ? "needs TEST_DATABASE_URL and TEST_REDIS_URL" : false },
    async () => {
      const basic: [string, string] = ["admin", "admin-test-password"];
      // Node B caches the miss first.
      assert.equal((await b.repo("GET", "/shared-files/hello.txt", { basic })).status, 404);
      assert.equal(await b.services.repositories.find("shared-files"), null);
      assert.equal(
        (await a.api("PUT", "/repositories/shared-files", { token: a.adminToken, body: { repo: { type: "file", storage: "default" } } })).status,
        200,
      );
      await eventually(async () => (await b.services.repositories.find("shared-files")) !== null);
      await a.api("PUT", "/repositories/shared-files", { token: a.adminToken, body: { repo: { type: "file", storage: "default", note: "v2" } } });
      await eventually(async () => (await b.services.repositories.find("shared-files"))?.config.note === "v2");
      await a.api("PUT", "/repositories/shared-files/move", { token: a.adminToken, body: { new_name: "shared-files-2" } });
      await eventually(
        async () => (await b.services.repositories.find("shared-files")) === null && (await b.services.repositories.find("shared-files-2")) !== null,
      );
      await a.api("DELETE", "/repositories/shared-files-2", { token: a.adminToken });
      await eventually(async () => (await b.services.repositories.find("shared-files-2")) === null);
      assert.equal((await b.repo("GET", "/shared-files-2/hello.txt", { basic })).status, 404);
    },
  );
});
