// Storage drivers: the registry alias types resolve through, and each driver's config parsing
// (a valid config, and every invalid field answered 400 naming that field).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { badRequest, DomainError } from "../../src/errors.js";
import { StorageDriverRegistry, type AliasConfig, type StorageDriver } from "../../src/storage/driver.js";
import { defaultStorageDrivers } from "../../src/storage/drivers.js";
import { SmallFileCache } from "../../src/storage/file-cache.js";
import { FsStorage, fsDriver } from "../../src/storage/fs.js";
import { S3Storage, s3Driver } from "../../src/storage/s3.js";
import type { Storage } from "../../src/storage/types.js";

const ctx = { dataDir: "/var/pantera" };

/** Asserts `fn` throws a 400 whose message matches `message`. */
function assertBadRequest(fn: () => unknown, message: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DomainError, `expected a DomainError, got ${String(err)}`);
    assert.equal(err.code, "BAD_REQUEST");
    assert.match(err.message, message);
    return true;
  });
}

/** A driver of a third type, built from the fs driver, as a deployment adding one would register it. */
const mirrorDriver: StorageDriver<{ root: string }> = {
  type: "mirror",
  parseConfig(raw) {
    if (typeof raw.root !== "string") throw badRequest("A mirror storage needs a 'root'");
    return { root: raw.root };
  },
  create: (config, env): Storage => fsDriver.create({ path: config.root }, env),
};

describe("StorageDriverRegistry", () => {
  it("registers drivers and lists their types in registration order", () => {
    const registry = new StorageDriverRegistry(defaultStorageDrivers());
    assert.deepEqual(registry.types(), ["fs", "s3"]);
    assert.equal(registry.get("fs"), fsDriver);
    assert.equal(registry.get("s3"), s3Driver);
    assert.equal(registry.get("ftp"), undefined);
    registry.register(mirrorDriver);
    assert.deepEqual(registry.types(), ["fs", "s3", "mirror"]);
    assert.equal(registry.get("mirror"), mirrorDriver);
  });

  it("refuses a second driver for a type", () => {
    const registry = new StorageDriverRegistry([fsDriver]);
    assert.throws(() => registry.register({ ...s3Driver, type: "fs" }), /already registered/);
    assert.equal(registry.get("fs"), fsDriver);
  });

  it("registries are independent objects: nothing is registered globally", () => {
    const a = new StorageDriverRegistry([fsDriver]);
    const b = new StorageDriverRegistry();
    a.register(mirrorDriver);
    assert.deepEqual(b.types(), []);
    assertBadRequest(() => b.validate({ type: "fs", path: "/x" }, ctx), /Unknown storage type 'fs'; known: $/);
  });

  it("rejects configs that are not objects or have no type, naming the supported types", () => {
    const registry = new StorageDriverRegistry(defaultStorageDrivers());
    for (const raw of [null, "fs", [1, 2], 3]) assertBadRequest(() => registry.validate(raw, ctx), /^Storage config must be a JSON object$/);
    for (const raw of [{}, { type: "" }, { type: 5 }]) assertBadRequest(() => registry.validate(raw, ctx), /^Storage config needs a 'type' \(fs or s3\)$/);
    registry.register(mirrorDriver);
    assertBadRequest(() => registry.validate({}, ctx), /^Storage config needs a 'type' \(fs, s3 or mirror\)$/);
  });

  it("answers an unknown type with the registered types", () => {
    const registry = new StorageDriverRegistry(defaultStorageDrivers());
    assertBadRequest(() => registry.validate({ type: "ftp" }, ctx), /^Unknown storage type 'ftp'; known: fs, s3$/);
    registry.register(mirrorDriver);
    assertBadRequest(() => registry.validate({ type: "ftp" }, ctx), /^Unknown storage type 'ftp'; known: fs, s3, mirror$/);
  });

  it("dispatches to the driver of the type: its errors and its stored form", () => {
    const registry = new StorageDriverRegistry([...defaultStorageDrivers(), mirrorDriver]);
    assert.deepEqual(registry.validate({ type: "mirror", root: "/m", note: "kept" }, ctx), { type: "mirror", root: "/m", note: "kept" });
    assertBadRequest(() => registry.validate({ type: "mirror" }, ctx), /'root'/);
    assertBadRequest(() => registry.validate({ type: "fs" }, ctx), /'path'/);
    assertBadRequest(() => registry.validate({ type: "s3" }, ctx), /'bucket'/);
    assert.deepEqual(registry.validate({ type: "fs", path: "data", owner: "ops" }, ctx), { type: "fs", path: "/var/pantera/data", owner: "ops" });
    const s3 = { type: "s3", bucket: "artifacts", credentials: { type: "basic", accessKeyId: "id", secretAccessKey: "secret" } };
    assert.deepEqual(registry.validate(s3, ctx), s3);
  });
});

describe("fs driver", () => {
  it("parses a path, resolving a relative one against the data directory", () => {
    assert.deepEqual(fsDriver.parseConfig({ type: "fs", path: "/srv/artifacts" }, ctx), { path: "/srv/artifacts" });
    assert.deepEqual(fsDriver.parseConfig({ type: "fs", path: "custom/../store" }, ctx), { path: "/var/pantera/store" });
  });

  it("stores the config as sent, with the path made absolute", () => {
    const raw: AliasConfig = { type: "fs", path: "store", label: "x" };
    assert.deepEqual(fsDriver.storedConfig!(raw, fsDriver.parseConfig(raw, ctx)), { type: "fs", path: "/var/pantera/store", label: "x" });
  });

  it("rejects a missing, empty, non-string or NUL-containing path naming 'path'", () => {
    for (const p of [undefined, "", "   ", 5, null, ["a"]])
      assertBadRequest(() => fsDriver.parseConfig({ type: "fs", path: p }, ctx), /^An fs storage needs a 'path'$/);
    assertBadRequest(() => fsDriver.parseConfig({ type: "fs", path: "a\0b" }, ctx), /^'path' must not contain NUL bytes$/);
  });

  it("builds an FsStorage on the path with the node's file cache", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-fs-driver-"));
    try {
      const fileCache = new SmallFileCache();
      const storage = fsDriver.create(fsDriver.parseConfig({ type: "fs", path: dir }, ctx), { fileCache });
      assert.ok(storage instanceof FsStorage);
      assert.equal(storage.root, dir);
      await storage.tempSweep;
      await storage.put("a/b.txt", "hello");
      assert.equal((await storage.get("a/b.txt"))?.size, 5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("s3 driver", () => {
  const base = { type: "s3", bucket: "artifacts" };

  it("parses a minimal config: virtual-hosted addressing, credentials left to the environment", () => {
    assert.deepEqual(s3Driver.parseConfig(base, ctx), {
      bucket: "artifacts",
      region: undefined,
      endpoint: undefined,
      accessKeyId: undefined,
      secretAccessKey: undefined,
      sessionToken: undefined,
      pathStyle: false,
      prefix: undefined,
    });
  });

  it("parses a full config; path-style defaults to on with an endpoint", () => {
    const full = {
      ...base,
      region: "eu-west-1",
      endpoint: "http://minio.local:9000",
      credentials: { type: "basic", accessKeyId: "AKID", secretAccessKey: "SECRET", sessionToken: "TOKEN" },
      prefix: "pantera/",
    };
    assert.deepEqual(s3Driver.parseConfig(full, ctx), {
      bucket: "artifacts",
      region: "eu-west-1",
      endpoint: "http://minio.local:9000",
      accessKeyId: "AKID",
      secretAccessKey: "SECRET",
      sessionToken: "TOKEN",
      pathStyle: true,
      prefix: "pantera/",
    });
    assert.equal(s3Driver.parseConfig({ ...full, "path-style": false }, ctx).pathStyle, false);
    assert.equal(s3Driver.parseConfig({ ...full, pathStyle: false }, ctx).pathStyle, false);
    assert.equal(s3Driver.parseConfig({ ...base, "path-style": true }, ctx).pathStyle, true);
  });

  it("accepts the kebab-case credential names; empty strings count as not given", () => {
    const c = s3Driver.parseConfig({ ...base, region: "", prefix: "", credentials: { "access-key-id": "AKID", "secret-access-key": "SECRET" } }, ctx);
    assert.equal(c.accessKeyId, "AKID");
    assert.equal(c.secretAccessKey, "SECRET");
    assert.equal(c.region, undefined);
    assert.equal(c.prefix, undefined);
  });

  it("rejects each invalid field naming it", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ bucket: undefined }, /'bucket'/],
      [{ bucket: 5 }, /'bucket'/],
      [{ bucket: "Bad_Bucket" }, /'bucket'/],
      [{ bucket: "a" }, /'bucket'/],
      [{ region: 1 }, /'region' must be a string/],
      [{ endpoint: 1 }, /'endpoint' must be a URL/],
      [{ endpoint: "not a url" }, /'endpoint' is not a valid URL: not a url/],
      [{ endpoint: "" }, /'endpoint' is not a valid URL/],
      [{ endpoint: "ftp://files.example" }, /'endpoint' must be an http\(s\) URL/],
      [{ credentials: "x" }, /'credentials' must be an object/],
      [{ credentials: ["a", "b"] }, /'credentials' must be an object/],
      [{ credentials: { accessKeyId: "id" } }, /'credentials' needs 'accessKeyId' and 'secretAccessKey'/],
      [{ credentials: { secretAccessKey: "s" } }, /'credentials' needs 'accessKeyId' and 'secretAccessKey'/],
      [{ credentials: { accessKeyId: 1, secretAccessKey: "s" } }, /'credentials' needs 'accessKeyId' and 'secretAccessKey'/],
      [{ "path-style": "yes" }, /'path-style' must be a boolean/],
      [{ pathStyle: 1 }, /'pathStyle' must be a boolean/],
      [{ prefix: 7 }, /'prefix' must be a string/],
    ];
    for (const [fields, message] of cases) assertBadRequest(() => s3Driver.parseConfig({ ...base, ...fields }, ctx), message);
  });

  it("builds an S3Storage", () => {
    const storage = s3Driver.create(s3Driver.parseConfig({ ...base, endpoint: "http://127.0.0.1:9" }, ctx), { fileCache: new SmallFileCache() });
    assert.ok(storage instanceof S3Storage);
  });
});
