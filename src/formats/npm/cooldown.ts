// Cooldown on npm proxies: the upstream packument's `time` gives each version's release date;
// versions too young are taken out of the packument, and clients are told which (npm-notice).
import semver from "semver";
import type { CooldownGate } from "../kit/contract.js";
import type { RepositoryRecord } from "../../repositories/types.js";
import type { Packument } from "./packument.js";

/** A packument `time` entry as a date, or null. */
export const parseDate = (t: unknown): Date | null => (typeof t === "string" && !Number.isNaN(Date.parse(t)) ? new Date(t) : null);

/**
 * A proxy's packument with blocked versions removed from `versions` and `time`; a dist-tag
 * pointing at one is moved to the newest allowed version not above it (same stability), or
 * dropped when there is none. The same object when nothing is blocked.
 */
export async function cooldownPackument(cooldown: CooldownGate, repo: RepositoryRecord, name: string, p: Packument): Promise<Packument> {
  const versions = Object.keys(p.versions ?? {});
  const { allowed, blocked } = await cooldown.filterVersions(
    repo,
    name,
    versions.map((v) => ({ version: v, releasedAt: parseDate(p.time?.[v]) })),
  );
  if (!blocked.size) return p;
  const out: Packument = { ...p, versions: {}, time: {}, "dist-tags": {} };
  for (const v of versions) if (allowed.has(v)) out.versions[v] = p.versions[v];
  for (const [k, t] of Object.entries(p.time ?? {})) if (!blocked.has(k)) out.time![k] = t;
  for (const [tag, v] of Object.entries(p["dist-tags"] ?? {})) {
    if (allowed.has(v)) out["dist-tags"][tag] = v;
    else {
      const replacement = newestAllowedBelow(v, [...allowed]);
      if (replacement) out["dist-tags"][tag] = replacement;
    }
  }
  return out;
}

/** The newest of `allowed` not above `original`, prereleases only when `original` is one. */
export function newestAllowedBelow(original: string, allowed: string[]): string | undefined {
  const pre = semver.valid(original) ? !!semver.prerelease(original) : false;
  const pool = allowed.filter((v) => semver.valid(v) && (pre || !semver.prerelease(v)) && (!semver.valid(original) || semver.lte(v, original)));
  return pool.sort(semver.rcompare)[0];
}

/**
 * The headers telling npm (`npm notice ...` on stderr) which versions of `name` cooldown hides in
 * `repos` (the proxy itself, or a group's members); none when nothing is blocked.
 */
export async function cooldownNotice(cooldown: CooldownGate, servedBy: string, repos: string[], name: string): Promise<Record<string, string> | undefined> {
  if (!repos.length) return undefined;
  const rows = await cooldown.activeBlocks(repos, name);
  if (!rows.length) return undefined;
  const list = rows.map((r) => `${r.version} (until ${r.blockedUntil.toISOString()})`).join(", ");
  return {
    // npm only prints notices of responses it did not put in its cache; the list changes anyway.
    "cache-control": "no-store",
    "npm-notice": `Cooldown: ${name} ${list} ${rows.length === 1 ? "is" : "are"} younger than the minimum allowed age and not served by '${servedBy}'`,
  };
}
