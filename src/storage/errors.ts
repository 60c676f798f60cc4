// A storage backend that cannot be reached (S3 endpoint refusing connections, resetting them or
// timing out). Drivers wrap their own network failures in this type where they happen, so every
// port answers 503 + Retry-After naming the storage, and nothing mistakes it for a database outage
// (src/db/errors.ts stops at it).
import { DomainError } from "../errors.js";

/** Seconds a client should wait before retrying while a storage is unreachable. */
export const STORAGE_RETRY_AFTER = 5;

export class StorageUnavailableError extends DomainError {
  constructor(detail: string, options: { cause?: unknown } = {}) {
    super("UNAVAILABLE", `Storage is unavailable: ${detail}`, { retryAfter: STORAGE_RETRY_AFTER });
    if (options.cause !== undefined) Object.defineProperty(this, "cause", { value: options.cause, enumerable: false, configurable: true });
    // GraphQL (Yoga) answers the request 503 + Retry-After, as it does for a database outage.
    (this.extensions as Record<string, unknown>).http = { status: 503, headers: { "Retry-After": String(STORAGE_RETRY_AFTER) } };
  }
}

/** The StorageUnavailableError in `err` or its causes / GraphQL originalErrors, if any. */
export function findStorageUnavailable(err: unknown): StorageUnavailableError | undefined {
  const seen = new Set<unknown>();
  for (let e = err; e && typeof e === "object" && !seen.has(e);) {
    if (e instanceof StorageUnavailableError) return e;
    seen.add(e);
    const next = e as { cause?: unknown; originalError?: unknown };
    e = next.originalError ?? next.cause;
  }
  return undefined;
}

/** What a failed network call said, with its cause's reason (undici's "fetch failed" names none). */
export function networkReason(err: unknown): string {
  const e = err as { message?: unknown; cause?: { message?: unknown; code?: unknown } } | undefined;
  const message = typeof e?.message === "string" ? e.message : String(err);
  const cause = typeof e?.cause?.message === "string" ? e.cause.message : typeof e?.cause?.code === "string" ? e.cause.code : "";
  return cause && !message.includes(cause) ? `${message} (${cause})` : message;
}
