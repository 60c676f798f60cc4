// Change feed poller: every node reads the change_log table (filled by triggers, migration 0006) every
// few seconds and turns each change into the local invalidation its bus event would have caused. Redis
// pub/sub stays the fast path; this repairs whatever an outage or a lost message left stale.
import type { PanteraEvent } from "../events/bus.js";
import type { SqlRunner } from "../db/migrate.js";
import type { Logger } from "../log.js";

/** One change_log row; ids as text (bigint and xid8 exceed what a JS number holds exactly). */
export interface ChangeRow {
  seq: string;
  kind: string;
  key: string;
  xid: string;
}

/** One poll's answer: the rows read and the xmin of the snapshot they were read under. */
export interface ChangePage {
  xmin: string;
  rows: ChangeRow[];
}

/**
 * Which rows of a poll are new.
 *
 * Sequence numbers are handed out when a row is inserted, not when its transaction commits, so a
 * transaction holding seq 7 may commit after seq 8 was read: "seq > last seen" would skip 7 for good.
 * A time window (re-read the last few seconds) only narrows that: a transaction open longer than the
 * window still slips through. Instead each poll reads every row whose transaction id is at least the
 * previous snapshot's xmin (the oldest transaction then still running): a row invisible to that
 * snapshot belonged to a transaction running at the time, so its xid is >= that xmin and the next
 * poll reads it; every older transaction had finished, and its rows were either seen or never will be
 * (rolled back). Rows read twice are dropped by seq. The cost is re-reading rows of transactions at or
 * above xmin; one long-running transaction anywhere on the server holds xmin back and makes each poll
 * re-read the changes since it began (config changes: few rows, pruned after an hour).
 */
export class ChangeCursor {
  /** Rows of transactions with xid >= floor are read again on every poll. */
  private floor: bigint;
  /** seq -> xid of rows already delivered that a later poll may read again. */
  private seen = new Map<string, bigint>();

  constructor(floor: bigint | string = 0n) {
    this.floor = BigInt(floor);
  }

  /** The xid from which the next poll must read. */
  get since(): string {
    return this.floor.toString();
  }

  /** The rows of `page` not delivered before (in the page's order), advancing the cursor past it. */
  accept(page: ChangePage): ChangeRow[] {
    const fresh: ChangeRow[] = [];
    for (const row of page.rows) {
      if (this.seen.has(row.seq)) continue;
      this.seen.set(row.seq, BigInt(row.xid));
      fresh.push(row);
    }
    const xmin = BigInt(page.xmin);
    if (xmin > this.floor) this.floor = xmin;
    // Rows below the new floor are never read again: forget them, so `seen` stays as small as the window.
    for (const [seq, xid] of this.seen) if (xid < this.floor) this.seen.delete(seq);
    return fresh;
  }

  /** How many delivered rows are kept to drop repeats (tests). */
  get remembered(): number {
    return this.seen.size;
  }
}

/** The bus event a change to a cached table stands for; null for tables this node does not know (a newer migration's). */
export function eventForChange(row: Pick<ChangeRow, "kind" | "key">): PanteraEvent | null {
  switch (row.kind) {
    case "repositories":
      return { type: "repository.changed", name: row.key };
    case "settings":
      return { type: "settings.changed", section: row.key };
    case "storage_aliases":
      return { type: "storage.changed", name: row.key };
    case "auth_providers":
      return { type: "settings.changed", section: "auth_providers" };
    case "users":
    case "user_roles":
      return { type: "user.changed", userId: row.key };
    case "roles":
      return { type: "role.changed", name: row.key };
    case "api_tokens":
      return { type: "token.revoked", tokenHash: row.key };
    default:
      return null;
  }
}

/** One query: the snapshot's xmin and every row of a transaction at or above the cursor (the LEFT JOIN keeps the xmin when none). */
const POLL_SQL = `WITH snap AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
SELECT snap.xmin::text AS xmin, c.seq::text AS seq, c.kind, c.key, c.xid::text AS xid
FROM snap LEFT JOIN change_log c ON c.xid >= $1::xid8
ORDER BY c.seq`;

export async function readChanges(sql: SqlRunner, since: string): Promise<ChangePage> {
  const rows = await sql.query<{ xmin: string; seq: string | null; kind: string; key: string; xid: string }>(POLL_SQL, [since]);
  return { xmin: rows[0].xmin, rows: rows.filter((r) => r.seq !== null).map((r) => ({ seq: r.seq!, kind: r.kind, key: r.key, xid: r.xid })) };
}

export interface ChangeFeedOptions {
  intervalMs: number;
  /** Rows older than this are deleted (each node prunes; a node away longer misses them). */
  retentionMs?: number;
  pruneEveryMs?: number;
}

const RETENTION_MS = 60 * 60_000;
const PRUNE_EVERY_MS = 60_000;

export class ChangeFeed {
  private cursor?: ChangeCursor;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private failing = false;
  private lastPrune = Date.now();

  constructor(
    private sql: SqlRunner,
    private dispatch: (event: PanteraEvent) => void,
    private log: Logger,
    private opts: ChangeFeedOptions,
  ) {}

  /** Starts at the current end of the feed (this node's caches are empty: nothing before it is stale). */
  async start(): Promise<void> {
    const [{ xmin }] = await this.sql.query<{ xmin: string }>("SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin");
    const cursor = new ChangeCursor(xmin);
    // Rows of transactions still at or above xmin are marked seen, not delivered.
    cursor.accept(await readChanges(this.sql, xmin));
    this.cursor = cursor;
    this.schedule();
  }

  private schedule() {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.poll(), this.opts.intervalMs);
    this.timer.unref();
  }

  /** Polls now (Redis reconnected: events may have been lost); a poll under way is followed by one more. */
  poll(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    clearTimeout(this.timer);
    this.running = this.pollOnce().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.poll();
      } else this.schedule();
    });
    return this.running;
  }

  private async pollOnce(): Promise<void> {
    const cursor = this.cursor;
    if (!cursor || this.stopped) return;
    try {
      const fresh = cursor.accept(await readChanges(this.sql, cursor.since));
      // One invalidation per entry even when a poll holds many rows for it (a bulk update, a cascade).
      const done = new Set<string>();
      for (const row of fresh) {
        const id = row.kind + "\0" + row.key;
        if (done.has(id)) continue;
        done.add(id);
        const event = eventForChange(row);
        if (event) this.dispatch(event);
      }
      if (Date.now() - this.lastPrune >= (this.opts.pruneEveryMs ?? PRUNE_EVERY_MS)) {
        this.lastPrune = Date.now();
        const seconds = Math.ceil((this.opts.retentionMs ?? RETENTION_MS) / 1000);
        await this.sql.query(`DELETE FROM change_log WHERE at < now() - make_interval(secs => $1)`, [seconds]);
      }
      if (this.failing) this.log.info("change feed: database reachable again");
      this.failing = false;
    } catch (err) {
      // Once per outage, not per poll; the cursor is kept, so the next successful poll catches up.
      if (!this.failing) this.log.warn("change feed: poll failed; retrying every interval", { err: String(err) });
      this.failing = true;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
