// The fs driver's small-file cache: reads served from memory only while a stat shows the very
// file that was read. Overwrites, deletes and moves — through this driver, through another
// driver on the same directory (another node sharing the storage) or behind Pantera's back —
// are seen on the next read; young files are not cached; memory stays within its bound.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { text } from "node:stream/consumers";
import { FsStorage } from "../../src/storage/fs.js";
import { isNetworkFileSystemType, onNetworkFileSystem, SmallFileCache } from "../../src/storage/file-cache.js";
import { PrefixedStorage } from "../../src/storage/prefixed.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two "nodes" (own driver, own cache) on one directory; caches accept files at once (minAgeMs 0). */
function twoNodes(opts: ConstructorParameters<typeof SmallFileCache>[0] = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-fcache-"));
  const cacheA = new SmallFileCache({ minAgeMs: 0, ...opts });
  const cacheB = new SmallFileCache({ minAgeMs: 0, ...opts });
  const a = new FsStorage(dir, { cache: cacheA });
  const b = new FsStorage(dir, { cache: cacheB });
  return { dir, a, b, cacheA, cacheB, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

async function read(s: FsStorage | PrefixedStorage, key: string): Promise<string | null> {
  const got = await s.get(key);
  if (!got) return null;
  assert.ok(got.data, "small files come back whole");
  assert.equal(got.data.toString(), await text(got.stream), "data and stream agree");
  return got.data.toString();
}

test("file cache: the second read of an unchanged small file is served from memory", async () => {
  const n = twoNodes();
  try {
    await n.a.put("x/f.txt", "hello");
    assert.equal(await read(n.b, "x/f.txt"), "hello");
    assert.deepEqual([n.cacheB.hits, n.cacheB.misses, n.cacheB.size, n.cacheB.bytes], [0, 1, 1, 5]);
    assert.equal(await read(n.b, "x/f.txt"), "hello");
    assert.equal(await read(n.b, "x/f.txt"), "hello");
    assert.deepEqual([n.cacheB.hits, n.cacheB.misses], [2, 1]);
    // ranges come from the cached bytes too
    const r = await n.b.get("x/f.txt", { start: 1, end: 3 });
    assert.deepEqual([r?.data?.toString(), r?.size, await text(r!.stream)], ["ell", 5, "ell"]);
    assert.equal(n.cacheB.hits, 3);
  } finally {
    n.cleanup();
  }
});

test("file cache: an overwrite on another node (same size) is seen on the next read", async () => {
  const n = twoNodes();
  try {
    await n.a.put("f.txt", "v1-aaaa");
    assert.equal(await read(n.b, "f.txt"), "v1-aaaa");
    assert.equal(await read(n.b, "f.txt"), "v1-aaaa");
    assert.equal(n.cacheB.hits, 1);
    await n.a.put("f.txt", "v2-bbbb"); // node A writes; node B gets no event at all
    assert.equal(await read(n.b, "f.txt"), "v2-bbbb");
    assert.equal(await read(n.b, "f.txt"), "v2-bbbb");
    // and the writer's own cache
    assert.equal(await read(n.a, "f.txt"), "v2-bbbb");
    await n.b.put("f.txt", "v3-cccc");
    assert.equal(await read(n.a, "f.txt"), "v3-cccc");
  } finally {
    n.cleanup();
  }
});

test("file cache: a delete or a move on another node is seen on the next read", async () => {
  const n = twoNodes();
  try {
    await n.a.put("d/f.txt", "gone soon");
    await n.a.put("d/g.txt", "moved soon");
    assert.equal(await read(n.b, "d/f.txt"), "gone soon");
    assert.equal(await read(n.b, "d/g.txt"), "moved soon");
    assert.equal(await n.a.delete("d/f.txt"), true);
    assert.equal(await n.b.get("d/f.txt"), null);
    await n.a.move("d/g.txt", "d/f.txt");
    assert.equal(await read(n.b, "d/f.txt"), "moved soon");
    assert.equal(await n.b.get("d/g.txt"), null);
    await n.a.deletePrefix("d/");
    assert.equal(await n.b.get("d/f.txt"), null);
    assert.equal(await n.b.stat("d/f.txt"), null);
  } finally {
    n.cleanup();
  }
});

test("file cache: files changed behind Pantera's back (in place, same size) are seen", async () => {
  const n = twoNodes();
  try {
    await n.a.put("f.txt", "aaaa");
    await sleep(20); // past the kernel's coarse timestamp tick, so the rewrite below gets a new mtime
    assert.equal(await read(n.a, "f.txt"), "aaaa");
    assert.equal(await read(n.a, "f.txt"), "aaaa");
    assert.equal(n.cacheA.hits, 1);
    writeFileSync(path.join(n.dir, "f.txt"), "bbbb"); // same inode, same size
    assert.equal(await read(n.a, "f.txt"), "bbbb");
    unlinkSync(path.join(n.dir, "f.txt"));
    assert.equal(await n.a.get("f.txt"), null);
    assert.equal(n.cacheA.size, 0);
  } finally {
    n.cleanup();
  }
});

test("file cache: files changed less than minAgeMs ago are read but not cached", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-fcache-"));
  try {
    const cache = new SmallFileCache({ minAgeMs: 60_000 });
    const s = new FsStorage(dir, { cache });
    await s.put("f.txt", "young");
    assert.equal(await read(s, "f.txt"), "young");
    assert.equal(await read(s, "f.txt"), "young");
    assert.deepEqual([cache.hits, cache.misses, cache.size], [0, 2, 0]);
    // a rewrite in place within the same clock tick cannot be mistaken for the cached copy
    writeFileSync(path.join(dir, "f.txt"), "YOUNG");
    assert.equal(await read(s, "f.txt"), "YOUNG");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("file cache: bounded by bytes (least recently used goes first); large files are streamed, not cached", async () => {
  const n = twoNodes({ maxBytes: 1000, maxEntryBytes: 400 });
  try {
    for (const k of ["a", "b", "c"]) await n.a.put(k, k.repeat(300));
    await read(n.a, "a");
    await read(n.a, "b");
    await read(n.a, "a"); // a is now the most recently used
    await read(n.a, "c"); // 900 bytes held
    assert.deepEqual([n.cacheA.size, n.cacheA.bytes], [3, 900]);
    await n.a.put("d", "d".repeat(300));
    await read(n.a, "d"); // over 1000: b (least recently used) goes
    assert.deepEqual([n.cacheA.size, n.cacheA.bytes], [3, 900]);
    const hits = n.cacheA.hits;
    await read(n.a, "a");
    await read(n.a, "c");
    await read(n.a, "d");
    assert.equal(n.cacheA.hits, hits + 3);
    await read(n.a, "b");
    assert.equal(n.cacheA.hits, hits + 3, "b was evicted");
    await n.a.put("big", "x".repeat(401));
    const big = await n.a.get("big");
    assert.equal(big?.data, undefined);
    assert.equal((await text(big!.stream)).length, 401);
    assert.ok(n.cacheA.bytes <= 1000);
  } finally {
    n.cleanup();
  }
});

test("file cache: keys are per path (repository views of one alias do not mix)", async () => {
  const n = twoNodes();
  try {
    const r1 = new PrefixedStorage(n.a, "r1/");
    const r2 = new PrefixedStorage(n.a, "r2/");
    await r1.put("f.txt", "one");
    await r2.put("f.txt", "two");
    for (let i = 0; i < 2; i++) {
      assert.equal(await read(r1, "f.txt"), "one");
      assert.equal(await read(r2, "f.txt"), "two");
    }
    assert.equal(n.cacheA.hits, 2);
  } finally {
    n.cleanup();
  }
});

test("file cache: with no cache configured reads still work (streamed)", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-fcache-"));
  try {
    const s = new FsStorage(dir, { cache: null });
    await s.put("f.txt", "plain");
    const got = await s.get("f.txt");
    assert.equal(await text(got!.stream), "plain");
    assert.equal(await text((await s.get("f.txt", { start: 2 }))!.stream), "ain");
    assert.equal(await s.get("missing"), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("file cache: never used on network file systems (NFS, SMB, FUSE...); local ones, even a root not created yet, use it", async () => {
  for (const nfsLike of [0x6969, 0xff534d42, 0xfe534d42, 0x65735546, 0x00c36400]) assert.equal(isNetworkFileSystemType(nfsLike), true);
  for (const local of [0xef53 /* ext4 */, 0x58465342 /* xfs */, 0x9123683e /* btrfs */, 0x01021994 /* tmpfs */, 0x794c7630 /* overlay */])
    assert.equal(isNetworkFileSystemType(local), false);
  const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-fcache-"));
  try {
    assert.equal(await onNetworkFileSystem(path.join(dir, "not", "yet")), false);
    const cache = new SmallFileCache({ minAgeMs: 0 });
    const s = new FsStorage(path.join(dir, "not", "yet"), { cache });
    await s.put("f.txt", "local");
    assert.equal(await read(s, "f.txt"), "local");
    assert.equal(await read(s, "f.txt"), "local");
    assert.equal(cache.hits, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("file cache: a file written earlier in the current millisecond is old enough for minAgeMs 0", () => {
  // Date.now() truncates to whole milliseconds while file timestamps keep the fraction, so such a
  // file's mtimeMs is up to 1 ms ahead of `now`; it must not count as written in the future.
  const cache = new SmallFileCache({ minAgeMs: 0 });
  const now = 1_700_000_000_000;
  const st = { size: 10, mtimeMs: now + 0.75, ctimeMs: now + 0.75 } as import("node:fs").Stats;
  assert.equal(cache.accepts(st, now), true);
  const young = new SmallFileCache({ minAgeMs: 1000 });
  assert.equal(young.accepts(st, now + 999), false);
  assert.equal(young.accepts(st, now + 1000), true);
});
