// Domain event bus. In-process by default; with REDIS_URL every event is also
// published on a Redis channel so caches on every node react (user revoked, role changed...).
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
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
const CHANNEL = "pantera:events";

export class EventBus {
  readonly nodeId = randomUUID();
  private handlers = new Set<Handler>();
  private pub?: Redis;
  private sub?: Redis;

  constructor(private log: Logger) {}

  /** Connects to Redis; resolves once the subscription is live so no event is missed. */
  async connectRedis(url: string): Promise<void> {
    this.pub = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.sub = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    await Promise.all([this.pub.connect(), this.sub.connect()]);
    this.sub.on("message", (_channel, raw) => {
      try {
        const msg = JSON.parse(raw) as { origin: string; event: PanteraEvent };
        if (msg.origin !== this.nodeId) this.dispatch(msg.event);
      } catch (err) {
        this.log.warn("bad event on bus", { err: String(err) });
      }
    });
    await this.sub.subscribe(CHANNEL);
  }

  get clustered(): boolean {
    return !!this.pub;
  }

  on(handler: Handler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Runs local handlers now, then fans out to other nodes. */
  async publish(event: PanteraEvent): Promise<void> {
    this.dispatch(event);
    if (this.pub) {
      try {
        await this.pub.publish(CHANNEL, JSON.stringify({ origin: this.nodeId, event }));
      } catch (err) {
        this.log.warn("event fan-out failed", { err: String(err), type: event.type });
      }
    }
  }

  private dispatch(event: PanteraEvent) {
    for (const h of this.handlers) {
      try {
        const r = h(event);
        if (r && typeof (r as Promise<void>).catch === "function") (r as Promise<void>).catch((err) => this.log.warn("event handler failed", { err: String(err) }));
      } catch (err) {
        this.log.warn("event handler failed", { err: String(err) });
      }
    }
  }

  async close(): Promise<void> {
    this.handlers.clear();
    await Promise.all([this.pub?.quit().catch(() => {}), this.sub?.quit().catch(() => {})]);
  }
}
