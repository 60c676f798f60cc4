// Two nodes on one PostgreSQL sharing one fs storage alias, with no event bus between them:
// each node keeps small files it served in memory, yet a file overwritten (same size) or
// deleted through one node is never served stale by the other — every read checks the file.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, postgresUrl, startSharedStorageCluster, type SharedStorageCluster, type TestServer } from "../helpers/server.js";

const pg = postgresUrl();
const auth = "Basic " + Buffer.from(`admin:${ADMIN_PASSWORD}`).toString("base64");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("cluster: small-file cache on a shared fs storage", { skip: !pg ? "TEST_DATABASE_URL is needed" : false }, () => {
  let a: TestServer;
  let b: TestServer;
  let cluster: SharedStorageCluster;

  const put = async (node: TestServer, p: string, body: string) => {
    const res = await fetch(`${node.repoUrl}/files/${p}`, { method: "PUT", headers: { authorization: auth }, body });
    assert.ok(res.status === 200 || res.status === 201, `PUT ${p}: ${res.status}`);
  };
  const get = async (node: TestServer, p: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${node.repoUrl}/files/${p}`, { headers: { authorization: auth, ...headers } });
    return { status: res.status, body: await res.text(), lastModified: res.headers.get("last-modified"), range: res.headers.get("content-range") };
  };

  before(async () => {
    cluster = await startSharedStorageCluster("files", "file");
    ({ a, b } = cluster);
  });
  after(async () => cluster?.close());

  it("node B serves a cached file, then node A's overwrite (same size) and delete at once", async () => {
    assert.notEqual(a.services.storages.fileCache, b.services.storages.fileCache, "each node has its own cache");
    await put(a, "lib/tool.txt", "version-1");
    await sleep(1100); // files younger than a second are not cached
    assert.equal((await get(b, "lib/tool.txt")).body, "version-1");
    const hits = b.services.storages.fileCache.hits;
    const first = await get(b, "lib/tool.txt");
    assert.equal(first.body, "version-1");
    assert.equal(b.services.storages.fileCache.hits, hits + 1, "served from node B's memory");
    const ranged = await get(b, "lib/tool.txt", { range: "bytes=0-6" });
    assert.deepEqual([ranged.status, ranged.body, ranged.range], [206, "version", "bytes 0-6/9"]);

    await sleep(1100); // a different Last-Modified second for the overwrite
    await put(a, "lib/tool.txt", "version-2");
    const second = await get(b, "lib/tool.txt");
    assert.equal(second.body, "version-2");
    assert.notEqual(second.lastModified, first.lastModified);

    const del = await fetch(`${a.repoUrl}/files/lib/tool.txt`, { method: "DELETE", headers: { authorization: auth } });
    assert.equal(del.status, 204);
    assert.equal((await get(b, "lib/tool.txt")).status, 404);
  });

  it("the writing node's own cache is checked the same way (write through node B, read on node A)", async () => {
    await put(b, "own.txt", "aaaa");
    await sleep(1100);
    assert.equal((await get(a, "own.txt")).body, "aaaa");
    assert.equal((await get(a, "own.txt")).body, "aaaa");
    await put(b, "own.txt", "bbbb");
    assert.equal((await get(a, "own.txt")).body, "bbbb");
    await put(a, "own.txt", "cccc");
    assert.equal((await get(a, "own.txt")).body, "cccc");
    assert.equal((await get(b, "own.txt")).body, "cccc");
  });

  it("the cache shows in the node's metrics", async () => {
    const text = await (await fetch(`${b.metricsUrl}/metrics`)).text();
    assert.match(text, /^pantera_storage_file_cache_hits_total [1-9]\d*$/m);
    assert.match(text, /^pantera_storage_file_cache_bytes \d+$/m);
  });
});
