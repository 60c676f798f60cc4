// The fs driver and the per-repository prefixed view: streaming puts with digests,
// atomic publish, ranges, listing with a delimiter, delete, move.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { FsStorage, TMP_DIR } from "../../src/storage/fs.js";
import { storageContract } from "./storage-contract.js";
import { PrefixedStorage } from "../../src/storage/prefixed.js";

function fsFactory(prefixed: boolean) {
  return async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-fs-"));
    const fs = new FsStorage(dir);
    return { storage: prefixed ? new PrefixedStorage(fs, "repo1/") : fs, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  };
}

storageContract("fs", fsFactory(false));
storageContract("fs (repository view)", fsFactory(true));

test("fs: temp files never show and are cleaned after a failed write", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-fs-"));
  try {
    const fs = new FsStorage(dir);
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1000));
        this.destroy(new Error("client went away"));
      },
    });
    await assert.rejects(fs.put("x.bin", failing), /client went away/);
    assert.equal(await fs.exists("x.bin"), false);
    assert.deepEqual(readdirSync(path.join(dir, TMP_DIR)), []);
    assert.deepEqual(await fs.list("", { delimiter: "/" }), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fs (repository view): keys stay inside the repository root", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-fs-"));
  try {
    const fs = new FsStorage(dir);
    const a = new PrefixedStorage(fs, "a/");
    const b = new PrefixedStorage(fs, "b/");
    await a.put("f.txt", "A");
    await b.put("f.txt", "B");
    assert.equal(await text((await a.get("f.txt"))!.stream), "A");
    assert.deepEqual(
      (await fs.list("")).map((e) => e.key),
      ["a/f.txt", "b/f.txt"],
    );
    assert.equal(await a.deletePrefix(""), 1);
    assert.deepEqual(
      (await fs.list("")).map((e) => e.key),
      ["b/f.txt"],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
