// Pure input-limit helpers: storage key lengths (normaliseKey), JSON nesting depth, the fs
// driver's last line of defence against ENAMETOOLONG, and the sweep of stale staging files.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { normaliseKey } from "../../src/storage/types.js";
import { jsonDepthExceeds } from "../../src/json.js";
import { FsStorage, TMP_DIR } from "../../src/storage/fs.js";
import { stagingFile, sweepStaleFiles } from "../../src/storage/stale-files.js";
import { scanPublishBody } from "../../src/formats/npm/publish-stream.js";

const tooLong = { code: "URI_TOO_LONG", status: 414 };
const HOURS_AGO = (h: number) => new Date(Date.now() - h * 3600_000);

describe("normaliseKey length limits", () => {
  it("accepts segments up to 255 UTF-8 bytes and keys up to 1024 bytes", () => {
    for (const key of ["a".repeat(255), `dir/${"é".repeat(127)}x`, Array.from({ length: 4 }, () => "k".repeat(255)).join("/")]) {
      assert.equal(normaliseKey(key), key);
      assert.equal(normaliseKey("/" + key + "/"), key); // the slow path checks too
    }
  });

  it("refuses a longer segment or key with 414, counted in UTF-8 bytes", () => {
    const refused = ["a".repeat(256), `dir/${"é".repeat(128)}`, `${"😀".repeat(64)}/x`, Array.from({ length: 5 }, () => "k".repeat(205)).join("/")];
    for (const key of refused) {
      assert.throws(() => normaliseKey(key), tooLong, key.slice(0, 20));
      assert.throws(() => normaliseKey("./" + key), tooLong, key.slice(0, 20));
    }
  });
});

describe("jsonDepthExceeds", () => {
  it("counts arrays and objects as one level each, scalars as none", () => {
    assert.equal(jsonDepthExceeds(1, 0), false);
    assert.equal(jsonDepthExceeds({}, 0), true);
    assert.equal(jsonDepthExceeds({ a: [1, { b: null }] }, 3), false);
    assert.equal(jsonDepthExceeds({ a: [1, { b: [] }] }, 3), true);
    assert.equal(jsonDepthExceeds(JSON.parse("[".repeat(64) + "]".repeat(64))), false);
    assert.equal(jsonDepthExceeds(JSON.parse("[".repeat(65) + "]".repeat(65))), true);
  });

  it("walks a million levels without overflowing the stack", () => {
    const deep = JSON.parse('{"a":'.repeat(1_000_000) + "1" + "}".repeat(1_000_000));
    assert.equal(jsonDepthExceeds(deep), true);
    assert.equal(jsonDepthExceeds(deep, 2_000_000), false);
  });
});

describe("fs driver: names the file system cannot hold", () => {
  it("answers 414 instead of failing with ENAMETOOLONG", async () => {
    // A root close to PATH_MAX (4096): a key normaliseKey accepts is too long for the file system.
    const base = mkdtempSync(path.join(os.tmpdir(), "pantera-deep-"));
    try {
      const root = path.join(base, ...Array.from({ length: 15 }, () => "r".repeat(250)));
      mkdirSync(root, { recursive: true });
      const fs = new FsStorage(root, { cache: null });
      const key = Array.from({ length: 3 }, () => "k".repeat(200)).join("/");
      await assert.rejects(fs.put(key, "data"), tooLong);
      await assert.rejects(fs.get(key), tooLong);
      await assert.rejects(fs.stat(key), tooLong);
      await assert.rejects(fs.delete(key), tooLong);
      await fs.put("short", "x");
      await assert.rejects(fs.move("short", key), tooLong);
      await assert.rejects(fs.list(key + "/"), tooLong);
      assert.deepEqual(readdirSync(path.join(root, TMP_DIR)), [], "the temp file is gone");
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe("stale staging files", () => {
  it("an fs driver sweeps temp files older than an hour when it starts, and keeps fresh ones", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-sweep-"));
    try {
      const tmp = path.join(dir, TMP_DIR);
      mkdirSync(tmp);
      for (const [name, hours] of [
        ["crashed-upload", 2],
        ["older", 30],
        ["live-upload", 0.5],
      ] as const) {
        writeFileSync(path.join(tmp, name), "x".repeat(1000));
        utimesSync(path.join(tmp, name), HOURS_AGO(hours), HOURS_AGO(hours));
      }
      const fs = new FsStorage(dir, { cache: null });
      assert.equal(await fs.tempSweep, 2);
      assert.deepEqual(readdirSync(tmp), ["live-upload"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("never takes a file this process is still writing, however long its upload idles", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-sweep-"));
    try {
      const fs = new FsStorage(dir, { cache: null });
      await fs.tempSweep;
      const body = new Readable({ read() {} });
      const push = (chunk: string | null) => body.push(chunk);
      const put = fs.put("slow.bin", body);
      push("first bytes ");
      const tmp = path.join(dir, TMP_DIR);
      while (!existsSync(tmp) || readdirSync(tmp).length === 0) await sleep(5);
      assert.equal(await sweepStaleFiles(tmp, () => true, -1), 0, "an age limit every file exceeds, and still nothing swept");
      push("last bytes");
      push(null);
      assert.equal((await put).size, "first bytes last bytes".length);
      // A file nobody writes is swept at that age.
      writeFileSync(path.join(tmp, "orphan"), "x");
      const done = stagingFile(path.join(tmp, "orphan"));
      assert.equal(await sweepStaleFiles(tmp, () => true, -1), 0);
      done();
      assert.equal(await sweepStaleFiles(tmp, () => true, -1), 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("npm publish sweeps its own stale staging files (only those) when it first stages", async () => {
    const stagingDir = mkdtempSync(path.join(os.tmpdir(), "npm-stage-"));
    try {
      for (const name of ["npm-publish-crashed", "someone-else"]) {
        writeFileSync(path.join(stagingDir, name), "x");
        utimesSync(path.join(stagingDir, name), HOURS_AGO(2), HOURS_AGO(2));
      }
      await scanPublishBody(Readable.from([Buffer.from('{"name":"x"}')]), { stagingDir, metaLimit: 1 << 20, attachmentLimit: 1 << 20 });
      assert.equal(existsSync(path.join(stagingDir, "npm-publish-crashed")), false);
      assert.equal(existsSync(path.join(stagingDir, "someone-else")), true);
    } finally {
      rmSync(stagingDir, { recursive: true, force: true });
    }
  });
});
