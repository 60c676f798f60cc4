// Cluster locks on the machine's PostgreSQL: a request waiting on a lock another node holds gives up
// after the lock timeout with 503 + Retry-After; waiters hold no pool connection while they wait (one
// database waiter per key per node); a lock is taken as soon as it is released; a holder whose
// connection drops is not reused; pools log a lost/restored connection once per transition.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { openDatabase, type Database } from "../../src/db/index.js";
import { DomainError } from "../../src/errors.js";
import type { Logger } from "../../src/log.js";
import { createPostgresDatabase, expectError, postgresUrl, request, startServer, type TestServer } from "../helpers/server.js";

const pgUrl = postgresUrl();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Holds `key`'s lock through `db` until the returned release is called; resolves once it is held. */
async function hold(db: Database, key: string): Promise<{ release: () => void; done: Promise<void> }> {
  const gate = deferred();
  const taken = deferred();
  const done = db.withLock(key, async () => {
    taken.resolve();
    await gate.promise;
  });
  await taken.promise;
  return { release: gate.resolve, done };
}

/** Settles with the outcome of `p`, or "pending" if it is still running after `ms` (so a hang fails, not stalls). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "pending"> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<"pending">((r) => (timer = setTimeout(() => r("pending"), ms)));
  try {
    return await Promise.race([p, pending]);
  } finally {
    clearTimeout(timer);
  }
}

const isLockTimeout = (err: unknown) => err instanceof DomainError && err.code === "UNAVAILABLE" && err.status === 503 && (err.retryAfter ?? 0) >= 1;

describe(
  "cluster locks: npm publish, PyPI upload and maven deploy while another node holds the package",
  { skip: !pgUrl ? "TEST_DATABASE_URL is needed" : false },
  () => {
    let a: TestServer;
    let b: TestServer;
    let drop: () => Promise<void>;
    before(async () => {
      const db = await createPostgresDatabase();
      drop = db.drop;
      a = await startServer({ backend: "postgres", databaseUrl: db.url });
      b = await startServer({ backend: "postgres", databaseUrl: db.url, config: { lockTimeoutMs: 700 } });
      for (const type of ["npm", "pypi", "maven"]) {
        const res = await a.api("PUT", `/repositories/${type}-local`, { token: a.adminToken, body: { repo: { type, storage: "default" } } });
        assert.ok(res.status < 300, res.text);
      }
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await drop?.();
    });

    function publish(node: TestServer, name: string, version: string) {
      const tarball = randomBytes(2_000);
      const file = `${name}-${version}.tgz`;
      const body = {
        _id: name,
        name,
        "dist-tags": { latest: version },
        versions: { [version]: { name, version, dist: { shasum: createHash("sha1").update(tarball).digest("hex"), tarball: `http://x/${name}/-/${file}` } } },
        _attachments: { [file]: { content_type: "application/octet-stream", data: tarball.toString("base64"), length: tarball.length } },
      };
      return request("PUT", `${node.repoUrl}/npm-local/${name}`, { token: node.adminToken, body });
    }

    it("answers 503 with Retry-After once the lock timeout passes, and publishes once the lock is free", async () => {
      const lock = await hold(a.services.db, "npm\0npm-local\0held-pkg");
      let res;
      try {
        res = await within(publish(b, "held-pkg", "1.0.0"), 10_000);
      } finally {
        lock.release();
        await lock.done;
      }
      if (res === "pending") assert.fail("the publish waited past its lock timeout");
      expectError(res, 503, "UNAVAILABLE");
      assert.match(res.headers.get("retry-after") ?? "", /^[1-9][0-9]*$/);
      const again = await publish(b, "held-pkg", "1.0.0");
      assert.equal(again.status, 201, again.text);
    });

    it("a PyPI upload answers 503 with Retry-After while another node holds the project", async () => {
      const upload = () => {
        const form = new FormData();
        form.set(":action", "file_upload");
        form.set("name", "held-project");
        form.set("version", "1.0.0");
        form.set("content", new Blob([randomBytes(500)]), "held_project-1.0.0.tar.gz");
        return fetch(`${b.repoUrl}/pypi-local/`, { method: "POST", headers: { authorization: `Bearer ${b.adminToken}` }, body: form });
      };
      const lock = await hold(a.services.db, "pypi\0pypi-local\0held-project");
      let res;
      try {
        res = await within(upload(), 10_000);
      } finally {
        lock.release();
        await lock.done;
      }
      if (res === "pending") assert.fail("the upload waited past its lock timeout");
      assert.equal(res.status, 503, await res.text());
      assert.match(res.headers.get("retry-after") ?? "", /^[1-9][0-9]*$/);
      const again = await upload();
      assert.ok(again.status < 300, `${again.status} ${await again.text()}`);
    });

    it("a maven deploy answers 503 with Retry-After while another node regenerates the artifact's metadata", async () => {
      const deploy = () => request("PUT", `${b.repoUrl}/maven-local/com/example/held/1.0/held-1.0.jar`, { token: b.adminToken, raw: "jar bytes" });
      const lock = await hold(a.services.db, "maven\0maven-local\0com/example/held");
      let res;
      try {
        res = await within(deploy(), 10_000);
      } finally {
        lock.release();
        await lock.done;
      }
      if (res === "pending") assert.fail("the deploy waited past its lock timeout");
      expectError(res, 503, "UNAVAILABLE");
      assert.match(res.headers.get("retry-after") ?? "", /^[1-9][0-9]*$/);
      const again = await deploy();
      assert.equal(again.status, 201, again.text);
      const meta = await b.repo("GET", "/maven-local/com/example/held/maven-metadata.xml", { token: b.adminToken });
      assert.match(meta.text, /<version>1\.0<\/version>/);
    });

    it("a publish that waits for the lock goes through when the holder releases it in time", async () => {
      const lock = await hold(a.services.db, "npm\0npm-local\0brief-pkg");
      const publishing = publish(b, "brief-pkg", "1.0.0");
      await sleep(200);
      lock.release();
      await lock.done;
      const res = await publishing;
      assert.equal(res.status, 201, res.text);
    });
  },
);

describe("cluster locks: waiting and holding", { skip: !pgUrl ? "TEST_DATABASE_URL is needed" : false }, () => {
  const logs: { level: string; msg: string }[] = [];
  const capture: Logger = {
    debug: () => {},
    info: (msg) => logs.push({ level: "info", msg }),
    warn: (msg) => logs.push({ level: "warn", msg }),
    error: (msg) => logs.push({ level: "error", msg }),
  };
  let url: string;
  let drop: () => Promise<void>;
  let holderNode: Database;
  let waiterNode: Database;
  let admin: pg.Client;
  const dirs: string[] = [];
  const open = (lockTimeoutMs: number, log?: Logger) => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "pantera-locks-"));
    dirs.push(dataDir);
    return openDatabase({ url, dataDir, lockTimeoutMs, log });
  };

  before(async () => {
    ({ url, drop } = await createPostgresDatabase());
    holderNode = await open(60_000);
    waiterNode = await open(800, capture);
    admin = new pg.Client({ connectionString: url, application_name: "lock-test-admin" });
    await admin.connect();
  });
  after(async () => {
    await admin?.end();
    await holderNode?.close();
    await waiterNode?.close();
    await drop?.();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /**
   * Client connections to the test database, apart from the test's own; `wakeups` counts instead the one
   * LISTEN connection a node opens for lock-release notifications (not a pool connection, and not per waiter).
   */
  async function connections(wakeups = false): Promise<number> {
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
         AND backend_type = 'client backend' AND (application_name = 'pantera-lock-wakeups') = $1`,
      [wakeups],
    );
    return rows[0].n;
  }

  it("10 waiters on one key time out with 503 and use at most one extra connection meanwhile", async () => {
    const lock = await hold(holderNode, "busy");
    const before = await connections();
    const waiters = Array.from({ length: 10 }, () =>
      waiterNode
        .withLock("busy", async () => "got it")
        .then(
          () => "acquired",
          (err: unknown) => err,
        ),
    );
    let peak = before;
    let listeners = 0;
    const sampling = (async () => {
      for (let i = 0; i < 12; i++) {
        peak = Math.max(peak, await connections());
        listeners = Math.max(listeners, await connections(true));
        await sleep(50);
      }
    })();
    let outcomes;
    try {
      outcomes = await within(Promise.all(waiters), 8_000);
      await sampling;
    } finally {
      lock.release();
      await lock.done;
      await Promise.all(waiters);
    }
    if (outcomes === "pending") assert.fail("waiters were still waiting long past their lock timeout");
    for (const o of outcomes) assert.ok(isLockTimeout(o), `expected a 503 lock timeout, got ${String(o)}`);
    assert.ok(peak - before <= 1, `10 waiters on one key used ${peak - before} extra pool connections`);
    assert.ok(listeners <= 2, `${listeners} lock-release listeners for two nodes`);
  });

  it("waiters on four held keys leave the lock pool free for a fifth key", async () => {
    const keys = ["k1", "k2", "k3", "k4"];
    const locks = await Promise.all(keys.map((k) => hold(holderNode, k)));
    const waiters = keys.map((k) => waiterNode.withLock(k, async () => "acquired").catch((err: unknown) => err));
    try {
      await sleep(100); // the waiters are at their locks by now
      const free = await within(
        waiterNode.withLock("k5", async () => "free"),
        5_000,
      );
      assert.equal(free, "free", "an uncontended key waited behind other keys' waiters");
    } finally {
      for (const l of locks) l.release();
      await Promise.all(locks.map((l) => l.done));
      await Promise.all(waiters);
    }
  });

  it("takes the lock as soon as the holder releases it", async () => {
    const lock = await hold(holderNode, "handover");
    let enteredAt = 0;
    const waiting = waiterNode.withLock("handover", async () => {
      enteredAt = Date.now();
    });
    await sleep(300);
    const releasedAt = Date.now();
    lock.release();
    await lock.done;
    await waiting;
    assert.ok(enteredAt >= releasedAt, "the waiter entered while the lock was held");
    // Backoff is capped at 200 ms: a free lock is seen within one pause (loose bound for a busy machine).
    assert.ok(enteredAt - releasedAt < 1_000, `took the released lock ${enteredAt - releasedAt} ms late`);
  });

  it("a holder whose connection drops finishes, its lock is freed by the server, and its connection is not reused", async () => {
    logs.length = 0;
    const result = await waiterNode.withLock("dropped", async () => {
      const { rows } = await admin.query<{ pid: number }>(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
      );
      assert.equal(rows.length, 1, "the section's advisory lock is held");
      await admin.query("SELECT pg_terminate_backend($1)", [rows[0].pid]);
      for (let i = 0; i < 100 && (await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [rows[0].pid])).rowCount; i++) await sleep(20);
      await sleep(50); // the client sees the server's goodbye
      return "finished";
    });
    assert.equal(result, "finished");
    // Another node can take it at once: the server dropped the lock with the session.
    assert.equal(
      await within(
        holderNode.withLock("dropped", async () => "taken"),
        5_000,
      ),
      "taken",
    );
    // The same node locks again on a fresh connection (the dead one would fail its query).
    for (let i = 0; i < 5; i++) assert.equal(await waiterNode.withLock("dropped", async () => i), i);
    assert.equal(logs.filter((l) => l.msg.includes("lock connection lost")).length, 1, JSON.stringify(logs));
  });

  it("logs a lost database connection once, however many connections drop, and its return once", async () => {
    // Some idle connections in both pools of the waiter node.
    await Promise.all(Array.from({ length: 3 }, () => waiterNode.sql.query("SELECT pg_sleep(0.05)")));
    await Promise.all(["i1", "i2", "i3"].map((k) => waiterNode.withLock(k, () => sleep(50))));
    logs.length = 0;
    const { rows } = await admin.query<{ n: number }>(
      "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND application_name <> 'lock-test-admin'",
    );
    assert.ok(rows[0].n >= 3, `terminated ${rows[0].n} connections`);
    for (let i = 0; i < 100 && (await connections()) > 0; i++) await sleep(20);
    await sleep(100);
    assert.deepEqual(logs, [{ level: "warn", msg: "database connection lost" }]);
    await waiterNode.sql.query("SELECT 1");
    await waiterNode.withLock("after", async () => undefined);
    assert.deepEqual(logs, [
      { level: "warn", msg: "database connection lost" },
      { level: "info", msg: "database connection restored" },
    ]);
  });
});
