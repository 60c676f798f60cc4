// Maven version ordering (the rules of Maven's ComparableVersion, simplified):
// items split on '.', '-' and digit/letter transitions; numbers compare numerically;
// qualifiers order alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp,
// unknown qualifiers sort after sp, alphabetically.

type Item = number | string;

const QUALIFIERS = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const ALIASES: Record<string, string> = { a: "alpha", b: "beta", m: "milestone", cr: "rc", ga: "", final: "", release: "" };

function tokens(version: string): Item[] {
  const out: Item[] = [];
  for (const part of version.toLowerCase().split(/[.\-_]/)) {
    for (const t of part.match(/\d+|[^\d]+/g) ?? [""]) out.push(/^\d+$/.test(t) ? Number(t) : (ALIASES[t] ?? t));
  }
  // Trailing zeros and release qualifiers are insignificant: 1.0 == 1 == 1.0.0-ga.
  while (out.length > 1 && (out[out.length - 1] === 0 || out[out.length - 1] === "")) out.pop();
  return out;
}

function qualifierRank(q: string): [number, string] {
  const i = QUALIFIERS.indexOf(q);
  return i >= 0 ? [i, ""] : [QUALIFIERS.length, q];
}

function compareItems(a: Item | undefined, b: Item | undefined): number {
  if (a === undefined && b === undefined) return 0;
  // A missing item compares as 0 (numbers) or the release qualifier "" (strings).
  if (a === undefined) return -compareItems(b, undefined);
  if (b === undefined) {
    if (typeof a === "number") return a === 0 ? 0 : 1;
    const [r] = qualifierRank(a);
    return r < QUALIFIERS.indexOf("") ? -1 : r === QUALIFIERS.indexOf("") ? 0 : 1;
  }
  if (typeof a === "number" && typeof b === "number") return a === b ? 0 : a < b ? -1 : 1;
  if (typeof a === "number") return 1; // 1.1 > 1-alpha
  if (typeof b === "number") return -1;
  const [ra, sa] = qualifierRank(a);
  const [rb, sb] = qualifierRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  return sa === sb ? 0 : sa < sb ? -1 : 1;
}

export function compareVersions(a: string, b: string): number {
  const ta = tokens(a);
  const tb = tokens(b);
  for (let i = 0; i < Math.max(ta.length, tb.length); i++) {
    const c = compareItems(ta[i], tb[i]);
    if (c !== 0) return c;
  }
  return 0;
}

export const isSnapshot = (version: string) => version.endsWith("-SNAPSHOT");

export function sortVersions(versions: Iterable<string>): string[] {
  return [...new Set(versions)].sort(compareVersions);
}
