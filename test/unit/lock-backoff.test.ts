// The backoff between tries at a PostgreSQL advisory lock, and the process-local lock queue in front of it
// (also the whole lock on PGlite): FIFO per key, and a waiter past its timeout leaves with 503.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DomainError } from "../../src/errors.js";
import { lockBackoffMs, processLocks } from "../../src/db/index.js";

describe("lock backoff", () => {
  it("doubles from 5 ms and stops at 200 ms", () => {
    const top = (attempt: number) => lockBackoffMs(attempt, () => 1);
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 20, 1000].map(top), [5, 10, 20, 40, 80, 160, 200, 200, 200, 200]);
  });

  it("jitters each pause down by at most half", () => {
    assert.equal(
      lockBackoffMs(0, () => 0),
      2.5,
    );
    assert.equal(
      lockBackoffMs(9, () => 0),
      100,
    );
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(200, 5 * 2 ** attempt);
      for (let i = 0; i < 50; i++) {
        const ms = lockBackoffMs(attempt);
        assert.ok(ms >= ceiling / 2 && ms <= ceiling, `attempt ${attempt}: ${ms} ms outside [${ceiling / 2}, ${ceiling}]`);
      }
    }
  });

  it("spreads waiters that start together", () => {
    const pauses = new Set(Array.from({ length: 20 }, () => lockBackoffMs(3)));
    assert.ok(pauses.size > 1, "twenty waiters must not all retry at the same instant");
  });
});

describe("process-local locks", () => {
  const deferred = () => {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  };

  it("runs sections on one key one at a time, in arrival order", async () => {
    const withLock = processLocks(10_000);
    const order: string[] = [];
    let inside = 0;
    const section = (name: string) =>
      withLock("k", async () => {
        inside++;
        assert.equal(inside, 1, "two sections inside one key's lock");
        order.push(name);
        await new Promise((r) => setTimeout(r, 5));
        inside--;
      });
    await Promise.all(["a", "b", "c", "d"].map(section));
    assert.deepEqual(order, ["a", "b", "c", "d"]);
  });

  it("does not serialise different keys", async () => {
    const withLock = processLocks(10_000);
    const gate = deferred();
    const held = withLock("one", () => gate.promise);
    assert.equal(await withLock("two", async () => "free"), "free");
    gate.resolve();
    await held;
  });

  it("answers 503 with Retry-After to a waiter past its timeout, and the queue behind it still moves", async () => {
    const withLock = processLocks(50);
    const gate = deferred();
    const held = withLock("k", () => gate.promise);
    const late = withLock("k", async () => "never");
    await assert.rejects(late, (err: unknown) => {
      assert.ok(err instanceof DomainError);
      assert.equal(err.code, "UNAVAILABLE");
      assert.equal(err.status, 503);
      assert.ok(err.retryAfter !== undefined && err.retryAfter >= 1);
      return true;
    });
    gate.resolve();
    await held;
    assert.equal(await withLock("k", async () => "next"), "next", "the key is free once the holder is done");
  });

  it("a waiter that times out does not hand the held lock to the one behind it", async () => {
    const withLock = processLocks(200);
    const gate = deferred();
    let holding = true;
    const held = withLock("k", async () => {
      await gate.promise;
      holding = false;
    });
    const first = withLock("k", async () => "first").catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 100));
    let ranWhileHeld: boolean | undefined;
    const second = withLock("k", async () => {
      ranWhileHeld = holding;
      return "second";
    });
    assert.ok((await first) instanceof DomainError, "the first waiter gives up at its timeout");
    gate.resolve(); // ~100 ms before the second waiter's own timeout
    await held;
    assert.equal(await second, "second");
    assert.equal(ranWhileHeld, false);
  });

  it("frees the key when a section throws", async () => {
    const withLock = processLocks(1_000);
    await assert.rejects(
      withLock("k", async () => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.equal(await withLock("k", async () => "after"), "after");
  });
});
