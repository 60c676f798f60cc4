// The event bus against a private redis-server the test stops and restarts: publish never waits on Redis,
// events queued during an outage are delivered after it (bounded queue), the reconnect hook, local-only
// dispatch, cluster-name channels and one log line per connection-state transition.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { LoginThrottle, RedisThrottleStore } from "../../src/auth/throttle.js";
import { EventBus, type PanteraEvent } from "../../src/events/bus.js";
import type { SettingsService } from "../../src/settings/service.js";
import type { Logger } from "../../src/log.js";
import { hasRedisServer, PrivateRedis, REDIS_SERVER, TcpProxy } from "../helpers/redis.js";

interface Line {
  level: string;
  msg: string;
}
function captureLogger(lines: Line[]): Logger {
  const rec = (level: string) => (msg: string) => void lines.push({ level, msg });
  return { debug: rec("debug"), info: rec("info"), warn: rec("warn"), error: rec("error") };
}

/** Events a bus receives, with a wait for the first one matching. */
function recorder(bus: EventBus) {
  const seen: PanteraEvent[] = [];
  const waiters: { match: (e: PanteraEvent) => boolean; resolve: () => void }[] = [];
  bus.on((e) => {
    seen.push(e);
    for (const w of [...waiters]) if (w.match(e)) w.resolve();
  });
  const waitFor = (match: (e: PanteraEvent) => boolean, what: string, ms = 10_000) =>
    new Promise<void>((resolve, reject) => {
      if (seen.some(match)) return resolve();
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      waiters.push({ match, resolve: () => (clearTimeout(timer), resolve()) });
    });
  return { seen, waitFor };
}

const repo = (name: string): PanteraEvent => ({ type: "repository.changed", name });
const isRepo = (name: string) => (e: PanteraEvent) => e.type === "repository.changed" && e.name === name;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("event bus with a private Redis", { skip: hasRedisServer() ? false : `${REDIS_SERVER} is needed` }, () => {
  let redis: PrivateRedis;
  const buses: EventBus[] = [];
  async function bus(opts: ConstructorParameters<typeof EventBus>[1] = {}, lines: Line[] = []): Promise<EventBus> {
    const b = new EventBus(captureLogger(lines), opts);
    await b.connectRedis(redis.url);
    buses.push(b);
    return b;
  }
  before(async () => {
    redis = await PrivateRedis.create();
  });
  after(async () => {
    if (!redis.running) await redis.start(); // a test failed while it was down: lets close() say goodbye
    await Promise.all(buses.map((b) => b.close()));
    await redis.stop();
  });

  it("dispatchLocal runs this node's handlers only; publish reaches the other node", async () => {
    const a = await bus();
    const b = await bus();
    const atA = recorder(a);
    const atB = recorder(b);
    a.dispatchLocal(repo("local-only"));
    assert.ok(atA.seen.some(isRepo("local-only")), "local handlers run synchronously");
    await a.publish(repo("fanned-out"));
    await atB.waitFor(isRepo("fanned-out"), "the published event on B");
    // Redis delivers in order: had the local-only event been sent, B would have it by now.
    assert.ok(!atB.seen.some(isRepo("local-only")), "dispatchLocal must not fan out");
  });

  it("two cluster names on one Redis do not see each other's events", async () => {
    const red = await bus({ clusterName: "red" });
    const red2 = await bus({ clusterName: "red" });
    const blue = await bus({ clusterName: "blue" });
    assert.equal(red.channel, "red:events");
    const atRed2 = recorder(red2);
    const atBlue = recorder(blue);
    await blue.publish(repo("blue-1"));
    await red.publish(repo("red-1"));
    await atRed2.waitFor(isRepo("red-1"), "red's event on red2");
    await red.publish(repo("red-2"));
    await blue.publish(repo("blue-2"));
    await atBlue.waitFor(isRepo("blue-2"), "blue's own later event");
    assert.ok(!atBlue.seen.some(isRepo("red-1")) && !atBlue.seen.some(isRepo("red-2")), "blue saw red's events");
    assert.ok(!atRed2.seen.some(isRepo("blue-1")), "red saw blue's events");
  });

  it("an outage of one node's Redis link: publish returns at once, bounded queue, queued events arrive after it", async () => {
    // A reaches Redis through a proxy the test cuts; B stays connected, so what A sends after the cut is
    // received for sure (with Redis itself restarted, B's resubscribe and A's resend would race).
    const proxy = await TcpProxy.create(redis.port);
    const aLines: Line[] = [];
    const a = new EventBus(captureLogger(aLines), { queueLimit: 3 });
    await a.connectRedis(proxy.url);
    buses.push(a);
    const b = await bus();
    const atA = recorder(a);
    const atB = recorder(b);
    let reconnects = 0;
    const reconnected = new Promise<void>((resolve) => a.onReconnect(() => (reconnects++, resolve())));
    await a.publish(repo("before"));
    await atB.waitFor(isRepo("before"), "the event before the outage");
    assert.equal(reconnects, 0, "the first connect is not a reconnect");
    assert.equal(await a.flush(), true, "Redis acknowledged the first event"); // else it is resent, and counts below

    await proxy.stop();
    // Each publish has resolved by the next turn of the event loop: it waited on no socket.
    for (const name of ["q1", "q2", "q3", "q4", "q5"]) {
      let resolved = false;
      void a.publish(repo(name)).then(() => (resolved = true));
      await new Promise((r) => setImmediate(r));
      assert.ok(resolved, `publish(${name}) waited on Redis`);
    }
    assert.equal(a.queued, 3, "queue bounded to 3");
    assert.equal(a.dropped, 2, "the 2 oldest dropped");
    assert.equal(await a.flush(100), false, "flush reports what could not be sent");
    await sleep(1_000); // ioredis retries several times meanwhile; each must not log again

    await proxy.start();
    await reconnected;
    for (const name of ["q3", "q4", "q5"]) await atB.waitFor(isRepo(name), `queued ${name} on B`);
    assert.ok(!atB.seen.some(isRepo("q1")) && !atB.seen.some(isRepo("q2")), "dropped events are not sent");
    assert.equal(await a.flush(5_000), true);
    assert.equal(a.queued, 0);
    // The hook ran once the subscription was live again: B's next event reaches A.
    await b.publish(repo("after"));
    await atA.waitFor(isRepo("after"), "an event after the outage on A");
    assert.equal(reconnects, 1);

    const count = (text: string) => aLines.filter((l) => l.msg.includes(text)).length;
    // One "unreachable" per client (publisher, subscriber) and one "back" each, however many retries.
    assert.equal(count("Redis unreachable, events queued"), 1, JSON.stringify(aLines));
    assert.equal(count("Redis unreachable, other nodes' events missed"), 1, JSON.stringify(aLines));
    assert.equal(count("Redis back, queued events sent"), 1, JSON.stringify(aLines));
    assert.equal(count("Redis back, receiving"), 1, JSON.stringify(aLines));
    assert.equal(aLines.filter((l) => l.level === "warn").length, 3, "two unreachable lines and one queue-full line");
    await proxy.close();
  });

  it("Redis restarted: every node's reconnect hook runs once and events flow again", async () => {
    const aLines: Line[] = [];
    const a = await bus({}, aLines);
    const b = await bus();
    const atA = recorder(a);
    const atB = recorder(b);
    let reconnectsA = 0;
    let reconnectsB = 0;
    const backA = new Promise<void>((resolve) => a.onReconnect(() => (reconnectsA++, resolve())));
    const backB = new Promise<void>((resolve) => b.onReconnect(() => (reconnectsB++, resolve())));
    await redis.stop();
    await sleep(500);
    await redis.start();
    await Promise.all([backA, backB]);
    await a.publish(repo("a-after"));
    await b.publish(repo("b-after"));
    await atB.waitFor(isRepo("a-after"), "A's event on B");
    await atA.waitFor(isRepo("b-after"), "B's event on A");
    assert.deepEqual([reconnectsA, reconnectsB], [1, 1]);
    assert.equal(aLines.filter((l) => l.msg.includes("Redis unreachable")).length, 2, JSON.stringify(aLines));
    assert.equal(aLines.filter((l) => l.msg.includes("Redis back")).length, 2, JSON.stringify(aLines));
  });

  it("a hung Redis (connections open, no answers): publish still returns at once; events go once it answers", async () => {
    const lines: Line[] = [];
    const a = await bus({}, lines);
    const b = await bus();
    const atB = recorder(b);
    redis.pause();
    try {
      let resolved = false;
      void a.publish(repo("hung-1")).then(() => (resolved = true));
      await new Promise((r) => setImmediate(r));
      assert.ok(resolved, "publish waited on Redis");
      await sleep(1_500); // past the 1 s command timeout, then some retries
      assert.equal(await a.flush(10), false);
    } finally {
      redis.pause(true);
    }
    await atB.waitFor(isRepo("hung-1"), "the event once Redis answers");
    assert.equal(await a.flush(5_000), true);
    assert.equal(lines.filter((l) => l.msg.includes("Redis unreachable, events queued")).length, 1, JSON.stringify(lines));
    assert.equal(lines.filter((l) => l.msg.includes("Redis back, queued events sent")).length, 1, JSON.stringify(lines));
  });

  it("login throttle: Redis keys under the cluster name; one log line per Redis state change", async () => {
    const lines: Line[] = [];
    const settings = { get: async () => ({ login_max_failures_per_user: 5 }) } as unknown as SettingsService;
    const store = new RedisThrottleStore(redis.url, captureLogger(lines));
    await store.ready();
    const throttle = new LoginThrottle(settings, () => Buffer.from("secret"), store, "red");
    const raw = new Redis(redis.url);
    try {
      await throttle.failure("judy", "192.0.2.7");
      const keys = (await raw.keys("*:login:*")).sort();
      assert.equal(keys.length, 2, JSON.stringify(keys));
      assert.ok(
        keys.every((k) => k.startsWith("red:login:")),
        JSON.stringify(keys),
      );
      raw.disconnect();

      await redis.stop();
      await sleep(1_000); // several reconnect attempts
      await throttle.failure("judy", "192.0.2.7"); // counted in memory meanwhile
      await redis.start();
      await store.ready(10_000);
      await throttle.check("judy", "192.0.2.7");
      assert.equal(lines.filter((l) => l.msg.includes("Redis unreachable")).length, 1, JSON.stringify(lines));
      assert.equal(lines.filter((l) => l.msg.includes("Redis reachable again")).length, 1, JSON.stringify(lines));
    } finally {
      raw.disconnect();
      await throttle.close();
    }
  });
});
