// Domain event bus. In-process by default; with REDIS_URL every event is also
// published on a Redis channel so caches on every node react (user revoked, role changed...).
// A request never waits on Redis: publish() runs local handlers, queues the event (bounded) and returns;
// a background loop sends the queue to Redis, retrying with backoff while Redis is unreachable.
import { randomUUID } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../log.js";

export type PanteraEvent =
  | { type: "user.changed"; userId?: string; name?: string }
  | { type: "user.revoked"; userId: string; at: number }
  | { type: "role.changed"; name?: string }
  | { type: "token.revoked"; tokenHash: string }
  | { type: "settings.changed"; section: string }
  | { type: "repository.changed"; name: string }
  | { type: "storage.changed"; name: string; repository?: string }
  | { type: "artifact.stored"; repo: string; path: string };

type Handler = (event: PanteraEvent) => void | Promise<void>;

export const DEFAULT_CLUSTER_NAME = "pantera";
/** Events held while Redis is unreachable; past this the oldest go (the other nodes' polling repairs what they miss). */
export const DEFAULT_QUEUE_LIMIT = 10_000;
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2_000;
/** How long close() waits for queued events to leave. */
const CLOSE_FLUSH_MS = 1_000;

// No offline queue and no per-command retries: while disconnected a command fails at once, so nothing
// piles up inside ioredis; the bus's own queue holds what is waiting. A hung Redis fails a command in 1 s.
const CLIENT_OPTIONS: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  commandTimeout: 1_000,
  connectTimeout: 2_000,
  // The subscriber resubscribes itself on "ready", so that onReconnect runs once the subscription is live.
  autoResubscribe: false,
};

export interface EventBusOptions {
  /** Namespaces the Redis channel (`<clusterName>:events`), so clusters sharing a Redis stay apart. */
  clusterName?: string;
  queueLimit?: number;
}

export class EventBus {
  readonly nodeId = randomUUID();
  readonly channel: string;
  private handlers = new Set<Handler>();
  private reconnectHandlers = new Set<() => void | Promise<void>>();
  private pub?: Redis;
  private sub?: Redis;
  private queueLimit: number;
  /** Serialised messages waiting for Redis, oldest first. */
  private queue: string[] = [];
  /** Events dropped (oldest first) because the queue was full. */
  dropped = 0;
  private pumping = false;
  private wake?: () => void;
  private closing = false;
  /** Set while the publisher is down; the number of events sent since it came back is logged once the queue drains. */
  private pubDown = false;
  private pubRecovered = false;
  private sentSinceRecovery = 0;
  private subDown = false;
  private subEverReady = false;

  constructor(
    private log: Logger,
    opts: EventBusOptions = {},
  ) {
    this.channel = `${opts.clusterName || DEFAULT_CLUSTER_NAME}:events`;
    this.queueLimit = opts.queueLimit ?? DEFAULT_QUEUE_LIMIT;
  }

  /** Connects to Redis; resolves once the subscription is live so no event is missed. */
  async connectRedis(url: string): Promise<void> {
    const pub = new Redis(url, CLIENT_OPTIONS);
    const sub = new Redis(url, CLIENT_OPTIONS);
    this.pub = pub;
    this.sub = sub;
    pub.on("error", (err) => this.pubLost(err));
    pub.on("close", () => this.pubLost());
    pub.on("end", () => this.ended("publisher"));
    pub.on("ready", () => this.pubReady());
    sub.on("error", (err) => this.subLost(err));
    sub.on("close", () => this.subLost());
    sub.on("end", () => this.ended("subscriber"));
    sub.on("ready", () => void this.subReady());
    sub.on("message", (_channel, raw) => {
      try {
        const msg = JSON.parse(raw) as { origin: string; event: PanteraEvent };
        if (msg.origin !== this.nodeId) this.dispatch(msg.event);
      } catch (err) {
        this.log.warn("bad event on bus", { err: String(err) });
      }
    });
    try {
      await Promise.all([pub.connect(), sub.connect()]);
      await sub.subscribe(this.channel);
    } catch (err) {
      // Else both clients would keep reconnecting behind a node that failed to start.
      this.closing = true;
      pub.disconnect();
      sub.disconnect();
      throw err;
    }
    this.subEverReady = true;
  }

  get clustered(): boolean {
    return !!this.pub;
  }

  /** Events waiting to be sent to Redis. */
  get queued(): number {
    return this.queue.length;
  }

  on(handler: Handler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /**
   * `cb` runs each time the subscriber connection comes back after having been down (not on the first
   * connect), once the subscription is live again: events published meanwhile were missed, so resync.
   */
  onReconnect(cb: () => void | Promise<void>): () => void {
    this.reconnectHandlers.add(cb);
    return () => this.reconnectHandlers.delete(cb);
  }

  /** Runs local handlers now, then queues the event for the other nodes; never waits on Redis. */
  async publish(event: PanteraEvent): Promise<void> {
    this.dispatch(event);
    if (!this.pub || this.closing) return;
    if (this.queue.length >= this.queueLimit) {
      this.queue.shift();
      if (this.dropped++ === 0 || this.dropped % 1000 === 0) {
        this.log.warn("event queue full, oldest events dropped", { dropped: this.dropped, limit: this.queueLimit });
      }
    }
    this.queue.push(JSON.stringify({ origin: this.nodeId, event }));
    // Started synchronously: with Redis up the message is written to the socket before the caller's response.
    void this.pump();
  }

  /** Runs this node's handlers only, no fan-out (a resync replaying what it missed). */
  dispatchLocal(event: PanteraEvent): void {
    this.dispatch(event);
  }

  /** Waits until the queue is empty (true) or `timeoutMs` passed (false). */
  async flush(timeoutMs = 5_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length > 0 || this.pumping) {
      if (!this.pub || Date.now() >= deadline) return this.queue.length === 0;
      void this.pump();
      await sleep(Math.min(10, Math.max(1, deadline - Date.now())));
    }
    return true;
  }

  private async pump(): Promise<void> {
    if (this.pumping || !this.pub) return;
    this.pumping = true;
    let backoff = RETRY_MIN_MS;
    try {
      while (this.queue.length > 0 && this.pub) {
        const pub = this.pub;
        if (pub.status !== "ready") {
          if (this.closing) return;
          await this.waitForWake(backoff);
          backoff = Math.min(RETRY_MAX_MS, backoff * 2);
          continue;
        }
        const message = this.queue[0];
        try {
          await pub.publish(this.channel, message);
        } catch (err) {
          this.pubLost(err);
          if (this.closing) return;
          await this.waitForWake(backoff);
          backoff = Math.min(RETRY_MAX_MS, backoff * 2);
          continue;
        }
        // Sent: drop it unless the queue overflowed meanwhile and it already went.
        if (this.queue[0] === message) this.queue.shift();
        backoff = RETRY_MIN_MS;
        if (this.pubDown) this.pubUp(); // a command timed out on a live connection: no "ready" follows
        if (this.pubRecovered) this.sentSinceRecovery++;
      }
      if (this.pubRecovered && this.queue.length === 0) {
        this.log.info("event bus: Redis back, queued events sent", { sent: this.sentSinceRecovery, dropped: this.dropped });
        this.pubRecovered = false;
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Sleeps up to `ms`; the publisher coming back cuts it short. */
  private waitForWake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  // Connection state: one log line per transition, however many retries ioredis makes in between.
  private pubLost(err: unknown = "connection closed") {
    if (this.closing || this.pubDown) return;
    this.pubDown = true;
    this.pubRecovered = false;
    this.log.warn("event bus: Redis unreachable, events queued", { err: String(err) });
  }

  private pubReady() {
    if (this.pubDown) {
      this.pubUp();
      if (this.queue.length === 0) {
        this.log.info("event bus: Redis back, queued events sent", { sent: 0, dropped: this.dropped });
        this.pubRecovered = false;
      }
    }
    this.wake?.();
    void this.pump();
  }

  private pubUp() {
    this.pubDown = false;
    this.pubRecovered = true;
    this.sentSinceRecovery = 0;
  }

  private subLost(err: unknown = "connection closed") {
    if (this.closing || this.subDown || !this.subEverReady) return;
    this.subDown = true;
    this.log.warn("event bus: Redis unreachable, other nodes' events missed until it returns", { err: String(err) });
  }

  private async subReady() {
    if (!this.subEverReady || this.closing || !this.sub) return; // the first connect subscribes in connectRedis
    try {
      await this.sub.subscribe(this.channel);
    } catch (err) {
      this.subLost(err); // the next "ready" tries again
      return;
    }
    if (!this.subDown) return;
    this.subDown = false;
    this.log.info("event bus: Redis back, receiving other nodes' events again");
    for (const cb of this.reconnectHandlers) {
      try {
        const r = cb();
        if (r && typeof r.catch === "function") r.catch((err) => this.log.warn("reconnect handler failed", { err: String(err) }));
      } catch (err) {
        this.log.warn("reconnect handler failed", { err: String(err) });
      }
    }
  }

  private ended(role: string) {
    if (!this.closing) this.log.warn(`event bus: Redis ${role} connection ended`);
  }

  private dispatch(event: PanteraEvent) {
    for (const h of this.handlers) {
      try {
        const r = h(event);
        if (r && typeof (r as Promise<void>).catch === "function")
          (r as Promise<void>).catch((err) => this.log.warn("event handler failed", { err: String(err) }));
      } catch (err) {
        this.log.warn("event handler failed", { err: String(err) });
      }
    }
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.reconnectHandlers.clear();
    // Bounded: a node shutting down while Redis is away does not hang; the others' polling repairs the rest.
    if (this.queue.length > 0) await this.flush(CLOSE_FLUSH_MS);
    this.closing = true;
    this.wake?.();
    await Promise.all([quit(this.pub), quit(this.sub)]);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** QUIT when connected (graceful), else just stop reconnecting. */
async function quit(client: Redis | undefined): Promise<void> {
  if (!client) return;
  if (client.status === "ready") await client.quit().catch(() => client.disconnect());
  else client.disconnect();
}
