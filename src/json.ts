// Shape checks for parsed JSON.

/** A JSON object (not null, not an array). */
export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** How deeply a client's JSON (request bodies, GraphQL `JSON` inputs) may nest: configs need a few levels. */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether `value` nests arrays and objects more than `max` levels deep (`{}` and `[]` are one level).
 * Iterative, and it stops at the first level too many: safe on any depth JSON.parse accepts.
 */
export function jsonDepthExceeds(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const pending: unknown[] = [value];
  const depths: number[] = [0];
  while (pending.length) {
    const v = pending.pop();
    const depth = depths.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === "object") {
        pending.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

/**
 * Whether any string (value or object key) in `value` holds a NUL character, which PostgreSQL
 * cannot store in text or jsonb: such input is refused as a bad request instead of failing in SQL.
 * Iterative, like jsonDepthExceeds.
 */
export const NUL_MESSAGE = "Text must not contain NUL characters";

export function containsNul(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length) {
    const v = pending.pop();
    if (typeof v === "string") {
      if (v.includes("\0")) return true;
    } else if (v !== null && typeof v === "object") {
      if (Array.isArray(v)) pending.push(...v);
      else
        for (const [k, child] of Object.entries(v)) {
          if (k.includes("\0")) return true;
          pending.push(child);
        }
    }
  }
  return false;
}
