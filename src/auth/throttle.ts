// Login throttling: failed password checks are counted per user name and per client address; after
// `max` failures each further attempt is refused (429) for a lockout that doubles per failure up to a cap.
// Counts live in Redis when configured (every node sees them), else, or while Redis is unreachable, per node.
import { createHmac } from "node:crypto";
import { Redis } from "ioredis";
import { DomainError, tooManyRequests } from "../errors.js";
import type { Logger } from "../log.js";
import { LOGIN_THROTTLE_DEFAULTS, type SettingsService } from "../settings/service.js";

export interface ThrottleLimits {
  /** Failures forgotten this long after the last one (or after the lockout it caused ends). */
  windowMs: number;
  lockoutMs: number;
  lockoutMaxMs: number;
}

export interface CountedKey {
  key: string;
  maxFailures: number;
}

export interface KeyState {
  failures: number;
  /** Time left on the lockout, 0 when not locked. */
  lockedMs: number;
}

/** Where failure counts live. Keys come in pairs with their lock: `<key>` and `<key>:lock`. */
export interface ThrottleStore {
  peek(keys: string[]): Promise<KeyState[]>;
  /** Counts one failure on each key; returns the new counts. */
  fail(keys: CountedKey[], limits: ThrottleLimits): Promise<number[]>;
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}

/** The lockout the `failures`-th failure starts: none below the threshold, then base, 2×base, ... up to the cap. */
export function lockoutMs(failures: number, maxFailures: number, limits: ThrottleLimits): number {
  if (failures < maxFailures) return 0;
  return Math.floor(Math.min(limits.lockoutMaxMs, limits.lockoutMs * 2 ** Math.min(failures - maxFailures, 30)));
}

interface MemoryEntry {
  failures: number;
  lockedUntil: number;
  expires: number;
}

export class MemoryThrottleStore implements ThrottleStore {
  private entries = new Map<string, MemoryEntry>();

  /** `maxEntries` bounds memory when many names are tried; the entries failed longest ago go first. */
  constructor(private maxEntries = 100_000) {}

  private live(key: string, now: number): MemoryEntry | undefined {
    const e = this.entries.get(key);
    if (e && e.expires <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  async peek(keys: string[]): Promise<KeyState[]> {
    const now = Date.now();
    return keys.map((key) => {
      const e = this.live(key, now);
      return { failures: e?.failures ?? 0, lockedMs: e ? Math.max(0, e.lockedUntil - now) : 0 };
    });
  }

  async fail(keys: CountedKey[], limits: ThrottleLimits): Promise<number[]> {
    const now = Date.now();
    return keys.map(({ key, maxFailures }) => {
      const e = this.live(key, now) ?? { failures: 0, lockedUntil: 0, expires: 0 };
      e.failures++;
      const lock = lockoutMs(e.failures, maxFailures, limits);
      if (lock) e.lockedUntil = now + lock;
      e.expires = now + limits.windowMs + lock;
      this.entries.delete(key); // re-inserted last: Map order is then the eviction order
      this.entries.set(key, e);
      if (this.entries.size > this.maxEntries) this.evict();
      return e.failures;
    });
  }

  private evict() {
    let drop = Math.ceil(this.maxEntries / 10);
    for (const key of this.entries.keys()) {
      if (drop-- <= 0) break;
      this.entries.delete(key);
    }
  }

  async reset(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}

// KEYS: count/lock pairs. Returns, per pair, the failure count and the lock's remaining ms (<= 0: none).
const PEEK_SCRIPT = `
local out = {}
for i = 1, #KEYS, 2 do
  out[#out + 1] = tonumber(redis.call('GET', KEYS[i]) or '0')
  out[#out + 1] = redis.call('PTTL', KEYS[i + 1])
end
return out`;

// KEYS: count/lock pairs; ARGV: window, lockout, lockout cap (ms), then the threshold of each pair.
// Same arithmetic as lockoutMs, so a node falling back to memory behaves alike.
const FAIL_SCRIPT = `
local window, base, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 1, #KEYS, 2 do
  local max = tonumber(ARGV[3 + (i + 1) / 2])
  local n = redis.call('INCR', KEYS[i])
  local lock = 0
  if n >= max then
    lock = math.floor(math.min(cap, base * 2 ^ math.min(n - max, 30)))
    redis.call('SET', KEYS[i + 1], '1', 'PX', lock)
  end
  redis.call('PEXPIRE', KEYS[i], window + lock)
  out[#out + 1] = n
end
return out`;

/** A login waits at most this long on Redis; after a failed command Redis is skipped for SUSPEND_MS. */
const REDIS_COMMAND_TIMEOUT_MS = 50;
const SUSPEND_MS = 5_000;

// The scripts, registered with defineCommand (EVALSHA: the script text is sent once per connection).
type ScriptedRedis = Redis & {
  loginPeek(numKeys: number, ...keys: string[]): Promise<number[]>;
  loginFail(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<number[]>;
};

/** Redis-backed counts, with a per-node memory store standing in while Redis does not answer. */
export class RedisThrottleStore implements ThrottleStore {
  private client: ScriptedRedis;
  private fallback = new MemoryThrottleStore();
  private suspendedUntil = 0;
  private degraded = false;
  private everReady = false;
  private closing = false;

  constructor(
    url: string,
    private log: Logger,
  ) {
    // No offline queue: while disconnected a command fails at once instead of waiting for the reconnect.
    this.client = new Redis(url, {
      enableOfflineQueue: false,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
    }) as ScriptedRedis;
    this.client.defineCommand("loginPeek", { lua: PEEK_SCRIPT });
    this.client.defineCommand("loginFail", { lua: FAIL_SCRIPT });
    // One line per state change, not per ioredis retry; a listener also keeps "Unhandled error event" away.
    this.client.on("error", (err) => this.degrade(err));
    this.client.on("close", () => {
      if (this.everReady && !this.closing) this.degrade("connection closed");
    });
    this.client.on("ready", () => {
      this.everReady = true;
      this.recovered();
    });
  }

  /** Waits (bounded) for the first connection, so a node counts cluster-wide from its first login. */
  async ready(timeoutMs = 2_000): Promise<void> {
    if (this.client.status === "ready") return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.client.off("ready", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.client.once("ready", done);
    });
  }

  private recovered() {
    if (this.degraded) this.log.info("login throttle: Redis reachable again, counting failures cluster-wide");
    this.degraded = false;
    this.suspendedUntil = 0;
  }

  private degrade(err: unknown) {
    if (this.closing) return;
    if (!this.degraded) this.log.warn("login throttle: Redis unreachable, counting failures per node", { err: String(err) });
    this.degraded = true;
  }

  private async use<T>(redis: (c: ScriptedRedis) => Promise<T>, memory: (m: MemoryThrottleStore) => Promise<T>): Promise<T> {
    if (this.client.status !== "ready" || Date.now() < this.suspendedUntil) return memory(this.fallback);
    try {
      const result = await redis(this.client);
      // A command that timed out suspends Redis without a reconnect; the first one answered after it ends that.
      if (this.degraded) this.recovered();
      return result;
    } catch (err) {
      this.suspendedUntil = Date.now() + SUSPEND_MS;
      this.degrade(err);
      return memory(this.fallback);
    }
  }

  peek(keys: string[]): Promise<KeyState[]> {
    return this.use(
      async (c) => {
        const raw = await c.loginPeek(keys.length * 2, ...keys.flatMap((k) => [k, k + ":lock"]));
        return keys.map((_, i) => ({ failures: Number(raw[2 * i]), lockedMs: Math.max(0, Number(raw[2 * i + 1])) }));
      },
      (m) => m.peek(keys),
    );
  }

  fail(keys: CountedKey[], limits: ThrottleLimits): Promise<number[]> {
    return this.use(
      async (c) => {
        const redisKeys = keys.flatMap(({ key }) => [key, key + ":lock"]);
        const args = [limits.windowMs, limits.lockoutMs, limits.lockoutMaxMs, ...keys.map((k) => k.maxFailures)];
        return (await c.loginFail(redisKeys.length, ...redisKeys, ...args)).map(Number);
      },
      (m) => m.fail(keys, limits),
    );
  }

  reset(key: string): Promise<void> {
    return this.use(
      async (c) => {
        await c.del(key, key + ":lock");
      },
      (m) => m.reset(key),
    );
  }

  async close(): Promise<void> {
    this.closing = true;
    this.client.disconnect();
    await this.fallback.close();
  }
}

/** What a check saw, so a success only costs a reset when there was something to reset. */
export interface LoginAttempt {
  userFailures: number;
}

export class LoginThrottle {
  /** Password checks of one user name run one after another on a node, so a burst cannot outrun the count. */
  private queues = new Map<string, Promise<unknown>>();

  constructor(
    private settings: SettingsService,
    /** Keys are HMACs under the deployment's secret: no user names in Redis, and deployments sharing a Redis stay apart. */
    private secret: () => Buffer,
    private store: ThrottleStore = new MemoryThrottleStore(),
    /** The cluster name (PANTERA_CLUSTER_NAME): clusters sharing one Redis keep their counts apart. */
    private keyPrefix = "pantera",
  ) {}

  /** A throttle counting in Redis when `redisUrl` is set, in memory otherwise. */
  static async create(
    settings: SettingsService,
    secret: () => Buffer,
    redisUrl: string | undefined,
    log: Logger,
    clusterName = "pantera",
  ): Promise<LoginThrottle> {
    if (!redisUrl) return new LoginThrottle(settings, secret, undefined, clusterName);
    const store = new RedisThrottleStore(redisUrl, log);
    await store.ready();
    return new LoginThrottle(settings, secret, store, clusterName);
  }

  private key(kind: "user" | "addr", value: string): string {
    return `${this.keyPrefix}:login:${kind}:${createHmac("sha256", this.secret()).update(kind).update("\0").update(value).digest("base64url").slice(0, 32)}`;
  }

  private async limits() {
    const jwt = { ...LOGIN_THROTTLE_DEFAULTS, ...(await this.settings.get("jwt")) };
    return {
      perUser: jwt.login_max_failures_per_user,
      perAddress: jwt.login_max_failures_per_address,
      window: {
        windowMs: jwt.login_failure_window_seconds * 1000,
        lockoutMs: jwt.login_lockout_seconds * 1000,
        lockoutMaxMs: jwt.login_lockout_max_seconds * 1000,
      },
    };
  }

  /** Throws 429 while the user or the address is locked out. */
  async check(name: string, ip?: string): Promise<LoginAttempt> {
    const address = normaliseAddress(ip);
    const keys = [this.key("user", name), ...(address ? [this.key("addr", address)] : [])];
    const [user, addr] = await this.store.peek(keys);
    if (user.lockedMs > 0) throw tooManyRequests(`Too many failed logins for this user; retry in ${Math.ceil(user.lockedMs / 1000)} s`, user.lockedMs / 1000);
    if (addr && addr.lockedMs > 0)
      throw tooManyRequests(`Too many failed logins from this address; retry in ${Math.ceil(addr.lockedMs / 1000)} s`, addr.lockedMs / 1000);
    return { userFailures: user.failures };
  }

  async failure(name: string, ip?: string): Promise<void> {
    const address = normaliseAddress(ip);
    const { perUser, perAddress, window } = await this.limits();
    const keys = [{ key: this.key("user", name), maxFailures: perUser }, ...(address ? [{ key: this.key("addr", address), maxFailures: perAddress }] : [])];
    await this.store.fail(keys, window);
  }

  /** A success clears the user's count; the address keeps its count, or one good account would unlock it. */
  async success(name: string, attempt: LoginAttempt): Promise<void> {
    if (attempt.userFailures > 0) await this.store.reset(this.key("user", name));
  }

  /**
   * check → `verify` → count. `verify` returns the user or null (a failure); a DomainError it throws
   * (say, "MFA code required") counts as a failure and is passed on.
   */
  guard<T>(name: string, ip: string | undefined, verify: () => Promise<T | null>): Promise<T | null> {
    return this.serialised(name, async () => {
      const attempt = await this.check(name, ip);
      let result: T | null;
      try {
        result = await verify();
      } catch (err) {
        if (err instanceof DomainError) await this.failure(name, ip);
        throw err;
      }
      if (result) await this.success(name, attempt);
      else await this.failure(name, ip);
      return result;
    });
  }

  private serialised<T>(name: string, run: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(name) ?? Promise.resolve();
    const current = previous.then(run, run);
    const tail = current.catch(() => undefined);
    this.queues.set(name, tail);
    void tail.then(() => {
      if (this.queues.get(name) === tail) this.queues.delete(name);
    });
    return current;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/** IPv4-mapped IPv6 (::ffff:1.2.3.4) and plain IPv4 are one address. */
function normaliseAddress(ip: string | undefined): string {
  if (!ip) return "";
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}
