// A storage backend that cannot be reached answers 503 + Retry-After naming the storage, on every
// port, and is never reported as a database outage; a real database outage still says database.
// The S3 alias points at a port that refuses connections, or at a server that accepts a request and
// resets the connection mid-answer (the failure that used to reach the handlers unwrapped).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { isDatabaseUnavailable } from "../../src/db/errors.js";
import { StorageUnavailableError } from "../../src/storage/errors.js";
import { createPostgresDatabase, expectError, postgresUrl, startServer, type Response, type TestServer } from "../helpers/server.js";

const pg = postgresUrl();

/** A port nothing listens on: connections to it are refused. */
async function refusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** An "S3" that answers 200 with a promised body, sends part of it and resets the connection. */
async function resettingS3(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "application/xml", "content-length": "4096" });
    res.write("<ListBucketResult><Contents><Key>");
    setTimeout(() => res.socket?.resetAndDestroy(), 20);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** A TCP proxy to PostgreSQL that the test closes (connections destroyed, new ones refused). */
async function cuttableProxy(target: URL): Promise<{ port: number; cut: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined).on("close", () => (sockets.delete(s), client.destroy(), upstream.destroy()));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** 503 UNAVAILABLE in the documented body, with Retry-After and a message naming the storage. */
function expectStorageUnavailable(res: Response, what: string): void {
  expectError(res, 503, "UNAVAILABLE");
  assert.deepEqual(Object.keys(res.body).sort(), ["error", "message", "status"], `${what}: ${res.text}`);
  assert.match(res.body.message, /^Storage is unavailable: S3 storage at http:\/\/127\.0\.0\.1:\d+ is unreachable/, `${what}: ${res.text}`);
  assert.doesNotMatch(res.body.message, /database/i, `${what}: ${res.text}`);
  const retry = Number(res.headers.get("retry-after"));
  assert.ok(Number.isInteger(retry) && retry >= 1, `${what}: Retry-After ${res.headers.get("retry-after")}`);
}

describe("storage outage: an unreachable S3 alias", { skip: !pg ? "TEST_DATABASE_URL is needed" : false }, () => {
  let node: TestServer;
  let proxy: { port: number; cut: () => Promise<void> };
  let resetting: { port: number; close: () => Promise<void> };
  let drop: () => Promise<void>;

  before(async () => {
    const db = await createPostgresDatabase();
    drop = db.drop;
    const url = new URL(db.url);
    proxy = await cuttableProxy(new URL(db.url));
    url.host = `127.0.0.1:${proxy.port}`;
    node = await startServer({ backend: "postgres", databaseUrl: url.toString() });
    resetting = await resettingS3();
    const token = node.adminToken;
    const credentials = { accessKeyId: "key", secretAccessKey: "secret" };
    for (const [alias, port] of [
      ["s3-refused", await refusedPort()],
      ["s3-resetting", resetting.port],
    ] as const) {
      const res = await node.api("PUT", `/storages/${alias}`, {
        token,
        body: { type: "s3", bucket: "artifacts", endpoint: `http://127.0.0.1:${port}`, "path-style": true, credentials },
      });
      assert.ok(res.status < 300, res.text);
    }
    for (const [repo, alias] of [
      ["files", "s3-refused"],
      ["reset-files", "s3-resetting"],
    ]) {
      const res = await node.api("PUT", `/repositories/${repo}`, { token, body: { repo: { type: "file", storage: alias } } });
      assert.ok(res.status < 300, res.text);
    }
  });

  after(async () => {
    await node?.close();
    await resetting?.close();
    await proxy?.cut().catch(() => undefined);
    await drop?.();
  });

  it("the repository port: GET, PUT, DELETE and a listing answer 503 + Retry-After naming the storage", async () => {
    const token = node.adminToken;
    expectStorageUnavailable(await node.repo("GET", "/files/docs/a.txt", { token }), "GET");
    expectStorageUnavailable(await node.repo("PUT", "/files/docs/a.txt", { token, raw: "hello", headers: { "content-type": "text/plain" } }), "PUT");
    expectStorageUnavailable(await node.repo("DELETE", "/files/docs/a.txt", { token }), "DELETE");
    expectStorageUnavailable(await node.repo("GET", "/files/docs/", { token }), "listing");
    const head = await node.repo("HEAD", "/files/docs/a.txt", { token });
    assert.equal(head.status, 503);
    assert.ok(Number(head.headers.get("retry-after")) >= 1);
  });

  it("a connection reset mid-answer is the storage's outage too, not a 500 or the database's", async () => {
    expectStorageUnavailable(await node.repo("GET", "/reset-files/docs/", { token: node.adminToken }), "listing on a resetting S3");
  });

  it("the management API (REST and GraphQL) says storage, with Retry-After", async () => {
    const token = node.adminToken;
    expectStorageUnavailable(await node.api("GET", "/repositories/files/tree?path=docs", { token }), "REST tree");
    const gql = await node.graphql('query { repositoryTree(name: "files", path: "docs") { hasMore } }', undefined, token);
    assert.equal(gql.status, 503, gql.text);
    assert.ok(Number(gql.headers.get("retry-after")) >= 1, gql.text);
    assert.equal(gql.body.errors?.[0]?.extensions?.code, "UNAVAILABLE", gql.text);
    assert.match(gql.body.errors[0].message, /^Storage is unavailable: /, gql.text);
    assert.equal(gql.body.errors[0].extensions.http, undefined, "internal extensions stay internal");
  });

  it("the classifier: a storage's wrapped network failure is not a database outage; the raw one still is", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
    assert.equal(isDatabaseUnavailable(refused), true);
    assert.equal(isDatabaseUnavailable(new StorageUnavailableError("S3 storage at x is unreachable", { cause: refused })), false);
  });

  // Last: it cuts the database for good.
  it("a database outage on the same node still says database", async () => {
    const token = node.adminToken;
    await proxy.cut();
    const res = await node.api("PUT", "/repositories/during-outage", { token, body: { repo: { type: "file", storage: "default" } } });
    expectError(res, 503, "UNAVAILABLE");
    assert.equal(res.body.message, "The database is unavailable; retry later");
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
  });
});
