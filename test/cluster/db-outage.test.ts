// A PostgreSQL outage, simulated by a TCP proxy between the node and the machine's PostgreSQL that
// the test cuts (every connection destroyed, new ones refused) and restores. While cut: writes on every
// port answer 503 + Retry-After in their client's error shape, readiness answers 503, liveness 200,
// a read the caches can serve still works, and nothing answers 500. Restored: the node recovers
// without a restart.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { isDatabaseUnavailable } from "../../src/db/errors.js";
import { DomainError } from "../../src/errors.js";
import { createPostgresDatabase, expectError, postgresUrl, request, startServer, type Response, type TestServer } from "../helpers/server.js";

const pg = postgresUrl();

/** A TCP proxy to `target` that can be cut (connections destroyed, port closed: ECONNREFUSED) and restored. */
class CuttableProxy {
  private server: net.Server | undefined;
  private sockets = new Set<net.Socket>();
  private stalled = false;
  port = 0;
  constructor(private target: { host: string; port: number }) {}

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      if (this.stalled) {
        // Accepted, never answered: a database behind a partition, or hung.
        this.sockets.add(client);
        client.on("error", () => undefined).on("close", () => this.sockets.delete(client));
        return;
      }
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("error", () => undefined);
        s.on("close", () => {
          this.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  restore(): Promise<void> {
    this.stalled = false;
    return this.start(); // the same port, so the node's DATABASE_URL stays valid
  }

  /** Every connection dropped; new ones are accepted but never answered. */
  stall(): void {
    this.stalled = true;
    for (const s of this.sockets) s.destroy();
  }

  unstall(): void {
    this.stalled = false;
    for (const s of this.sockets) s.destroy();
  }
}

/** Polls `probe` until it answers `status` (the verdict is cached ~1 s; a pool reconnects on demand). */
async function until(status: number, probe: () => Promise<Response>, timeoutMs = 10_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await probe();
    if (res.status === status || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function expectRetryAfter(res: Response): void {
  const value = Number(res.headers.get("retry-after"));
  assert.ok(Number.isInteger(value) && value >= 1, `Retry-After on ${res.status}: ${res.headers.get("retry-after")}`);
}

/** 503 UNAVAILABLE in the documented body {error, message, status} with Retry-After. */
function expectUnavailable(res: Response): void {
  expectError(res, 503, "UNAVAILABLE");
  expectRetryAfter(res);
}

describe("cluster: PostgreSQL outage", { skip: !pg ? "TEST_DATABASE_URL is needed" : false }, () => {
  let node: TestServer;
  let proxy: CuttableProxy;
  let drop: () => Promise<void>;

  before(async () => {
    const db = await createPostgresDatabase();
    drop = db.drop;
    const url = new URL(db.url);
    proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port || 5432) });
    await proxy.start();
    url.host = `127.0.0.1:${proxy.port}`;
    node = await startServer({ backend: "postgres", databaseUrl: url.toString() });
    const token = node.adminToken;
    for (const [name, type] of [
      ["files", "file"],
      ["oci", "docker"],
    ]) {
      const res = await node.api("PUT", `/repositories/${name}`, { token, body: { repo: { type, storage: "default" } } });
      assert.ok(res.status < 300, res.text);
    }
    const put = await node.repo("PUT", "/files/docs/a.txt", { token, raw: "hello", headers: { "content-type": "text/plain" } });
    assert.ok(put.status < 300, put.text);
  });

  after(async () => {
    await proxy?.restore().catch(() => undefined);
    await node?.close();
    await proxy?.cut(); // closes the proxy's listener too: an open server keeps the test process alive
    await drop?.();
  });

  it("answers ready while the database and storage answer, and liveness needs no I/O", async () => {
    const ready = await node.repo("GET", "/.ready");
    assert.equal(ready.status, 200, ready.text);
    assert.deepEqual(ready.body, { status: "ok", checks: { database: "ok", storage: "ok" } });
    const api = await request("GET", `${node.apiUrl}/api/v1/health/ready`);
    assert.equal(api.status, 200, api.text);
    assert.equal(api.body.status, "ok");
  });

  it("while the database is cut: 503 + Retry-After on every port, cached reads served, no 500", async () => {
    const token = node.adminToken;
    // Warm the caches a GET needs (repository, principal, settings) just before the cut.
    assert.equal((await node.repo("GET", "/files/docs/a.txt", { token })).text, "hello");
    await proxy.cut();

    const cached = await node.repo("GET", "/files/docs/a.txt", { token });
    assert.equal(cached.status, 200, cached.text);
    assert.equal(cached.text, "hello");
    // Past the caller cache's 5 s age the last known principal still serves (it cannot be re-read).
    await new Promise((r) => setTimeout(r, 5_500));
    const stale = await node.repo("GET", "/files/docs/a.txt", { token });
    assert.equal(stale.status, 200, stale.text);

    // REST writes, in the documented body.
    expectUnavailable(await node.api("PUT", "/repositories/during-outage", { token, body: { repo: { type: "file", storage: "default" } } }));
    expectUnavailable(await node.api("POST", "/auth/token", { body: { name: "admin", pass: "wrong-password" } }));

    // GraphQL: extensions.code UNAVAILABLE, answered 503 + Retry-After.
    const gql = await node.graphql("query { users { total } }", undefined, token);
    assert.equal(gql.status, 503, gql.text);
    expectRetryAfter(gql);
    assert.equal(gql.body.errors?.[0]?.extensions?.code, "UNAVAILABLE", gql.text);

    // Repository port upload.
    const upload = await node.repo("PUT", "/files/docs/b.txt", { token, raw: "during", headers: { "content-type": "text/plain" } });
    expectUnavailable(upload);

    // OCI: the spec's {errors:[{code}]} shape, for a repository this node has not cached.
    const oci = await node.repo("POST", "/v2/oci-new/img/blobs/uploads/", { token });
    assert.equal(oci.status, 503, oci.text);
    expectRetryAfter(oci);
    assert.equal(oci.body.errors?.[0]?.code, "UNAVAILABLE", oci.text);

    // Readiness follows within its cache interval; liveness stays 200.
    const ready = await until(503, () => node.repo("GET", "/.ready"));
    assert.equal(ready.status, 503, ready.text);
    expectRetryAfter(ready);
    assert.equal(ready.body.status, "unavailable");
    assert.match(ready.body.checks.database, /^down: /);
    assert.equal(ready.body.checks.storage, "ok", "the storage itself still answers");
    assert.match(ready.body.message, /database/);
    const apiReady = await request("GET", `${node.apiUrl}/api/v1/health/ready`);
    assert.equal(apiReady.status, 503, apiReady.text);
    expectRetryAfter(apiReady);
    assert.equal((await node.repo("GET", "/.health")).status, 200);

    // A sweep of routes that need the database: 503 with Retry-After, never 500.
    const sweep: Array<[string, () => Promise<Response>]> = [
      ["GET /api/v1/repositories", () => node.api("GET", "/repositories", { token })],
      ["GET /api/v1/users", () => node.api("GET", "/users", { token })],
      ["GET /api/v1/roles", () => node.api("GET", "/roles", { token })],
      ["GET /api/v1/storages", () => node.api("GET", "/storages", { token })],
      ["DELETE /api/v1/repositories/files", () => node.api("DELETE", "/repositories/files", { token })],
      ["GET /api/v1/dashboard/stats", () => node.api("GET", "/dashboard/stats", { token })],
      ["GET unknown repository", () => node.repo("GET", "/never-seen/x.txt", { token })],
      [
        "PUT /v2 manifest",
        () => node.repo("PUT", "/v2/oci/img/manifests/v1", { token, raw: "{}", headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" } }),
      ],
      ["GET /v2/_catalog", () => node.repo("GET", "/v2/_catalog", { token })],
      ["GraphQL repositories", () => node.graphql("query { repositories { total } }", undefined, token)],
    ];
    for (const [name, call] of sweep) {
      const res = await call();
      assert.notEqual(res.status, 500, `${name}: ${res.text}`);
      if (res.status === 503) expectRetryAfter(res);
      else assert.ok(res.status < 300 || res.status === 404, `${name}: unexpected ${res.status} ${res.text}`);
    }
  });

  it("recovers without a restart once the database is back", async () => {
    await proxy.restore();
    const ready = await until(200, () => node.repo("GET", "/.ready"));
    assert.equal(ready.status, 200, ready.text);
    assert.equal((await until(200, () => request("GET", `${node.apiUrl}/api/v1/health/ready`))).status, 200);
    const token = node.adminToken;
    const created = await node.api("PUT", "/repositories/after-outage", { token, body: { repo: { type: "file", storage: "default" } } });
    assert.ok(created.status < 300, created.text);
    const upload = await node.repo("PUT", "/files/docs/b.txt", { token, raw: "after", headers: { "content-type": "text/plain" } });
    assert.ok(upload.status < 300, upload.text);
    assert.equal((await node.repo("GET", "/files/docs/b.txt", { token })).text, "after");
  });

  // The suite's timeout is the hang detector: without a pool connect timeout this request never returns.
  it("a database that accepts connections but never answers: 503, not a hung request", { timeout: 30_000 }, async () => {
    proxy.stall();
    try {
      expectUnavailable(await node.api("PUT", "/repositories/stalled", { token: node.adminToken, body: { repo: { type: "file", storage: "default" } } }));
      const ready = await until(503, () => node.repo("GET", "/.ready"));
      assert.equal(ready.status, 503, ready.text);
      assert.match(ready.body.checks.database, /did not answer/);
    } finally {
      proxy.unstall();
    }
    assert.equal((await until(200, () => node.repo("GET", "/.ready"))).status, 200);
  });

  it("a default storage that cannot be reached makes the node not ready, with the database up", async () => {
    const token = node.adminToken;
    const original = String(node.services.storages.defaultConfig.path);
    const gone = path.join(os.tmpdir(), `pantera-gone-${process.pid}`, "no-parent", "storage");
    assert.ok((await node.api("PUT", "/storages/default", { token, body: { type: "fs", path: gone } })).status < 300);
    try {
      const ready = await until(503, () => node.repo("GET", "/.ready"));
      assert.equal(ready.status, 503, ready.text);
      assert.deepEqual([ready.body.checks.database, ready.body.checks.storage.startsWith("down: ")], ["ok", true], ready.text);
    } finally {
      assert.ok((await node.api("PUT", "/storages/default", { token, body: { type: "fs", path: original } })).status < 300);
    }
    assert.equal((await until(200, () => node.repo("GET", "/.ready"))).status, 200);
  });
});

describe("isDatabaseUnavailable: outages only, not bugs or bad input", () => {
  it("recognises what the drivers throw when the connection is refused, cut or times out", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    const prisma = Object.assign(new Error("Can't reach database server at 127.0.0.1:5432"), {
      code: "P1001",
      meta: { driverAdapterError: { name: "DriverAdapterError", cause: { kind: "DatabaseNotReachable" } } },
    });
    const internal = Object.assign(new DomainError("INTERNAL_ERROR", "Internal server error"), { cause: new Error("Connection terminated unexpectedly") });
    for (const err of [refused, prisma, internal, new Error("timeout exceeded when trying to connect"), Object.assign(new Error("x"), { code: "57P01" })]) {
      assert.equal(isDatabaseUnavailable(err), true, String(err));
    }
  });

  it("leaves constraint violations, plain errors and domain errors alone", () => {
    const unique = Object.assign(new Error("Unique constraint failed"), { code: "P2002" });
    for (const err of [unique, new Error("boom"), new DomainError("NOT_FOUND", "no"), Object.assign(new Error("x"), { code: "23505" }), undefined, "string"]) {
      assert.equal(isDatabaseUnavailable(err), false, String(err));
    }
  });
});

describe("readiness on the embedded database", () => {
  let node: TestServer;
  before(async () => {
    node = await startServer({ backend: "pglite" });
  });
  after(() => node?.close());

  it("answers 200 on both ports while PGlite and the default storage answer", async () => {
    assert.deepEqual((await node.repo("GET", "/.ready")).body, { status: "ok", checks: { database: "ok", storage: "ok" } });
    assert.equal((await request("GET", `${node.apiUrl}/api/v1/health/ready`)).status, 200);
  });
});
