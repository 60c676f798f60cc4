// GET /<repo>/-/v1/search on hosted npm repositories answers from the npm_packages index: every
// way a packument is written or removed (publish, dist-tags, deprecate/unpublish, management API
// deletes, import, repository rename and delete) keeps it current, packuments stored before the
// index existed are found on the first search, and the search reindex rebuilds it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ADMIN_PASSWORD, backends, startServer, type TestServer } from "../helpers/server.js";

interface Found {
  objects: {
    package: {
      name: string;
      version: string;
      description: string;
      keywords: string[];
      date?: string;
      links: { npm: string };
      publisher?: { username: string };
    };
    searchScore: number;
  }[];
  total: number;
}

for (const backend of backends()) {
  describe(`npm search from the index [${backend}]`, () => {
    let s: TestServer;
    const basic: [string, string] = ["admin", ADMIN_PASSWORD];

    function publishDoc(name: string, version: string, extra: { description?: string; keywords?: string[]; tag?: string } = {}) {
      const tarball = Buffer.from(`tarball of ${name}@${version}`);
      const file = `${name.replace(/^@[^/]+\//, "")}-${version}.tgz`;
      const manifest = {
        name,
        version,
        description: extra.description ?? "",
        keywords: extra.keywords ?? [],
        dist: {
          integrity: `sha512-${createHash("sha512").update(tarball).digest("base64")}`,
          shasum: createHash("sha1").update(tarball).digest("hex"),
          tarball: `http://x/${name}/-/${file}`,
        },
      };
      return {
        _id: name,
        name,
        "dist-tags": { [extra.tag ?? "latest"]: version },
        versions: { [version]: manifest },
        _attachments: { [file]: { content_type: "application/octet-stream", length: tarball.length, data: tarball.toString("base64") } },
      };
    }
    const enc = (name: string) => name.replace("/", "%2f");
    async function publish(repo: string, name: string, version: string, extra: Parameters<typeof publishDoc>[2] = {}) {
      const res = await s.repo("PUT", `/${repo}/${enc(name)}`, { basic, body: publishDoc(name, version, extra) });
      assert.equal(res.status, 201, res.text);
    }
    async function search(repo: string, text: string, q = ""): Promise<Found> {
      const res = await s.repo("GET", `/${repo}/-/v1/search?text=${encodeURIComponent(text)}${q}`, { basic });
      assert.equal(res.status, 200, res.text);
      return res.body as Found;
    }
    const names = (f: Found) => f.objects.map((o) => o.package.name);

    before(async () => {
      s = await startServer({ backend });
      const admin = await s.services.auth.authenticateToken(s.adminToken);
      await s.services.repositories.put(admin, "npm-local", { type: "npm", storage: "default" });
      await s.services.repositories.put(admin, "npm-other", { type: "npm", storage: "default" });
      await s.services.repositories.put(admin, "npm-all", { type: "npm-group", storage: "default", members: ["npm-local", "npm-other"] });
    });
    after(() => s?.close());

    it("matches every term in name, description or keywords; name matches rank first; pages with from/size", async () => {
      await publish("npm-local", "acme-widget", "1.0.0", { description: "Widgets for the ACME factory", keywords: ["gadget", "tooling"] });
      await publish("npm-local", "@acme/core", "2.1.0", { description: "Core library" });
      await publish("npm-local", "unrelated", "0.1.0", { description: "made by acme corp", keywords: ["misc"] });
      await publish("npm-local", "gadget-kit", "3.0.0", { description: "nothing to see" });

      let f = await search("npm-local", "acme");
      assert.deepEqual(names(f), ["@acme/core", "acme-widget", "unrelated"]);
      assert.equal(f.total, 3);
      assert.deepEqual(
        f.objects.map((o) => o.searchScore),
        [3, 3, 1],
      );
      const widget = f.objects[1].package;
      assert.equal(widget.version, "1.0.0");
      assert.equal(widget.description, "Widgets for the ACME factory");
      assert.deepEqual(widget.keywords, ["gadget", "tooling"]);
      assert.equal(widget.links.npm, `${s.repoUrl}/npm-local/acme-widget`);
      assert.ok(widget.date && !Number.isNaN(Date.parse(widget.date)));
      assert.equal(widget.publisher?.username, "admin");

      assert.deepEqual(names(await search("npm-local", "ACME gadget")), ["acme-widget"], "every term must match, case-insensitively");
      assert.deepEqual(names(await search("npm-local", "gadget")), ["gadget-kit", "acme-widget"], "a name match ranks above a keyword match");
      assert.deepEqual(names(await search("npm-local", "gadget-kit")), ["gadget-kit"]);
      assert.deepEqual(names(await search("npm-local", "100%")), [], "LIKE wildcards in the text are literal");
      assert.deepEqual(names(await search("npm-local", "_")), []);

      f = await search("npm-local", "acme", "&from=1&size=1");
      assert.deepEqual(names(f), ["acme-widget"]);
      assert.equal(f.total, 3);
      assert.equal((await search("npm-local", "")).total, 4, "no text lists every package");
      f = await search("npm-local", "acme", "&from=1e12&size=abc");
      assert.deepEqual([f.objects.length, f.total], [0, 3], "offsets past the end and bad sizes are not errors");
      f = await search("npm-local", "acme", "&from=6000");
      assert.deepEqual(f.objects, [], "pages past the deepest offset are empty, not a repeat of the last one");
      f = await search("npm-local", "acme", "&size=1.5&from=0.5");
      assert.deepEqual(names(f), ["@acme/core"], "fractional size and from are rounded down");
      assert.deepEqual(names(await search("npm-local", "acme\u0000")), ["@acme/core", "acme-widget", "unrelated"], "NUL in the text is dropped");
    });

    it("follows the latest version, dist-tags and unpublish", async () => {
      await publish("npm-local", "acme-widget", "1.1.0", { description: "Widgets, now with sprockets" });
      let f = await search("npm-local", "sprockets");
      assert.deepEqual(
        f.objects.map((o) => [o.package.name, o.package.version]),
        [["acme-widget", "1.1.0"]],
      );
      // a prerelease published under another tag leaves latest alone
      await publish("npm-local", "acme-widget", "2.0.0-beta.1", { description: "beta rewrite", tag: "next" });
      assert.deepEqual(names(await search("npm-local", "beta rewrite")), []);
      // moving latest moves what search shows
      const tag = await s.repo("PUT", "/npm-local/-/package/acme-widget/dist-tags/latest", { basic, body: "2.0.0-beta.1" });
      assert.equal(tag.status, 201, tag.text);
      f = await search("npm-local", "rewrite");
      assert.deepEqual(
        f.objects.map((o) => [o.package.name, o.package.version]),
        [["acme-widget", "2.0.0-beta.1"]],
      );
      // unpublishing the whole package removes it
      const gone = await s.repo("DELETE", "/npm-local/acme-widget/-rev/1", { basic });
      assert.equal(gone.status, 200, gone.text);
      assert.deepEqual(names(await search("npm-local", "widget")), []);
    });

    it("a package published only under another tag is found with its highest version", async () => {
      await publish("npm-local", "beta-only", "0.1.0-beta.1", { description: "prerelease tool", tag: "beta" });
      const f = await search("npm-local", "prerelease");
      assert.deepEqual(
        f.objects.map((o) => [o.package.name, o.package.version]),
        [["beta-only", "0.1.0-beta.1"]],
      );
    });

    it("management API deletes (last version, package folder) take packages out", async () => {
      await publish("npm-local", "solo", "1.0.0", { description: "single version" });
      assert.deepEqual(names(await search("npm-local", "solo")), ["solo"]);
      let res = await s.api("DELETE", "/repositories/npm-local/artifacts", { token: s.adminToken, body: { path: "solo/-/solo-1.0.0.tgz" } });
      assert.equal(res.status, 204, res.text);
      assert.deepEqual(names(await search("npm-local", "solo")), [], "the packument went with its last version");

      assert.deepEqual(names(await search("npm-local", "core")), ["@acme/core"]);
      res = await s.api("DELETE", "/repositories/npm-local/packages", { token: s.adminToken, body: { path: "@acme" } });
      assert.equal(res.status, 204, res.text);
      assert.deepEqual(names(await search("npm-local", "core")), []);
      res = await s.api("DELETE", "/repositories/npm-local/packages", { token: s.adminToken, body: { path: "gadget-kit/-" } });
      assert.equal(res.status, 204, res.text);
      assert.deepEqual(names(await search("npm-local", "gadget-kit")), ["gadget-kit"], "deleting the tarball folder keeps the packument");
      res = await s.api("DELETE", "/repositories/npm-local/artifacts", { token: s.adminToken, body: { path: "gadget-kit/package.json" } });
      assert.equal(res.status, 204, res.text);
      assert.deepEqual(names(await search("npm-local", "gadget-kit")), [], "deleting the packument file itself");
    });

    it("an imported packument is searchable", async () => {
      const doc = {
        name: "imported-pkg",
        "dist-tags": { latest: "1.0.0" },
        versions: { "1.0.0": { name: "imported-pkg", version: "1.0.0", description: "brought over by the importer" } },
        time: { "1.0.0": "2024-01-02T03:04:05.000Z" },
      };
      const res = await s.repo("PUT", "/.import/npm-local/imported-pkg/package.json", {
        basic,
        raw: JSON.stringify(doc),
        headers: { "X-Pantera-Repo-Type": "npm", "X-Pantera-Idempotency-Key": "npm-search-import-1" },
      });
      assert.equal(res.status, 201, res.text);
      const f = await search("npm-local", "importer");
      assert.deepEqual(names(f), ["imported-pkg"]);
      assert.equal(f.objects[0].package.date, "2024-01-02T03:04:05.000Z");
      // a document naming another package does not touch that package's row
      const other = { ...doc, name: "unrelated", versions: { "1.0.0": { name: "unrelated", version: "1.0.0", description: "impostor" } } };
      const res2 = await s.repo("PUT", "/.import/npm-local/impostor/package.json", {
        basic,
        raw: JSON.stringify(other),
        headers: { "X-Pantera-Repo-Type": "npm", "X-Pantera-Idempotency-Key": "npm-search-import-2" },
      });
      assert.equal(res2.status, 201, res2.text);
      assert.deepEqual(names(await search("npm-local", "impostor")), []);
      assert.deepEqual(names(await search("npm-local", "acme corp")), ["unrelated"]);
    });

    it("groups merge their members' hits, each package once", async () => {
      await publish("npm-other", "unrelated", "9.0.0", { description: "acme fork" });
      await publish("npm-other", "other-acme-tool", "1.0.0");
      const f = await search("npm-all", "acme");
      assert.deepEqual(names(f).sort(), ["other-acme-tool", "unrelated"]);
      assert.equal(f.total, 2);
    });

    it("packuments stored before the index existed are found on the first search; reindex rebuilds", async () => {
      const admin = await s.services.auth.authenticateToken(s.adminToken);
      await s.services.repositories.put(admin, "npm-legacy", { type: "npm", storage: "default" });
      const repo = await s.services.repositories.get(admin, "npm-legacy");
      const storage = await s.services.storages.forRepository(repo);
      const doc = (name: string, description: string) =>
        JSON.stringify({
          name,
          "dist-tags": { latest: "1.0.0" },
          versions: { "1.0.0": { name, version: "1.0.0", description } },
          time: { "1.0.0": "2020-01-01T00:00:00.000Z" },
        });
      // written straight to storage, as by a version before the index
      await storage.put("legacy-one/package.json", doc("legacy-one", "old data"));
      await storage.put("@old/legacy-two/package.json", doc("@old/legacy-two", "old data too"));
      await storage.put("not-a-packument/readme.json", doc("x", "old data"));
      // values PostgreSQL cannot store (NUL in text and jsonb, a year out of range) do not stop the fill
      const odd = JSON.parse(doc("odd-one", "old data with a \u0000 NUL"));
      odd.time["1.0.0"] = "+300000-01-01T00:00:00.000Z";
      odd.maintainers = [{ name: "nul\u0000user", email: "x@y" }];
      await storage.put("odd-one/package.json", JSON.stringify(odd));
      await storage.put("broken-json/package.json", "{ not json");
      assert.deepEqual(names(await search("npm-legacy", "old data")), ["@old/legacy-two", "legacy-one", "odd-one"]);

      // edits behind the index's back are picked up by a reindex
      await storage.delete("legacy-one/package.json");
      await storage.put("legacy-three/package.json", doc("legacy-three", "old data again"));
      assert.deepEqual(names(await search("npm-legacy", "old data")), ["@old/legacy-two", "legacy-one", "odd-one"], "stale until reindexed");
      const started = await s.api("POST", "/search/reindex", { token: s.adminToken });
      assert.equal(started.status, 202, started.text);
      await s.services.search.waitForReindex();
      assert.deepEqual(names(await search("npm-legacy", "old data")), ["@old/legacy-two", "legacy-three", "odd-one"]);
    });

    it("a repository moved to another storage alias is indexed from the new storage", async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-npm-alias-"));
      try {
        let res = await s.api("PUT", "/storages/npm-elsewhere", { token: s.adminToken, body: { type: "fs", path: dir } });
        assert.ok(res.status < 300, res.text);
        const admin = await s.services.auth.authenticateToken(s.adminToken);
        await s.services.repositories.put(admin, "npm-roaming", { type: "npm", storage: "default" });
        await publish("npm-roaming", "roams-here", "1.0.0", { description: "roaming package" });
        assert.deepEqual(names(await search("npm-roaming", "roaming")), ["roams-here"]);
        res = await s.api("PUT", "/repositories/npm-roaming", { token: s.adminToken, body: { repo: { type: "npm", storage: "npm-elsewhere" } } });
        assert.ok(res.status < 300, res.text);
        const moved = await s.services.repositories.get(admin, "npm-roaming");
        const storage = await s.services.storages.forRepository(moved);
        await storage.put(
          "over-there/package.json",
          JSON.stringify({
            name: "over-there",
            "dist-tags": { latest: "2.0.0" },
            versions: { "2.0.0": { name: "over-there", version: "2.0.0", description: "roaming elsewhere" } },
          }),
        );
        assert.deepEqual(names(await search("npm-roaming", "roaming")), ["over-there"], "the old storage's packages are gone, the new one's found");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("rows follow a renamed repository and go with a deleted one", async () => {
      const admin = await s.services.auth.authenticateToken(s.adminToken);
      let res = await s.api("PUT", "/repositories/npm-other/move", { token: s.adminToken, body: { new_name: "npm-moved" } });
      assert.ok(res.status < 300, res.text);
      assert.deepEqual(names(await search("npm-moved", "tool")), ["other-acme-tool"]);
      await s.services.repositories.delete(admin, "npm-moved", { removeFromGroups: true });
      const left = await s.services.db.sql.query<{ n: string }>(`SELECT count(*) AS n FROM "npm_packages" WHERE "repo_name" IN ('npm-other', 'npm-moved')`);
      assert.equal(Number(left[0].n), 0);
      await s.services.repositories.put(admin, "npm-moved", { type: "npm", storage: "default" });
      assert.deepEqual((await search("npm-moved", "")).objects, [], "a new repository of the same name starts empty");
      res = await s.api("DELETE", "/repositories/npm-moved", { token: s.adminToken });
      assert.ok(res.status < 300, res.text);
    });
  });
}
