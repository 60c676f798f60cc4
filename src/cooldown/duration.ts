// Cooldown durations: Nd (days), Nh (hours), Nm (minutes).
import { badRequest } from "../errors.js";

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000 } as const;
const PATTERN = /^(\d{1,6})([dhm])$/;
/** Ten years: anything longer is a typo. */
export const MAX_DURATION_MS = 3650 * UNIT_MS.d;

/** Milliseconds of a valid duration string, or null. */
export function durationMs(value: string): number | null {
  const m = PATTERN.exec(value.trim().toLowerCase());
  if (!m) return null;
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return ms <= MAX_DURATION_MS ? ms : null;
}

/** Validates and normalises a duration for `field` (400 naming the field otherwise). */
export function parseDuration(value: unknown, field: string): string {
  if (typeof value !== "string" || durationMs(value) === null) {
    throw badRequest(`'${field}' must be a duration like 7d, 12h or 30m (at most 3650d), got ${JSON.stringify(value)}`);
  }
  return value.trim().toLowerCase();
}
