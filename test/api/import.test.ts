// REST section 16: PUT|POST /.import/<repo>/<path> on the repository port.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import { ADMIN_PASSWORD, backends, startServer, userWithPermissions, type TestServer } from "../helpers/server.js";

const sha = (alg: string, s: string) => createHash(alg).update(s).digest("hex");

for (const backend of backends()) {
  describe(`import (section 16) [${backend}]`, () => {
    let s: TestServer;
    const basic: [string, string] = ["admin", ADMIN_PASSWORD];
    const body = "imported jar bytes";
    const headers = (key: string, extra: Record<string, string> = {}) => ({ "X-Pantera-Repo-Type": "maven", "X-Pantera-Idempotency-Key": key, ...extra });
    before(async () => {
      s = await startServer({ backend });
      const admin = await s.services.auth.authenticateToken(s.adminToken);
      await s.services.repositories.put(admin, "maven-local", { type: "maven", storage: "default" });
    });
    after(() => s.close());

    it("201 CREATED stores the bytes, verifies checksums and indexes the documented metadata", async () => {
      const res = await s.repo("PUT", "/.import/maven-local/com/example/lib/1.0/lib-1.0.jar", {
        basic,
        raw: body,
        headers: headers("k1", {
          "X-Pantera-Artifact-Name": "lib",
          "X-Pantera-Artifact-Version": "1.0",
          "X-Pantera-Artifact-Owner": "migrator",
          "X-Pantera-Artifact-Created": "1700000000000",
          "X-Pantera-Artifact-Release": "1690000000000",
          "X-Pantera-Checksum-Sha256": sha("sha256", body),
          "X-Pantera-Checksum-Sha1": sha("sha1", body),
        }),
      });
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(res.body, {
        status: "CREATED",
        message: "Artifact imported successfully",
        size: body.length,
        digests: { md5: sha("md5", body), sha1: sha("sha1", body), sha256: sha("sha256", body), sha512: sha("sha512", body) },
      });
      const got = await s.repo("GET", "/maven-local/com/example/lib/1.0/lib-1.0.jar", { basic });
      assert.equal(got.text, body);
      const row = await s.services.artifacts.find("maven-local", "com/example/lib/1.0/lib-1.0.jar");
      assert.equal(row?.name, "lib");
      assert.equal(row?.version, "1.0");
      assert.equal(row?.owner, "migrator");
      assert.equal(row?.createdAt.getTime(), 1700000000000);
      assert.equal(row?.releasedAt?.getTime(), 1690000000000);
    });

    it("200 ALREADY_PRESENT on an idempotent replay (PUT or POST)", async () => {
      const res = await s.repo("POST", "/.import/maven-local/com/example/lib/1.0/lib-1.0.jar", { basic, raw: body, headers: headers("k1") });
      assert.equal(res.status, 200);
      assert.equal(res.body.status, "ALREADY_PRESENT");
      assert.equal(res.body.message, "Artifact already exists with matching checksum");
      assert.equal(res.body.size, body.length);
      assert.equal(res.body.digests.sha256, sha("sha256", body));
      const changed = await s.repo("PUT", "/.import/maven-local/com/example/lib/1.0/lib-1.0.jar", { basic, raw: "other bytes", headers: headers("k1") });
      assert.equal(changed.status, 409);
      assert.equal(changed.body.status, "CHECKSUM_MISMATCH");
    });

    it("409 CHECKSUM_MISMATCH in VERIFY mode leaves nothing behind; STORE and NONE accept", async () => {
      const res = await s.repo("PUT", "/.import/maven-local/com/example/lib/2.0/lib-2.0.jar", {
        basic,
        raw: body,
        headers: headers("k2", { "X-Pantera-Checksum-Sha256": "a".repeat(64) }),
      });
      assert.equal(res.status, 409);
      assert.equal(res.body.status, "CHECKSUM_MISMATCH");
      assert.equal(res.body.message, `SHA-256 mismatch: expected ${"a".repeat(64)} got ${sha("sha256", body)}`);
      assert.equal(res.body.size, body.length);
      assert.equal((await s.repo("GET", "/maven-local/com/example/lib/2.0/lib-2.0.jar", { basic })).status, 404);
      assert.equal(await s.services.artifacts.find("maven-local", "com/example/lib/2.0/lib-2.0.jar"), null);
      const store = await s.repo("PUT", "/.import/maven-local/com/example/lib/2.0/lib-2.0.jar", {
        basic,
        raw: body,
        headers: headers("k3", { "X-Pantera-Checksum-Sha256": "b".repeat(64), "X-Pantera-Checksum-Mode": "STORE" }),
      });
      assert.equal(store.status, 201);
      assert.equal(store.body.digests.sha256, "b".repeat(64));
      const none = await s.repo("PUT", "/.import/maven-local/com/example/lib/3.0/lib-3.0.jar", {
        basic,
        raw: body,
        headers: headers("k4", { "X-Pantera-Checksum-Sha256": "c".repeat(64), "X-Pantera-Checksum-Mode": "none" }),
      });
      assert.equal(none.status, 201);
    });

    it("metadata-only imports index without storing bytes", async () => {
      const res = await s.repo("PUT", "/.import/maven-local/com/example/big/9.0/big-9.0.jar", {
        basic,
        raw: "",
        headers: headers("k5", { "X-Pantera-Metadata-Only": "true", "X-Pantera-Artifact-Size": "123456", "X-Pantera-Checksum-Sha1": "d".repeat(40) }),
      });
      assert.equal(res.status, 201);
      assert.equal(res.body.size, 123456);
      assert.deepEqual(res.body.digests, { sha1: "d".repeat(40) });
      assert.equal((await s.repo("GET", "/maven-local/com/example/big/9.0/big-9.0.jar", { basic })).status, 404);
      const row = await s.services.artifacts.find("maven-local", "com/example/big/9.0/big-9.0.jar");
      assert.equal(Number(row?.size), 123456);
      assert.equal(row?.name, "com.example:big");
      assert.equal(row?.version, "9.0");
    });

    it("400 INVALID_METADATA for missing or bad headers", async () => {
      const noType = await s.repo("PUT", "/.import/maven-local/a/b/1/b-1.jar", { basic, raw: "x", headers: { "X-Pantera-Idempotency-Key": "k6" } });
      assert.equal(noType.status, 400);
      assert.deepEqual(noType.body, { status: "INVALID_METADATA", message: "Missing required header X-Pantera-Repo-Type", size: 0, digests: {} });
      const noKey = await s.repo("PUT", "/.import/maven-local/a/b/1/b-1.jar", { basic, raw: "x", headers: { "X-Pantera-Repo-Type": "maven" } });
      assert.equal(noKey.body.status, "INVALID_METADATA");
      const bad: Record<string, string>[] = [
        { "X-Pantera-Repo-Type": "npm" },
        { "X-Pantera-Checksum-Mode": "MAYBE" },
        { "X-Pantera-Artifact-Created": "yesterday" },
        { "X-Pantera-Checksum-Sha256": "xyz" },
      ];
      for (const extra of bad) {
        const r = await s.repo("PUT", "/.import/maven-local/a/b/1/b-1.jar", { basic, raw: "x", headers: { ...headers("k7"), ...extra } });
        assert.equal(r.status, 400, JSON.stringify(extra));
        assert.equal(r.body.status, "INVALID_METADATA");
      }
      const dots = await s.repo("PUT", "/.import/maven-local/a/b%00c/x.jar", { basic, raw: "x", headers: headers("k8") });
      assert.equal(dots.status, 400);
    });

    it("auth: anonymous gets 401 with a Basic challenge, no write permission gets 403, Bearer tokens work", async () => {
      const anon = await s.repo("PUT", "/.import/maven-local/a/b/1/b-1.jar", { raw: "x", headers: headers("k9") });
      assert.equal(anon.status, 401);
      assert.equal(anon.headers.get("www-authenticate"), 'Basic realm="pantera"');
      const reader = await userWithPermissions(s, "reader", { "maven-local": ["read"] });
      const denied = await s.repo("PUT", "/.import/maven-local/a/b/1/b-1.jar", { token: reader, raw: "x", headers: headers("k9") });
      assert.equal(denied.status, 403);
      const ok = await s.repo("PUT", "/.import/maven-local/a/b/1/b-1.jar", { token: s.adminToken, raw: "x", headers: headers("k9") });
      assert.equal(ok.status, 201);
      const missing = await s.repo("PUT", "/.import/nope/a/b/1/b-1.jar", { token: s.adminToken, raw: "x", headers: headers("k10") });
      assert.equal(missing.status, 404);
    });

    it("503 RETRY_LATER when the bounded import queue is full", async () => {
      await s.services.settings.update("import", { concurrency: 1, queue_size: 0 });
      try {
        // Hold one import open (body not finished) so it occupies the only slot.
        const url = new URL(`${s.repoUrl}/.import/maven-local/slow/1/slow-1.jar`);
        const slow = http.request(url, {
          method: "PUT",
          headers: { ...headers("k11"), authorization: "Basic " + Buffer.from(basic.join(":")).toString("base64"), "transfer-encoding": "chunked" },
        });
        const slowDone = new Promise<number>((resolve, reject) => {
          slow.on("response", (r) => {
            r.resume();
            resolve(r.statusCode ?? 0);
          });
          slow.on("error", reject);
        });
        slow.write("part one ");
        // Wait until the server has taken the only slot with it.
        const importer = s.services.importer;
        for (let i = 0; importer.active < 1; i++) {
          if (i > 500) assert.fail("the slow import never started");
          await new Promise((r) => setTimeout(r, 10));
        }
        const probe = await s.repo("PUT", "/.import/maven-local/probe/1/probe-1.jar", { basic, raw: "p", headers: headers("probe") });
        assert.equal(probe.status, 503);
        assert.deepEqual(probe.body, { status: "RETRY_LATER", message: "Import queue is full, retry after 5 seconds", size: 0, digests: {} });
        assert.equal(probe.headers.get("retry-after"), "5");
        slow.end("part two");
        assert.equal(await slowDone, 201);
      } finally {
        await s.services.settings.update("import", { concurrency: 8, queue_size: 256 });
      }
    });
  });
}
