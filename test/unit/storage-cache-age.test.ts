// StorageService's resolved-storage caches have a maximum age: a node that missed the
// `storage.changed` event (and the change feed's repair of it) still follows the alias's new config
// once the age has passed, and never queries the database for a storage younger than that.
// The node under test shares a real database with a running node but has its own event bus,
// which no event ever reaches; its clock is a fake one the test moves.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "../../src/log.js";
import { EventBus } from "../../src/events/bus.js";
import { StorageDriverRegistry } from "../../src/storage/driver.js";
import { defaultStorageDrivers } from "../../src/storage/drivers.js";
import { FsStorage } from "../../src/storage/fs.js";
import { PrefixedStorage } from "../../src/storage/prefixed.js";
import { StorageService } from "../../src/storage/service.js";
import type { Storage } from "../../src/storage/types.js";
import { startServer, type TestServer } from "../helpers/server.js";

/** The fs root a repository's storage writes under. */
function rootOf(s: Storage): string {
  assert.ok(s instanceof PrefixedStorage);
  assert.ok(s.inner instanceof FsStorage);
  return s.inner.root;
}

describe("StorageService: resolved storages have a maximum age", () => {
  let node: TestServer;
  let dirs: string[];
  before(async () => {
    node = await startServer({ backend: "pglite" });
    dirs = [mkdtempSync(path.join(os.tmpdir(), "pantera-age-a-")), mkdtempSync(path.join(os.tmpdir(), "pantera-age-b-"))];
  });
  after(async () => {
    await node?.close();
    for (const d of dirs ?? []) rmSync(d, { recursive: true, force: true });
  });

  it("serves the cached storage until the age passes, then follows the alias's new config", async () => {
    const token = node.adminToken;
    assert.ok((await node.api("PUT", "/storages/moving", { token, body: { type: "fs", path: dirs[0] } })).status < 300);
    let clock = 1_000_000;
    const deaf = new StorageService(
      node.services.db.prisma,
      new EventBus(createLogger("silent")),
      new StorageDriverRegistry(defaultStorageDrivers()),
      node.config.dataDir,
      undefined,
      { maxAgeMs: 60_000, now: () => clock },
    );
    const record = { name: "files", storage: "moving" };
    const first = await deaf.forRepository(record);
    assert.equal(rootOf(first), path.resolve(dirs[0]));

    // Changed through the API: the running node hears of it, `deaf` does not.
    assert.ok((await node.api("PUT", "/storages/moving", { token, body: { type: "fs", path: dirs[1] } })).status < 300);
    clock += 59_999;
    assert.equal(await deaf.forRepository(record), first, "younger than the age: still the cached storage");

    clock += 2;
    const moved = await deaf.forRepository(record);
    assert.equal(rootOf(moved), path.resolve(dirs[1]), "past the age: re-resolved from the database");
    clock += 30_000;
    assert.equal(await deaf.forRepository(record), moved, "and cached again");

    // Past the age with nothing changed: the same storage object (the driver is not rebuilt).
    clock += 60_001;
    assert.equal(await deaf.forRepository(record), moved);
  });
});
