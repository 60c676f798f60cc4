// Small pure helpers of the distribution protocol: upload ranges, tag pagination,
// WWW-Authenticate challenges and token scopes.
import { ociError } from "./errors.js";

/** Parses a PATCH Content-Range ("<start>-<end>", optionally "bytes "-prefixed). */
export function parseContentRange(value: string | undefined): { start: number; end: number } | null {
  if (!value) return null;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/\S+)?$/.exec(value.trim());
  if (!m) throw ociError("BLOB_UPLOAD_INVALID", `Malformed Content-Range '${value}'`, undefined, 416);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) {
    throw ociError("BLOB_UPLOAD_INVALID", `Malformed Content-Range '${value}'`, undefined, 416);
  }
  return { start, end };
}

/** The `Range` header value reporting how many bytes an upload holds ("0-<n-1>"; "0-0" when empty, as registries do). */
export const uploadRange = (size: number) => `0-${Math.max(0, size - 1)}`;

export interface Page<T> {
  items: T[];
  /** The `last` value of the next page, when there is one. */
  next?: string;
}

/** Lexically sorted pagination with `n` (page size) and `last` (exclusive start) as the spec defines. */
export function paginate(all: string[], n: number | undefined, last: string | undefined): Page<string> {
  const sorted = [...new Set(all)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const from = last ? sorted.filter((t) => t > last) : sorted;
  if (n === undefined || from.length <= n) return { items: from };
  const items = from.slice(0, n);
  return { items, next: n > 0 ? items[items.length - 1] : undefined };
}

/** Parses `n` from a query; undefined when absent, 400 when not a non-negative integer. */
export function parsePageSize(value: unknown, max = 10_000): number | undefined {
  if (value === undefined || value === "") return undefined;
  const s = Array.isArray(value) ? value[0] : value;
  if (typeof s !== "string" || !/^\d+$/.test(s)) throw ociError("NAME_INVALID", "'n' must be a non-negative integer", undefined, 400);
  return Math.min(Number(s), max);
}

export function linkHeader(path: string, n: number, last: string): string {
  return `<${path}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"`;
}

/** Parses one WWW-Authenticate challenge: scheme plus its quoted parameters. */
export function parseChallenge(header: string | null | undefined): { scheme: string; params: Record<string, string> } | null {
  if (!header) return null;
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]))) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3];
  return { scheme: m[1].toLowerCase(), params };
}

export function bearerChallenge(realm: string, service: string, scope?: string, error?: string): string {
  let h = `Bearer realm="${realm}",service="${service}"`;
  if (scope) h += `,scope="${scope}"`;
  if (error) h += `,error="${error}"`;
  return h;
}

export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

/** Parses token-request scopes ("repository:<name>:pull,push"; the name may contain ':' for ports). */
export function parseScopes(values: string[]): Scope[] {
  const out: Scope[] = [];
  for (const v of values.flatMap((s) => s.split(" "))) {
    const first = v.indexOf(":");
    const last = v.lastIndexOf(":");
    if (first < 0 || last === first) continue;
    out.push({
      type: v.slice(0, first),
      name: v.slice(first + 1, last),
      actions: v
        .slice(last + 1)
        .split(",")
        .filter(Boolean),
    });
  }
  return out;
}
