// The change feed's cursor (late commits with a lower seq are not skipped), its row -> event mapping,
// the poller (one invalidation per entry, failures logged once), and the triggers on both databases.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { ChangeCursor, ChangeFeed, eventForChange, readChanges, type ChangePage } from "../../src/cluster/change-feed.js";
import { openDatabase, type Database } from "../../src/db/index.js";
import type { SqlRunner } from "../../src/db/migrate.js";
import type { PanteraEvent } from "../../src/events/bus.js";
import { createLogger } from "../../src/log.js";
import { backends, createPostgresDatabase, postgresUrl } from "../helpers/server.js";

const row = (seq: number, xid: number, kind = "settings", key = "s" + seq) => ({ seq: String(seq), kind, key, xid: String(xid) });

describe("ChangeCursor", () => {
  it("delivers a row that commits after a higher seq was read (the sequence gap)", () => {
    const cursor = new ChangeCursor(90n);
    // Transaction 100 took seq 7 and is still open; transaction 101 took seq 8 and committed.
    const first: ChangePage = { xmin: "100", rows: [row(8, 101)] };
    assert.deepEqual(
      cursor.accept(first).map((r) => r.seq),
      ["8"],
    );
    assert.equal(cursor.since, "100"); // the open transaction's rows will be read again
    // 100 committed: the next poll reads both rows again and delivers only the late one.
    const second: ChangePage = { xmin: "102", rows: [row(7, 100), row(8, 101)] };
    assert.deepEqual(
      cursor.accept(second).map((r) => r.seq),
      ["7"],
    );
    assert.equal(cursor.since, "102");
  });

  it("drops repeats and forgets rows once the floor passes their transaction", () => {
    const cursor = new ChangeCursor();
    assert.equal(cursor.accept({ xmin: "5", rows: [row(1, 5), row(2, 6)] }).length, 2);
    assert.equal(cursor.remembered, 2);
    assert.equal(cursor.accept({ xmin: "6", rows: [row(1, 5), row(2, 6)] }).length, 0);
    assert.equal(cursor.remembered, 1); // xid 5 < floor 6: never read again
    assert.equal(
      cursor
        .accept({ xmin: "9", rows: [row(2, 6), row(3, 9)] })
        .map((r) => r.seq)
        .join(),
      "3",
    );
    assert.equal(cursor.remembered, 1);
  });

  it("never moves the floor back", () => {
    const cursor = new ChangeCursor(50n);
    cursor.accept({ xmin: "40", rows: [] });
    assert.equal(cursor.since, "50");
  });
});

describe("eventForChange", () => {
  it("maps each cached table to the event its writers publish", () => {
    assert.deepEqual(eventForChange({ kind: "repositories", key: "r" }), { type: "repository.changed", name: "r" });
    assert.deepEqual(eventForChange({ kind: "settings", key: "prefixes" }), { type: "settings.changed", section: "prefixes" });
    assert.deepEqual(eventForChange({ kind: "storage_aliases", key: "s3" }), { type: "storage.changed", name: "s3" });
    assert.deepEqual(eventForChange({ kind: "auth_providers", key: "okta" }), { type: "settings.changed", section: "auth_providers" });
    assert.deepEqual(eventForChange({ kind: "users", key: "u1" }), { type: "user.changed", userId: "u1" });
    assert.deepEqual(eventForChange({ kind: "user_roles", key: "u1" }), { type: "user.changed", userId: "u1" });
    assert.deepEqual(eventForChange({ kind: "roles", key: "dev" }), { type: "role.changed", name: "dev" });
    assert.deepEqual(eventForChange({ kind: "api_tokens", key: "h" }), { type: "token.revoked", tokenHash: "h" });
    assert.equal(eventForChange({ kind: "a_newer_table", key: "x" }), null);
  });
});

/** A SqlRunner answering the poll from a script of pages (or errors). */
function scripted(pages: (ChangePage | Error)[]): SqlRunner & { polls: number } {
  const runner = {
    polls: 0,
    exec: async () => {},
    query: async (sql: string): Promise<any[]> => {
      if (sql.startsWith("SELECT pg_snapshot_xmin")) return [{ xmin: "1" }];
      if (sql.startsWith("DELETE")) return [];
      const page = pages[Math.min(runner.polls++, pages.length - 1)];
      if (page instanceof Error) throw page;
      return page.rows.length ? page.rows.map((r) => ({ xmin: page.xmin, ...r })) : [{ xmin: page.xmin, seq: null }];
    },
  };
  return runner;
}

function recordingLogger() {
  const lines: string[] = [];
  const log = createLogger("silent");
  return { log: { ...log, warn: (m: string) => lines.push("warn " + m), info: (m: string) => lines.push("info " + m) } as typeof log, lines };
}

describe("ChangeFeed", () => {
  it("dispatches one invalidation per entry per poll, in order", async () => {
    const events: PanteraEvent[] = [];
    const sql = scripted([
      { xmin: "1", rows: [] }, // start
      { xmin: "3", rows: [row(1, 2, "repositories", "a"), row(2, 2, "repositories", "a"), row(3, 2, "roles", "dev")] },
    ]);
    const feed = new ChangeFeed(sql, (e) => events.push(e), createLogger("silent"), { intervalMs: 60_000 });
    await feed.start();
    await feed.poll();
    await feed.stop();
    assert.deepEqual(events, [
      { type: "repository.changed", name: "a" },
      { type: "role.changed", name: "dev" },
    ]);
  });

  it("logs a failing database once per outage and catches up when it is back", async () => {
    const events: PanteraEvent[] = [];
    const down = new Error("connect ECONNREFUSED");
    const sql = scripted([{ xmin: "1", rows: [] }, down, down, down, { xmin: "5", rows: [row(4, 3, "settings", "prefixes")] }]);
    const { log, lines } = recordingLogger();
    const feed = new ChangeFeed(sql, (e) => events.push(e), log, { intervalMs: 60_000 });
    await feed.start();
    for (let i = 0; i < 4; i++) await feed.poll();
    await feed.stop();
    assert.deepEqual(lines, ["warn change feed: poll failed; retrying every interval", "info change feed: database reachable again"]);
    assert.deepEqual(events, [{ type: "settings.changed", section: "prefixes" }]);
  });
});

for (const backend of backends()) {
  describe(`change_log triggers (${backend})`, () => {
    let db: Database;
    let cleanup: () => Promise<void>;
    before(async () => {
      if (backend === "postgres") {
        const made = await createPostgresDatabase();
        db = await openDatabase({ url: made.url, dataDir: os.tmpdir() });
        cleanup = made.drop;
      } else {
        const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-feed-"));
        db = await openDatabase({ dataDir: dir });
        cleanup = async () => rmSync(dir, { recursive: true, force: true });
      }
    });
    after(async () => {
      await db?.close();
      await cleanup?.();
    });

    it("log inserts, updates (old and new key on a rename) and deletes of cached rows", async () => {
      const cursor = new ChangeCursor();
      cursor.accept(await readChanges(db.sql, "0"));
      await db.prisma.repository.create({ data: { name: "one", type: "file", storage: "default", config: {} } });
      await db.prisma.repository.update({ where: { name: "one" }, data: { name: "two" } });
      await db.prisma.setting.create({ data: { section: "prefixes", value: { prefixes: ["x"] } } });
      await db.prisma.repository.delete({ where: { name: "two" } });
      const user = await db.prisma.user.create({ data: { name: "u" } });
      await db.prisma.apiToken.create({ data: { userId: user.id, tokenHash: "h1", label: "ci" } }); // not logged: nothing cached
      await db.prisma.apiToken.update({ where: { tokenHash: "h1" }, data: { revokedAt: new Date() } });
      const fresh = cursor.accept(await readChanges(db.sql, cursor.since)).map((r) => `${r.kind}:${r.key}`);
      assert.deepEqual(fresh, [
        "repositories:one",
        "repositories:one",
        "repositories:two",
        "settings:prefixes",
        "repositories:two",
        `users:${user.id}`,
        "api_tokens:h1",
      ]);
    });

    it("rows past the retention are pruned by the poller", async () => {
      await db.sql.query(`INSERT INTO change_log (kind, key, at) VALUES ('settings', 'ancient', now() - interval '2 hours')`);
      await db.prisma.setting.create({ data: { section: "recent", value: {} } });
      const feed = new ChangeFeed(db.sql, () => {}, createLogger("silent"), { intervalMs: 60_000, retentionMs: 3_600_000, pruneEveryMs: 0 });
      await feed.start();
      await feed.poll();
      await feed.stop();
      const keys = (await db.sql.query<{ key: string }>("SELECT key FROM change_log")).map((r) => r.key);
      assert.ok(!keys.includes("ancient"), keys.join());
      assert.ok(keys.includes("recent"), keys.join());
    });
  });
}

describe("change feed on PostgreSQL: a transaction committing late", { skip: !postgresUrl() ? "TEST_DATABASE_URL is needed" : false }, () => {
  let db: Database;
  let drop: () => Promise<void>;
  let url: string;
  before(async () => {
    const made = await createPostgresDatabase();
    ({ url, drop } = made);
    db = await openDatabase({ url, dataDir: os.tmpdir() });
  });
  after(async () => {
    await db?.close();
    await drop?.();
  });

  it("is delivered by the next poll although a higher seq was delivered before it", async () => {
    const cursor = new ChangeCursor();
    cursor.accept(await readChanges(db.sql, "0"));
    const slow = new pg.Client({ connectionString: url });
    await slow.connect();
    try {
      await slow.query("BEGIN");
      await slow.query(`INSERT INTO settings (section, value, updated_at) VALUES ('slow', '{}', now())`); // takes the lower seq
      await db.prisma.setting.create({ data: { section: "fast", value: {} } }); // higher seq, committed first
      const first = cursor.accept(await readChanges(db.sql, cursor.since));
      assert.deepEqual(
        first.map((r) => r.key),
        ["fast"],
      );
      await slow.query("COMMIT");
      const second = cursor.accept(await readChanges(db.sql, cursor.since));
      assert.deepEqual(
        second.map((r) => r.key),
        ["slow"],
      );
      assert.ok(BigInt(second[0].seq) < BigInt(first[0].seq), "the late row has the lower seq: 'seq > last seen' would skip it");
      assert.deepEqual(cursor.accept(await readChanges(db.sql, cursor.since)), []);
    } finally {
      await slow.end();
    }
  });

  it("skips rows of a transaction that rolled back", async () => {
    const cursor = new ChangeCursor();
    cursor.accept(await readChanges(db.sql, "0"));
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query("BEGIN");
      await c.query(`INSERT INTO settings (section, value, updated_at) VALUES ('gone', '{}', now())`);
      await c.query("ROLLBACK");
    } finally {
      await c.end();
    }
    await db.prisma.setting.create({ data: { section: "kept", value: {} } });
    assert.deepEqual(
      cursor.accept(await readChanges(db.sql, cursor.since)).map((r) => r.key),
      ["kept"],
    );
  });
});
