// REST section 7: storage aliases, global and repository-scoped; an s3 alias backed by s3rver.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { text } from "node:stream/consumers";
// @ts-expect-error s3rver ships no types
import S3rver from "s3rver";
import { backends, expectError, startServer, userWithPermissions, type TestServer } from "../helpers/server.js";

for (const backend of backends()) {
  describe(`storage aliases [${backend}]`, () => {
    let s: TestServer;
    let admin: string;
    let s3: { run(): Promise<AddressInfo>; close(): Promise<void> };
    let s3dir: string;
    let endpoint: string;
    before(async () => {
      s = await startServer({ backend });
      admin = s.adminToken;
      s3dir = mkdtempSync(path.join(os.tmpdir(), "pantera-s3rver-"));
      s3 = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: s3dir, configureBuckets: [{ name: "artifacts" }] });
      endpoint = `http://127.0.0.1:${(await s3.run()).port}`;
    });
    after(async () => {
      await s.close();
      await s3.close();
      rmSync(s3dir, { recursive: true, force: true });
    });

    it("lists the built-in default alias from the start", async () => {
      const res = await s.api("GET", "/storages", { token: admin });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, [{ name: "default", config: { type: "fs", path: path.join(s.config.dataDir, "storage") } }]);
    });

    it("creates, updates and deletes global aliases; secrets are masked", async () => {
      const fsPath = path.join(s.config.dataDir, "other");
      let res = await s.api("PUT", "/storages/fs-other", { token: admin, body: { type: "fs", path: fsPath } });
      assert.equal(res.status, 200);
      assert.equal(res.text, "");
      res = await s.api("PUT", "/storages/s3-prod", {
        token: admin,
        body: {
          type: "s3",
          bucket: "artifacts",
          region: "eu-west-1",
          endpoint,
          credentials: { type: "basic", accessKeyId: "S3RVER", secretAccessKey: "S3RVER-SECRET-KEY" },
        },
      });
      assert.equal(res.status, 200);
      res = await s.api("GET", "/storages", { token: admin });
      assert.deepEqual(
        res.body.map((a: { name: string }) => a.name),
        ["default", "fs-other", "s3-prod"],
      );
      const prod = res.body.find((a: { name: string }) => a.name === "s3-prod");
      assert.equal(prod.config.bucket, "artifacts");
      assert.equal(prod.config.region, "eu-west-1");
      assert.equal(prod.config.credentials.secretAccessKey, "S3***EY");
      assert.equal(prod.config.credentials.type, "basic");
      res = await s.api("PUT", "/storages/fs-other", { token: admin, body: { type: "fs", path: fsPath + "2" } });
      assert.equal(res.status, 200);
      res = await s.api("GET", "/storages", { token: admin });
      assert.equal(res.body.find((a: { name: string }) => a.name === "fs-other").config.path, fsPath + "2");
      assert.equal((await s.api("DELETE", "/storages/fs-other", { token: admin })).status, 200);
      expectError(await s.api("DELETE", "/storages/fs-other", { token: admin }), 404, "NOT_FOUND");
    });

    it("rejects bad alias configs and names with 400", async () => {
      for (const body of [
        {},
        { type: "ftp" },
        { type: "fs" },
        { type: "s3" },
        { type: "s3", bucket: "artifacts", endpoint: "not a url" },
        { type: "s3", bucket: "Bad_Bucket" },
        { type: "s3", bucket: "artifacts", credentials: "x" },
        { type: "s3", bucket: "artifacts", "path-style": "yes" },
      ]) {
        expectError(await s.api("PUT", "/storages/bad", { token: admin, body }), 400, "BAD_REQUEST");
      }
      expectError(await s.api("PUT", "/storages/bad", { token: admin, raw: "[1,2]", headers: { "content-type": "application/json" } }), 400, "BAD_REQUEST");
      expectError(await s.api("PUT", "/storages/.bad", { token: admin, body: { type: "fs", path: "/tmp/x" } }), 400, "BAD_REQUEST");
      // The messages name the supported driver types and the offending field.
      const cases: [unknown, string][] = [
        [{}, "Storage config needs a 'type' (fs or s3)"],
        [{ type: "ftp" }, "Unknown storage type 'ftp'; known: fs, s3"],
        [{ type: "fs" }, "An fs storage needs a 'path'"],
        [{ type: "s3", bucket: "artifacts", "path-style": "yes" }, "'path-style' must be a boolean"],
      ];
      for (const [body, message] of cases) {
        const res = await s.api("PUT", "/storages/bad", { token: admin, body });
        assert.deepEqual(res.body, { error: "BAD_REQUEST", message, status: 400 });
      }
    });

    it("an alias stored with a type this node has no driver for, or a config its driver rejects, is a 503 naming the alias", async () => {
      // As a node with more drivers (or a hand edit of the database) would leave them.
      await s.services.db.prisma.storageAlias.create({ data: { repository: "", name: "gcs-archive", config: { type: "gcs", bucket: "b" } } });
      await s.services.db.prisma.storageAlias.create({ data: { repository: "", name: "fs-broken", config: { type: "fs" } } });
      for (const [repo, alias] of [
        ["on-gcs", "gcs-archive"],
        ["on-broken", "fs-broken"],
      ]) {
        const res = await s.api("PUT", `/repositories/${repo}`, { token: admin, body: { repo: { type: "file", storage: alias } } });
        assert.equal(res.status, 200, res.text);
      }
      let res = await s.api("GET", "/repositories/on-gcs/tree", { token: admin });
      assert.deepEqual(res.body, {
        error: "UNAVAILABLE",
        message: "No storage driver for type 'gcs' (storage alias 'gcs-archive'); supported: fs, s3",
        status: 503,
      });
      res = await s.api("GET", "/repositories/on-broken/tree", { token: admin });
      assert.deepEqual(res.body, {
        error: "UNAVAILABLE",
        message: "Storage alias 'fs-broken' has an invalid config: An fs storage needs a 'path'",
        status: 503,
      });
      for (const repo of ["on-gcs", "on-broken"]) assert.equal((await s.api("DELETE", `/repositories/${repo}`, { token: admin })).status, 200);
      for (const alias of ["gcs-archive", "fs-broken"]) assert.equal((await s.api("DELETE", `/storages/${alias}`, { token: admin })).status, 200);
    });

    it("repositories on an s3 alias store their artifacts in the bucket; deleting a used alias gives 409 naming them", async () => {
      await s.api("PUT", "/storages/s3-data", {
        token: admin,
        body: { type: "s3", bucket: "artifacts", endpoint, "path-style": true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } },
      });
      for (const name of ["npm-local", "maven-central"]) {
        const res = await s.api("PUT", `/repositories/${name}`, {
          token: admin,
          body: { repo: { type: name === "npm-local" ? "npm" : "file", storage: "s3-data" } },
        });
        assert.equal(res.status, 200, res.text);
      }
      const storage = await s.services.storages.forRepository((await s.services.repositories.find("npm-local"))!);
      await storage.put("pkg/-/pkg-1.0.0.tgz", "tarball bytes");
      assert.equal(await text((await storage.get("pkg/-/pkg-1.0.0.tgz"))!.stream), "tarball bytes");
      const whole = await s.services.storages.forAlias("", "s3-data");
      assert.deepEqual(
        (await whole.list("")).map((e) => e.key),
        ["npm-local/pkg/-/pkg-1.0.0.tgz"],
      );

      const res = await s.api("DELETE", "/storages/s3-data", { token: admin });
      assert.equal(res.status, 409);
      assert.deepEqual(res.body, { error: "CONFLICT", message: "Cannot delete alias 's3-data': used by repositories: maven-central, npm-local", status: 409 });
      const def = await s.api("PUT", "/repositories/uses-default", { token: admin, body: { repo: { type: "file", storage: "default" } } });
      assert.equal(def.status, 200);
      const res2 = await s.api("DELETE", "/storages/default", { token: admin });
      expectError(res2, 409, "CONFLICT");
      assert.match(res2.body.message, /uses-default/);

      // deleting the repository removes its objects from the bucket
      assert.equal((await s.api("DELETE", "/repositories/npm-local", { token: admin })).status, 200);
      assert.deepEqual(await whole.list(""), []);
    });

    it("manages repository-scoped aliases; a scoped alias wins over a global one of the same name", async () => {
      expectError(await s.api("GET", "/repositories/nope/storages", { token: admin }), 404, "NOT_FOUND");
      expectError(await s.api("PUT", "/repositories/nope/storages/local", { token: admin, body: { type: "fs", path: "/tmp/x" } }), 404, "NOT_FOUND");
      await s.api("PUT", "/repositories/scoped-repo", { token: admin, body: { repo: { type: "file", storage: "default" } } });
      const custom = path.join(s.config.dataDir, "custom");
      let res = await s.api("PUT", "/repositories/scoped-repo/storages/default", { token: admin, body: { type: "fs", path: custom } });
      assert.equal(res.status, 200);
      res = await s.api("GET", "/repositories/scoped-repo/storages", { token: admin });
      assert.deepEqual(res.body, [{ name: "default", config: { type: "fs", path: custom } }]);
      const st = await s.services.storages.forRepository((await s.services.repositories.find("scoped-repo"))!);
      await st.put("f.txt", "scoped");
      const direct = await s.services.storages.forAlias("scoped-repo", "default");
      assert.equal(await text((await direct.get("scoped-repo/f.txt"))!.stream), "scoped");
      expectError(await s.api("DELETE", "/repositories/scoped-repo/storages/default", { token: admin }), 409, "CONFLICT");
      await s.api("PUT", "/repositories/scoped-repo/storages/spare", { token: admin, body: { type: "fs", path: custom + "-spare" } });
      assert.equal((await s.api("DELETE", "/repositories/scoped-repo/storages/spare", { token: admin })).status, 200);
      expectError(await s.api("DELETE", "/repositories/scoped-repo/storages/spare", { token: admin }), 404, "NOT_FOUND");
    });

    it("enforces api_alias_permissions", async () => {
      const reader = await userWithPermissions(s, "alias-reader", { api_alias_permissions: ["read"] });
      assert.equal((await s.api("GET", "/storages", { token: reader })).status, 200);
      expectError(await s.api("PUT", "/storages/x", { token: reader, body: { type: "fs", path: "/tmp/x" } }), 403, "FORBIDDEN");
      expectError(await s.api("DELETE", "/storages/default", { token: reader }), 403, "FORBIDDEN");
      const none = await userWithPermissions(s, "alias-none", { api_user_permissions: ["read"] });
      expectError(await s.api("GET", "/storages", { token: none }), 403, "FORBIDDEN");
      expectError(await s.api("GET", "/repositories/scoped-repo/storages", { token: none }), 403, "FORBIDDEN");
      expectError(await s.api("GET", "/storages"), 401, "UNAUTHORIZED");
    });
  });
}
