import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { backends, expectError, startServer, userWithPermissions, type TestServer } from "../helpers/server.js";

interface Row {
  repoName: string;
  repoType: string;
  path: string;
  name: string;
  version: string;
  size?: bigint;
  owner?: string;
}

const maven = (repo: string, type: string, group: string, name: string, version: string): Row => ({
  repoName: repo,
  repoType: type,
  path: `${group.replace(/\./g, "/")}/${name}/${version}/${name}-${version}.jar`,
  name,
  version,
  size: 1000n,
  owner: "admin",
});

for (const backend of backends()) {
  describe(`search [${backend}]`, () => {
    let s: TestServer;
    let admin: string;
    let reader: string; // read on maven-central only
    let noSearch: string;

    before(async () => {
      s = await startServer({ backend });
      admin = s.adminToken;
      const rows: Row[] = [
        maven("maven-central", "maven-proxy", "com.google.guava", "guava", "32.1.3-jre"),
        maven("maven-central", "maven-proxy", "com.google.guava", "guava", "33.0.0-jre"),
        maven("maven-central", "maven-proxy", "com.google.guava", "guava", "31.0-jre"),
        maven("maven-local", "maven", "com.google.guava", "guava", "32.1.3-jre"),
        maven("maven-central", "maven-proxy", "org.springframework.boot", "spring-boot-starter-web", "3.2.0"),
        maven("maven-central", "maven-proxy", "org.springframework.boot", "spring-boot", "3.2.0"),
        { repoName: "pypi-proxy", repoType: "pypi-proxy", path: "pydantic/2.12.0/pydantic-2.12.0-py3-none-any.whl", name: "pydantic", version: "2.12.0" },
        { repoName: "pypi-proxy", repoType: "pypi-proxy", path: "pydantic/2.11.1/pydantic-2.11.1-py3-none-any.whl", name: "pydantic", version: "2.11.1" },
        { repoName: "pypi-proxy", repoType: "pypi-proxy", path: "pydantic/1.10.0/pydantic-1.10.0-py3-none-any.whl", name: "pydantic", version: "1.10.0" },
        { repoName: "npm-group", repoType: "npm-group", path: "left-pad/-/left-pad-1.3.0.tgz", name: "left-pad", version: "1.3.0" },
        { repoName: "npm-local", repoType: "npm", path: "@scope/under_score/-/under_score-1.0.0.tgz", name: "@scope/under_score", version: "1.0.0" },
        { repoName: "npm-local", repoType: "npm", path: "underXscore/-/underXscore-1.0.0.tgz", name: "underXscore", version: "1.0.0" },
      ];
      // 30 "bulk" artifacts in each of two repositories, for permission + paging checks.
      for (const repo of ["bulk-a", "bulk-b"]) {
        for (let i = 0; i < 30; i++)
          rows.push({ repoName: repo, repoType: "file", path: `bulk/${i}/bulkthing-${i}.bin`, name: `bulkthing-${i}`, version: `${i}.0` });
      }
      await s.services.db.prisma.artifact.createMany({ data: rows });
      reader = await userWithPermissions(s, "reader", { api_search_permissions: ["read"], "maven-central": ["read"], "bulk-a": ["read"] });
      noSearch = await userWithPermissions(s, "nosearch", { "*": ["read"] });
    });
    after(() => s.close());

    const search = (q: string, token = admin, extra = "") => s.api("GET", `/search?q=${encodeURIComponent(q)}${extra}`, { token });
    const hits = (res: { body: { items: { repo_name: string; artifact_name: string; version: string }[] } }) =>
      res.body.items.map((i) => `${i.repo_name}:${i.artifact_name}@${i.version}`).sort();

    it("a missing or blank q answers the documented 400 body", async () => {
      for (const path of ["/search", "/search?q=", "/search?q=%20%20"]) {
        const res = await s.api("GET", path, { token: admin });
        assert.equal(res.status, 400);
        assert.deepEqual(res.body, { code: 400, message: "Missing 'q' parameter" });
      }
    });

    it("needs a caller with api_search_permissions:read", async () => {
      expectError(await s.api("GET", "/search?q=guava"), 401, "UNAUTHORIZED");
      expectError(await search("guava", noSearch), 403, "FORBIDDEN");
    });

    it("plain full-text search returns the documented item shape", async () => {
      const res = await search("guava", admin, "&page=0&size=10");
      assert.equal(res.status, 200);
      assert.deepEqual(hits(res), [
        "maven-central:guava@31.0-jre",
        "maven-central:guava@32.1.3-jre",
        "maven-central:guava@33.0.0-jre",
        "maven-local:guava@32.1.3-jre",
      ]);
      assert.equal(res.body.total, 4);
      assert.equal(res.body.page, 0);
      assert.equal(res.body.size, 10);
      assert.equal(res.body.hasMore, false);
      const item = res.body.items.find((i: { version: string; repo_name: string }) => i.version === "32.1.3-jre" && i.repo_name === "maven-central");
      assert.deepEqual(Object.keys(item).sort(), ["artifact_name", "artifact_path", "created_at", "owner", "repo_name", "repo_type", "size", "version"]);
      assert.equal(item.repo_type, "maven-proxy");
      assert.equal(item.artifact_path, "com/google/guava/guava/32.1.3-jre/guava-32.1.3-jre.jar");
      assert.equal(item.size, 1000);
      assert.equal(item.owner, "admin");
      assert.ok(!Number.isNaN(Date.parse(item.created_at)));
    });

    it("partial names hit through prefix and trigram matching", async () => {
      assert.equal((await search("guav")).body.total, 4);
      assert.deepEqual(hits(await search("spring-boot-star")), ["maven-central:spring-boot-starter-web@3.2.0"]);
      assert.deepEqual(hits(await search("oot-start")), ["maven-central:spring-boot-starter-web@3.2.0"]);
      assert.deepEqual(hits(await search("spring boot")), ["maven-central:spring-boot-starter-web@3.2.0", "maven-central:spring-boot@3.2.0"]);
      // path words are indexed too
      assert.equal((await search("springframework")).body.total, 2);
      // an exact name ranks first
      assert.equal((await search("spring-boot")).body.items[0].artifact_name, "spring-boot");
    });

    it("structured filters: the documented examples", async () => {
      assert.deepEqual(hits(await search("name:guava AND (version:32.1 OR version:33.0)")), [
        "maven-central:guava@32.1.3-jre",
        "maven-central:guava@33.0.0-jre",
        "maven-local:guava@32.1.3-jre",
      ]);
      assert.deepEqual(hits(await search("name:pydantic AND version:2.12")), ["pypi-proxy:pydantic@2.12.0"]);
      assert.deepEqual(hits(await search("name:pydantic AND (version:2.12 OR version:2.11)")), ["pypi-proxy:pydantic@2.11.1", "pypi-proxy:pydantic@2.12.0"]);
      assert.equal((await search("repo:pypi-proxy AND type:pypi")).body.total, 3);
      assert.equal((await search("name:spring-boot")).body.total, 2);
    });

    it("precedence: AND binds tighter than OR", async () => {
      // (name:pydantic AND version:1.10) OR name:left-pad
      assert.deepEqual(hits(await search("name:pydantic AND version:1.10 OR name:left-pad")), ["npm-group:left-pad@1.3.0", "pypi-proxy:pydantic@1.10.0"]);
      // name:pydantic AND (version:1.10 OR name:left-pad)
      assert.deepEqual(hits(await search("name:pydantic AND (version:1.10 OR name:left-pad)")), ["pypi-proxy:pydantic@1.10.0"]);
    });

    it("repo: is exact, type: is a prefix that strips -proxy/-group, name: is case-insensitive", async () => {
      assert.equal((await search("repo:maven")).body.total, 0);
      assert.equal((await search("repo:maven-local")).body.total, 1);
      assert.equal((await search("type:maven")).body.total, 6);
      assert.equal((await search("type:maven-proxy")).body.total, 6);
      assert.equal((await search("type:npm-group")).body.total, 3);
      assert.equal((await search("NAME:GUAVA")).body.total, 4);
    });

    it("quoted values and LIKE wildcards are matched literally", async () => {
      assert.deepEqual(hits(await search('name:"under_score"')), ["npm-local:@scope/under_score@1.0.0"]);
      assert.deepEqual(hits(await search('name:pydantic version:"2.11.1"')), ["pypi-proxy:pydantic@2.11.1"]);
      assert.equal((await search('name:"%"')).body.total, 0);
    });

    it("malformed queries answer 400 naming the position", async () => {
      for (const q of ["name:guava AND", "(name:guava", "name:guava)", "name:", 'name:"guava', "OR guava"]) {
        const res = await search(q);
        expectError(res, 400, "BAD_REQUEST");
        assert.match(res.body.message, /position \d+/, q);
      }
    });

    it("pages and rejects an offset beyond 10,000", async () => {
      const p0 = await search("bulkthing", admin, "&page=0&size=25");
      assert.equal(p0.body.total, 60);
      assert.equal(p0.body.items.length, 25);
      assert.equal(p0.body.hasMore, true);
      const p2 = await search("bulkthing", admin, "&page=2&size=25");
      assert.equal(p2.body.items.length, 10);
      assert.equal(p2.body.hasMore, false);
      const all = new Set(
        [...(await search("bulkthing", admin, "&page=0&size=30")).body.items, ...(await search("bulkthing", admin, "&page=1&size=30")).body.items].map(
          (i) => i.artifact_path + i.repo_name,
        ),
      );
      assert.equal(all.size, 60, "pages do not overlap");
      assert.equal((await search("bulkthing", admin, "&size=500")).body.size, 100);
      assert.equal((await search("bulkthing", admin, "&page=100&size=100")).status, 200);
      const deep = await search("bulkthing", admin, "&page=101&size=100");
      expectError(deep, 400, "BAD_REQUEST");
      assert.match(deep.body.message, /10000|10,000/);
      expectError(await search("bulkthing", admin, "&page=-1"), 400, "BAD_REQUEST");
      expectError(await search("bulkthing", admin, "&size=abc"), 400, "BAD_REQUEST");
    });

    it("filters by read permission inside the query: pages stay full and totals are right", async () => {
      const res = await search("bulkthing", reader, "&size=10");
      assert.equal(res.status, 200);
      assert.equal(res.body.total, 30);
      assert.equal(res.body.items.length, 10);
      assert.ok(res.body.items.every((i: { repo_name: string }) => i.repo_name === "bulk-a"));
      assert.equal((await search("bulkthing", reader, "&page=2&size=10")).body.items.length, 10);
      assert.deepEqual(hits(await search("guava", reader)), [
        "maven-central:guava@31.0-jre",
        "maven-central:guava@32.1.3-jre",
        "maven-central:guava@33.0.0-jre",
      ]);
      assert.equal((await search("pydantic", reader)).body.total, 0);
      // a caller with no repository read at all sees nothing
      const none = await userWithPermissions(s, "norepo", { api_search_permissions: ["read"] });
      assert.equal((await search("guava", none)).body.total, 0);
    });

    it("locate lists the readable repositories holding a path", async () => {
      const path = "com/google/guava/guava/32.1.3-jre/guava-32.1.3-jre.jar";
      let res = await s.api("GET", `/search/locate?path=${encodeURIComponent(path)}`, { token: admin });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { repositories: ["maven-central", "maven-local"], count: 2 });
      res = await s.api("GET", `/search/locate?path=/${encodeURIComponent(path)}`, { token: reader });
      assert.deepEqual(res.body, { repositories: ["maven-central"], count: 1 });
      res = await s.api("GET", `/search/locate?path=nope/x.jar`, { token: admin });
      assert.deepEqual(res.body, { repositories: [], count: 0 });
      expectError(await s.api("GET", `/search/locate`, { token: admin }), 400, "BAD_REQUEST");
      expectError(await s.api("GET", `/search/locate?path=a/../../b`, { token: admin }), 400, "BAD_REQUEST");
      expectError(await s.api("GET", `/search/locate?path=a`, { token: noSearch }), 403, "FORBIDDEN");
    });

    it("stats report documents, index size and last indexed", async () => {
      const res = await s.api("GET", "/search/stats", { token: admin });
      assert.equal(res.status, 200);
      const count = await s.services.db.prisma.artifact.count();
      assert.equal(res.body.total_documents, count);
      assert.ok(res.body.index_size_bytes > 0);
      assert.ok(!Number.isNaN(Date.parse(res.body.last_indexed)));
      expectError(await s.api("GET", "/search/stats", { token: noSearch }), 403, "FORBIDDEN");
    });

    it("is a GraphQL query first", async () => {
      const res = await s.graphql(`{ search(q: "name:pydantic", size: 2) { total hasMore items { repoName artifactName version } } }`, {}, admin);
      assert.equal(res.status, 200);
      assert.equal(res.body.data.search.total, 3);
      assert.equal(res.body.data.search.items.length, 2);
      const bad = await s.graphql(`{ search(q: "(oops") { total } }`, {}, admin);
      assert.equal(bad.body.errors[0].extensions.code, "BAD_REQUEST");
    });

    it("reindex rebuilds the index from storage for every repository, asynchronously", async () => {
      expectError(await s.api("POST", "/search/reindex", { token: reader }), 403, "FORBIDDEN");
      for (const [name, type] of [
        ["files", "file"],
        ["mvn", "maven"],
      ]) {
        const put = await s.api("PUT", `/repositories/${name}`, { token: admin, body: { repo: { type, storage: "default" } } });
        assert.ok(put.status === 200 || put.status === 201, put.text);
      }
      const files = (await s.services.repositories.find("files"))!;
      const mvn = (await s.services.repositories.find("mvn"))!;
      const fstore = await s.services.storages.forRepository(files);
      const mstore = await s.services.storages.forRepository(mvn);
      await fstore.put("docs/reindexed-readme.txt", "hello");
      await mstore.put("org/acme/reindexed-lib/1.4.2/reindexed-lib-1.4.2.jar", "jar-bytes");
      await mstore.put("org/acme/reindexed-lib/1.4.2/reindexed-lib-1.4.2.jar.sha1", "abc");
      await mstore.put("org/acme/reindexed-lib/maven-metadata.xml", "<metadata/>");
      // a stale row (file no longer in storage) and a row of a repository that does not exist
      await s.services.db.prisma.artifact.createMany({
        data: [
          {
            repoName: "mvn",
            repoType: "maven",
            path: "org/acme/gone/1.0/gone-1.0.jar",
            name: "gone",
            version: "1.0",
            indexedAt: new Date(Date.now() - 60_000),
          },
          { repoName: "deleted-repo", repoType: "maven", path: "x/y/1.0/y-1.0.jar", name: "orphan", version: "1.0", indexedAt: new Date(Date.now() - 60_000) },
        ],
      });
      const res = await s.api("POST", "/search/reindex", { token: admin });
      assert.equal(res.status, 202);
      assert.deepEqual(res.body, { status: "started", message: "Full reindex initiated" });
      const state = await s.services.search.waitForReindex();
      assert.equal(state.status, "completed", state.error ?? "");
      // names come from the format's describeArtifact when it has one, else the generic layout rules
      const found = (await search("reindexed")).body.items.map((i: { repo_name: string; artifact_name: string; version: string }) => i);
      assert.equal(found.length, 2);
      assert.ok(found.some((i: { repo_name: string; artifact_name: string }) => i.repo_name === "files" && i.artifact_name.includes("reindexed-readme")));
      assert.ok(
        found.some(
          (i: { repo_name: string; artifact_name: string; version: string }) =>
            i.repo_name === "mvn" && i.artifact_name.includes("reindexed-lib") && i.version === "1.4.2",
        ),
      );
      assert.equal((await search("name:gone")).body.total, 0, "stale row removed");
      assert.equal((await search("name:orphan")).body.total, 0, "rows of deleted repositories removed");
      assert.equal((await search("type:maven AND name:reindexed-lib")).body.items[0].artifact_path, "org/acme/reindexed-lib/1.4.2/reindexed-lib-1.4.2.jar");
      assert.equal((await search("sha1")).body.total, 0, "checksum sidecars are not indexed");
      const stats = await s.api("GET", "/search/stats", { token: admin });
      assert.equal(stats.body.reindex.status, "completed");
      assert.ok(stats.body.reindex.documents >= 2);
    });

    it("reindex is safe while uploads continue: nothing uploaded during the run is lost", async () => {
      const uploads = Array.from({ length: 20 }, (_, i) =>
        s.repo("PUT", `/files/concurrent/upload-${i}.txt`, { token: admin, raw: `content ${i}`, headers: { "content-type": "application/octet-stream" } }),
      );
      const started = await s.api("POST", "/search/reindex", { token: admin });
      assert.equal(started.status, 202);
      const again = await s.api("POST", "/search/reindex", { token: admin });
      assert.equal(again.status, 202, "a second request while running is accepted, not doubled");
      for (const res of await Promise.all(uploads)) assert.ok(res.status === 200 || res.status === 201, `${res.status} ${res.text}`);
      assert.equal((await s.services.search.waitForReindex()).status, "completed");
      const found = await search("upload", admin, "&size=100");
      assert.equal(found.body.total, 20);
      // and a full run afterwards keeps them too
      await s.api("POST", "/search/reindex", { token: admin });
      await s.services.search.waitForReindex();
      assert.equal((await search("upload", admin, "&size=100")).body.total, 20);
    });
  });
}
