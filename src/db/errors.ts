// The one place that decides "this failure is a database outage" (answered 503 + Retry-After on
// every port), as opposed to a bug (500). What the drivers throw, measured by cutting a TCP proxy
// in front of PostgreSQL (test/cluster/db-outage.test.ts):
//   - connection refused: Prisma P1001 (adapter kind DatabaseNotReachable), raw pg ECONNREFUSED;
//   - connection cut mid-session: a plain pg Error "Connection terminated unexpectedly" (no code),
//     passed through Prisma's adapter unchanged;
//   - pool checkout timeout (connectionTimeoutMillis): "timeout exceeded when trying to connect".
import { unavailable, type DomainError } from "../errors.js";
import { StorageUnavailableError } from "../storage/errors.js";

/** Seconds a client should wait before retrying while the database is unreachable. */
export const DATABASE_RETRY_AFTER = 5;

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
// P1001 unreachable, P1002 timed out, P1008 operation timed out, P1017 server closed the connection, P2024 pool timeout.
const PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
// Driver-adapter error kinds (@prisma/adapter-pg) that mean the server is unreachable or overloaded.
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections", "TlsConnectionError"]);
// PostgreSQL SQLSTATEs: class 08 connection exceptions, 57P01-03 shutdown / not accepting, 53300 too many connections.
const SQLSTATE = /^(08...|57P0[123]|53300)$/;
const MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Can't reach database server|Client has encountered a connection error|server closed the connection/i;

function matches(err: object): boolean {
  const e = err as { code?: unknown; kind?: unknown; message?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } };
  if (typeof e.code === "string" && (NETWORK_CODES.has(e.code) || PRISMA_CODES.has(e.code) || SQLSTATE.test(e.code))) return true;
  if (typeof e.kind === "string" && ADAPTER_KINDS.has(e.kind)) return true;
  const kind = e.meta?.driverAdapterError?.cause?.kind;
  if (typeof kind === "string" && ADAPTER_KINDS.has(kind)) return true;
  return typeof e.message === "string" && MESSAGES.test(e.message);
}

/**
 * Whether `err` (or one of its causes / GraphQL originalErrors) says the database cannot be reached.
 * A storage's network failure (wrapped by its driver in StorageUnavailableError) is not one, even
 * though its cause carries the same ECONNREFUSED.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e = err; e && typeof e === "object" && !seen.has(e);) {
    if (e instanceof StorageUnavailableError) return false;
    seen.add(e);
    if (matches(e)) return true;
    const next = e as { cause?: unknown; originalError?: unknown };
    e = next.originalError ?? next.cause;
  }
  return false;
}

/** The 503 a database outage is answered with (UNAVAILABLE, Retry-After). */
export function databaseUnavailable(): DomainError {
  return unavailable("The database is unavailable; retry later", DATABASE_RETRY_AFTER);
}

/**
 * Runs a cache's refresh query; while the database is unreachable, answers `stale` (what the cache
 * last knew, past its age) instead, so reads the caches can serve keep working through an outage.
 * Events (Redis) still drop entries at once, so a revocation during an outage still applies.
 */
export async function refreshOrStale<T, S>(query: () => Promise<T>, stale: S | undefined): Promise<{ fresh: T } | { stale: S }> {
  try {
    return { fresh: await query() };
  } catch (err) {
    if (stale !== undefined && isDatabaseUnavailable(err)) return { stale };
    throw err;
  }
}
