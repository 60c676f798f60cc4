// REST section 8: tree, artifact metadata, pull instructions, download, download tokens,
// delete artifact, delete package — and that deletes refresh maven-metadata.xml and the index.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ADMIN_PASSWORD, backends, expectError, request, startServer, userWithPermissions, type TestServer } from "../helpers/server.js";

for (const backend of backends()) {
  describe(`artifact operations (section 8) [${backend}]`, () => {
    let s: TestServer;
    const basic: [string, string] = ["admin", ADMIN_PASSWORD];
    const jar = "jar bytes for 1.0";
    before(async () => {
      s = await startServer({ backend });
      const admin = await s.services.auth.authenticateToken(s.adminToken);
      await s.services.repositories.put(admin, "maven-local", { type: "maven", storage: "default" });
      await s.services.repositories.put(admin, "files", { type: "file", storage: "default" });
      for (const [v, body] of [
        ["1.0", jar],
        ["2.0", "jar bytes for 2.0"],
      ]) {
        const r = await s.repo("PUT", `/maven-local/com/example/lib/${v}/lib-${v}.jar`, { raw: body, basic });
        assert.equal(r.status, 201);
      }
      assert.equal((await s.repo("PUT", "/files/docs/readme.txt", { raw: "hello", basic })).status, 201);
    });
    after(() => s.close());

    it("GET tree lists one level, directories first, with the documented shape", async () => {
      const root = await s.api("GET", "/repositories/maven-local/tree", { token: s.adminToken });
      assert.equal(root.status, 200);
      assert.deepEqual(root.body, { items: [{ name: "com", path: "com", type: "directory" }], marker: null, hasMore: false });
      const lib = await s.api("GET", "/repositories/maven-local/tree?path=/com/example/lib", { token: s.adminToken });
      assert.deepEqual(
        lib.body.items.map((i: any) => [i.name, i.type, i.path]),
        [
          ["1.0", "directory", "com/example/lib/1.0"],
          ["2.0", "directory", "com/example/lib/2.0"],
          ["maven-metadata.xml", "file", "com/example/lib/maven-metadata.xml"],
        ],
      );
      const paged = await s.api("GET", "/repositories/maven-local/tree?path=com/example/lib&limit=2", { token: s.adminToken });
      assert.equal(paged.body.hasMore, true);
      const next = await s.api("GET", `/repositories/maven-local/tree?path=com/example/lib&limit=2&marker=${encodeURIComponent(paged.body.marker)}`, {
        token: s.adminToken,
      });
      assert.deepEqual(
        next.body.items.map((i: any) => i.name),
        ["maven-metadata.xml"],
      );
      expectError(await s.api("GET", "/repositories/nope/tree", { token: s.adminToken }), 404, "NOT_FOUND");
      expectError(await s.api("GET", "/repositories/maven-local/tree?path=../etc", { token: s.adminToken }), 400, "BAD_REQUEST");
      expectError(await s.api("GET", "/repositories/maven-local/tree"), 401, "UNAUTHORIZED");
    });

    it("GET artifact gives path, name, size, modified and checksums", async () => {
      const res = await s.api("GET", "/repositories/maven-local/artifact?path=com/example/lib/1.0/lib-1.0.jar", { token: s.adminToken });
      assert.equal(res.status, 200);
      assert.equal(res.body.path, "com/example/lib/1.0/lib-1.0.jar");
      assert.equal(res.body.name, "lib-1.0.jar");
      assert.equal(res.body.size, jar.length);
      assert.ok(!Number.isNaN(Date.parse(res.body.modified)));
      assert.equal(res.body.checksums.md5, createHash("md5").update(jar).digest("hex"));
      assert.equal(res.body.checksums.sha256, createHash("sha256").update(jar).digest("hex"));
      expectError(await s.api("GET", "/repositories/maven-local/artifact?path=com/none.jar", { token: s.adminToken }), 404, "NOT_FOUND");
      expectError(await s.api("GET", "/repositories/maven-local/artifact", { token: s.adminToken }), 400, "BAD_REQUEST");
    });

    it("GET artifact/pull answers technology-aware instructions", async () => {
      const mvn = await s.api("GET", "/repositories/maven-local/artifact/pull?path=com/example/lib/1.0/lib-1.0.jar", { token: s.adminToken });
      assert.equal(mvn.status, 200);
      assert.equal(mvn.body.type, "maven");
      assert.ok(mvn.body.instructions.some((i: string) => i.startsWith("mvn dependency:get -Dartifact=com.example:lib:1.0")));
      const file = await s.api("GET", "/repositories/files/artifact/pull?path=docs/readme.txt", { token: s.adminToken });
      assert.equal(file.body.type, "file");
      assert.ok(file.body.instructions.some((i: string) => i.startsWith("curl") && i.endsWith("/files/docs/readme.txt")));
    });

    it("GET artifact/download streams the file as an attachment", async () => {
      const res = await s.api("GET", "/repositories/maven-local/artifact/download?path=com/example/lib/1.0/lib-1.0.jar", { token: s.adminToken });
      assert.equal(res.status, 200);
      assert.equal(res.text, jar);
      assert.match(res.headers.get("content-disposition") ?? "", /^attachment; filename="lib-1\.0\.jar"/);
      assert.equal(res.headers.get("content-type"), "application/octet-stream");
      assert.equal(res.headers.get("content-length"), String(jar.length));
      expectError(await s.api("GET", "/repositories/maven-local/artifact/download?path=com/example/lib/1.0/lib-1.0.jar"), 401, "UNAUTHORIZED");
    });

    it("download tokens work without a JWT, for 60 s, for one repository and path only", async () => {
      const tok = await s.api("POST", "/repositories/maven-local/artifact/download-token?path=com/example/lib/1.0/lib-1.0.jar", { token: s.adminToken });
      assert.equal(tok.status, 200);
      assert.equal(typeof tok.body.token, "string");
      const dl = await s.api("GET", `/repositories/maven-local/artifact/download-direct?token=${encodeURIComponent(tok.body.token)}`);
      assert.equal(dl.status, 200);
      assert.equal(dl.text, jar);
      assert.match(dl.headers.get("content-disposition") ?? "", /filename="lib-1\.0\.jar"/);
      // Tampered payload (other path), wrong repository, garbage, missing.
      const [payload, sig] = tok.body.token.split(".");
      const other = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, "base64url").toString()), p: "com/example/lib/2.0/lib-2.0.jar" })).toString(
        "base64url",
      );
      expectError(await s.api("GET", `/repositories/maven-local/artifact/download-direct?token=${other}.${sig}`), 401, "UNAUTHORIZED");
      expectError(await s.api("GET", `/repositories/files/artifact/download-direct?token=${encodeURIComponent(tok.body.token)}`), 401, "UNAUTHORIZED");
      expectError(await s.api("GET", "/repositories/maven-local/artifact/download-direct?token=garbage"), 401, "UNAUTHORIZED");
      expectError(await s.api("GET", "/repositories/maven-local/artifact/download-direct"), 401, "UNAUTHORIZED");
      // Expired: a correctly signed token from 61 s ago.
      const realNow = Date.now;
      Date.now = () => realNow() - 61_000;
      let old: string;
      try {
        old = await s.services.artifacts.downloadToken(await s.services.auth.authenticateToken(s.adminToken), "maven-local", "com/example/lib/1.0/lib-1.0.jar");
      } finally {
        Date.now = realNow;
      }
      expectError(await s.api("GET", `/repositories/maven-local/artifact/download-direct?token=${encodeURIComponent(old)}`), 401, "UNAUTHORIZED");
    });

    it("permissions: api_repository_permissions read for reads, delete for deletes, and the repository's own grant", async () => {
      const reader = await userWithPermissions(s, "reader", { api_repository_permissions: ["read"], "maven-local": ["read"] });
      assert.equal((await s.api("GET", "/repositories/maven-local/tree", { token: reader })).status, 200);
      // Without a grant on the repository it is not there (test/api/repository-access.test.ts has the whole matrix).
      expectError(await s.api("GET", "/repositories/files/tree", { token: reader }), 404, "NOT_FOUND");
      expectError(
        await s.api("DELETE", "/repositories/maven-local/artifacts", { token: reader, body: { path: "com/example/lib/1.0/lib-1.0.jar" } }),
        403,
        "FORBIDDEN",
      );
      const nobody = await userWithPermissions(s, "nobody", {});
      expectError(await s.api("GET", "/repositories/maven-local/artifact?path=com/example/lib/1.0/lib-1.0.jar", { token: nobody }), 403, "FORBIDDEN");
    });

    it("DELETE artifacts removes one file, refreshes maven-metadata.xml and the index", async () => {
      assert.ok(await s.services.artifacts.find("maven-local", "com/example/lib/2.0/lib-2.0.jar"));
      const res = await s.api("DELETE", "/repositories/maven-local/artifacts", { token: s.adminToken, body: { path: "com/example/lib/2.0/lib-2.0.jar" } });
      assert.equal(res.status, 204);
      assert.equal((await s.repo("GET", "/maven-local/com/example/lib/2.0/lib-2.0.jar", { basic })).status, 404);
      assert.equal(await s.services.artifacts.find("maven-local", "com/example/lib/2.0/lib-2.0.jar"), null);
      const meta = await s.repo("GET", "/maven-local/com/example/lib/maven-metadata.xml", { basic });
      assert.doesNotMatch(meta.text, /<version>2\.0<\/version>/);
      assert.match(meta.text, /<release>1\.0<\/release>/);
      expectError(
        await s.api("DELETE", "/repositories/maven-local/artifacts", { token: s.adminToken, body: { path: "com/example/lib/2.0/lib-2.0.jar" } }),
        404,
        "NOT_FOUND",
      );
      expectError(await s.api("DELETE", "/repositories/maven-local/artifacts", { token: s.adminToken, body: {} }), 400, "BAD_REQUEST");
      expectError(await s.api("DELETE", "/repositories/maven-local/artifacts", { token: s.adminToken, raw: "{nope" }), 400, "BAD_REQUEST");
    });

    it("DELETE packages removes a folder and everything under it", async () => {
      const res = await s.api("DELETE", "/repositories/maven-local/packages", { token: s.adminToken, body: { path: "com/example/lib/1.0" } });
      assert.equal(res.status, 204);
      assert.equal((await s.repo("GET", "/maven-local/com/example/lib/1.0/lib-1.0.jar", { basic })).status, 404);
      assert.equal(await s.services.artifacts.find("maven-local", "com/example/lib/1.0/lib-1.0.jar"), null);
      // No versions left: the artifact-level metadata is gone too.
      assert.equal((await s.repo("GET", "/maven-local/com/example/lib/maven-metadata.xml", { basic })).status, 404);
      expectError(
        await s.api("DELETE", "/repositories/maven-local/packages", { token: s.adminToken, body: { path: "com/example/lib/1.0" } }),
        404,
        "NOT_FOUND",
      );
    });
  });
}

void request;
