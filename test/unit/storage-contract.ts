// The storage contract every driver must meet (used by storage-fs and storage-s3 tests).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { putLocalFile, type Storage } from "../../src/storage/types.js";
import { DomainError } from "../../src/errors.js";

export function storageContract(name: string, make: () => Promise<{ storage: Storage; cleanup: () => Promise<void> }>) {
  test(`${name}: put/get/stat/exists with digests`, async () => {
    const { storage, cleanup } = await make();
    try {
      const body = "hello pantera\n";
      const res = await storage.put("a/b/c.txt", body);
      assert.equal(res.size, Buffer.byteLength(body));
      assert.equal(res.digests.sha256, createHash("sha256").update(body).digest("hex"));
      assert.equal(res.digests.md5, createHash("md5").update(body).digest("hex"));
      assert.equal(res.digests.sha1, createHash("sha1").update(body).digest("hex"));
      assert.equal(res.digests.sha512, createHash("sha512").update(body).digest("hex"));
      const got = await storage.get("a/b/c.txt");
      assert.ok(got);
      assert.equal(got.size, Buffer.byteLength(body));
      assert.equal(await text(got.stream), body);
      assert.equal(await storage.exists("a/b/c.txt"), true);
      assert.equal(await storage.exists("a/b"), false, "a directory is not an object");
      assert.equal(await storage.exists("nope"), false);
      assert.equal(await storage.get("nope"), null);
      const st = await storage.stat("a/b/c.txt");
      assert.equal(st?.size, Buffer.byteLength(body));
      assert.equal(st?.key, "a/b/c.txt");
      const range = await storage.get("a/b/c.txt", { start: 6, end: 12 });
      assert.equal(await text(range!.stream), "pantera");
      const open = await storage.get("a/b/c.txt", { start: 6 });
      assert.equal(await text(open!.stream), "pantera\n");
    } finally {
      await cleanup();
    }
  });

  test(`${name}: putLocalFile publishes a local file (moved where the driver can) and refuses a digest mismatch`, async () => {
    const { storage, cleanup } = await make();
    const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-local-"));
    try {
      const body = Buffer.from("staged tarball bytes");
      const digests = {
        md5: createHash("md5").update(body).digest("hex"),
        sha1: createHash("sha1").update(body).digest("hex"),
        sha256: createHash("sha256").update(body).digest("hex"),
        sha512: createHash("sha512").update(body).digest("hex"),
      };
      const file = path.join(dir, "staged-1");
      writeFileSync(file, body);
      const res = await putLocalFile(storage, "pkg/-/pkg-1.0.0.tgz", file, { size: body.length, digests }, { expect: { sha1: digests.sha1 } });
      assert.deepEqual(res, { size: body.length, digests });
      if (name.startsWith("fs")) assert.equal(existsSync(file), false, "moved into place, not copied");
      assert.equal(await text((await storage.get("pkg/-/pkg-1.0.0.tgz"))!.stream), body.toString());
      // overwrite with new bytes
      const file2 = path.join(dir, "staged-2");
      writeFileSync(file2, "second");
      const d2 = { md5: "", sha1: createHash("sha1").update("second").digest("hex"), sha256: "", sha512: "" };
      await putLocalFile(storage, "pkg/-/pkg-1.0.0.tgz", file2, { size: 6, digests: d2 });
      assert.equal(await text((await storage.get("pkg/-/pkg-1.0.0.tgz"))!.stream), "second");
      // a mismatch publishes nothing
      const file3 = path.join(dir, "staged-3");
      writeFileSync(file3, "third");
      await assert.rejects(
        putLocalFile(
          storage,
          "pkg/-/pkg-2.0.0.tgz",
          file3,
          { size: 5, digests: { ...d2, sha1: createHash("sha1").update("third").digest("hex") } },
          { expect: { sha1: "0".repeat(40) } },
        ),
        (err: unknown) => err instanceof DomainError && err.status === 400,
      );
      assert.equal(await storage.exists("pkg/-/pkg-2.0.0.tgz"), false);
      if (name.startsWith("fs")) {
        // not over a directory (object stores have no directories to collide with)
        const file4 = path.join(dir, "staged-4");
        writeFileSync(file4, "fourth");
        await assert.rejects(putLocalFile(storage, "pkg", file4, { size: 6, digests: d2 }), (err: unknown) => err instanceof DomainError && err.status === 409);
        assert.equal(await text((await storage.get("pkg/-/pkg-1.0.0.tgz"))!.stream), "second");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await cleanup();
    }
  });

  test(`${name}: streams a large body and verifies expected digests`, async () => {
    const { storage, cleanup } = await make();
    try {
      const chunk = Buffer.alloc(1024 * 1024, 7);
      const hash = createHash("sha256");
      const chunks = 12;
      for (let i = 0; i < chunks; i++) hash.update(chunk);
      const sha256 = hash.digest("hex");
      const gen = async function* () {
        for (let i = 0; i < chunks; i++) yield chunk;
      };
      const res = await storage.put("big.bin", Readable.from(gen()), { expect: { sha256 } });
      assert.equal(res.size, chunks * chunk.length);
      assert.equal((await storage.stat("big.bin"))?.size, chunks * chunk.length);
      // A mismatch leaves nothing visible, not even over an existing object.
      await assert.rejects(storage.put("big.bin", "other", { expect: { sha256 } }), (e: unknown) => e instanceof DomainError && e.status === 400);
      assert.equal((await storage.stat("big.bin"))?.size, chunks * chunk.length);
      await assert.rejects(storage.put("fresh.bin", "other", { expect: { sha1: "00" } }), /Checksum mismatch/);
      assert.equal(await storage.exists("fresh.bin"), false);
      // ifNotExists
      await assert.rejects(storage.put("big.bin", "x", { ifNotExists: true }), (e: unknown) => e instanceof DomainError && e.status === 409);
      await storage.put("new.bin", "x", { ifNotExists: true });
      assert.equal(await text((await storage.get("new.bin"))!.stream), "x");
    } finally {
      await cleanup();
    }
  });

  test(`${name}: list with and without delimiter, after/limit, delete, deletePrefix, move`, async () => {
    const { storage, cleanup } = await make();
    try {
      for (const k of ["com/ex/a/1.jar", "com/ex/a/2.jar", "com/ex/b.pom", "com/other.txt", "top.txt"]) await storage.put(k, k);
      const all = await storage.list("");
      assert.deepEqual(
        all.map((e) => e.key),
        ["com/ex/a/1.jar", "com/ex/a/2.jar", "com/ex/b.pom", "com/other.txt", "top.txt"],
      );
      assert.ok(all.every((e) => e.kind === "file" && typeof e.size === "number"));
      const level = await storage.list("com/", { delimiter: "/" });
      assert.deepEqual(
        level.map((e) => [e.key, e.kind]),
        [
          ["com/ex/", "directory"],
          ["com/other.txt", "file"],
        ],
      );
      const root = await storage.list("", { delimiter: "/" });
      assert.deepEqual(
        root.map((e) => e.key),
        ["com/", "top.txt"],
      );
      assert.deepEqual(
        (await storage.list("com/ex/")).map((e) => e.key),
        ["com/ex/a/1.jar", "com/ex/a/2.jar", "com/ex/b.pom"],
      );
      assert.deepEqual(
        (await storage.list("com/ex/a/", { after: "com/ex/a/1.jar", limit: 5 })).map((e) => e.key),
        ["com/ex/a/2.jar"],
      );
      assert.deepEqual(
        (await storage.list("com/ex/", { limit: 1 })).map((e) => e.key),
        ["com/ex/a/1.jar"],
      );
      assert.deepEqual((await storage.list("missing/")).length, 0);

      assert.equal(await storage.delete("com/other.txt"), true);
      assert.equal(await storage.delete("com/other.txt"), false);

      await storage.move("com/ex/b.pom", "moved/b.pom");
      assert.equal(await storage.exists("com/ex/b.pom"), false);
      assert.equal(await text((await storage.get("moved/b.pom"))!.stream), "com/ex/b.pom");

      await storage.move("com/ex/", "org/ex/");
      assert.deepEqual(
        (await storage.list("org/")).map((e) => e.key),
        ["org/ex/a/1.jar", "org/ex/a/2.jar"],
      );
      assert.deepEqual((await storage.list("com/")).length, 0);

      assert.equal(await storage.deletePrefix("org/"), 2);
      assert.deepEqual(
        (await storage.list("")).map((e) => e.key),
        ["moved/b.pom", "top.txt"],
      );
      await assert.rejects(async () => storage.get("../escape"), /'\.\.'/);
    } finally {
      await cleanup();
    }
  });
}
