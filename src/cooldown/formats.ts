// Cooldown glue for the format proxies: one call at each place a proxy assembles the version list
// clients see, and one at each direct fetch from upstream. Structural types only, so the formats
// keep their own models.
import type Koa from "koa";
import semver from "semver";
import { forbidden } from "../errors.js";
import type { RequestScope } from "../formats/types.js";
import { encodePath, upstreamFetch } from "../formats/proxy.js";

const parseDate = (t: unknown): Date | null => (typeof t === "string" && !Number.isNaN(Date.parse(t)) ? new Date(t) : null);

interface PackumentLike {
  versions?: Record<string, unknown>;
  time?: Record<string, string>;
  "dist-tags"?: Record<string, string>;
}

/**
 * npm proxy packument (upstream `time` as release dates): blocked versions are removed from
 * `versions` and `time`; a dist-tag pointing at one is moved to the newest allowed version not
 * above it (same stability), or dropped when there is none.
 */
export async function cooldownPackument<P extends PackumentLike | null>(scope: RequestScope, name: string, p: P): Promise<P> {
  if (!p || scope.repo.kind !== "proxy") return p;
  const versions = Object.keys(p.versions ?? {});
  const { allowed, blocked } = await scope.app.cooldown.filterVersions(
    scope.repo,
    name,
    versions.map((v) => ({ version: v, releasedAt: parseDate(p.time?.[v]) })),
  );
  if (!blocked.size) return p;
  const out: PackumentLike = { ...p, versions: {}, time: {}, "dist-tags": {} };
  for (const v of versions) if (allowed.has(v)) out.versions![v] = p.versions![v];
  for (const [k, t] of Object.entries(p.time ?? {})) if (!blocked.has(k)) out.time![k] = t;
  for (const [tag, v] of Object.entries(p["dist-tags"] ?? {})) {
    if (allowed.has(v)) out["dist-tags"]![tag] = v;
    else {
      const replacement = newestAllowedBelow(v, [...allowed]);
      if (replacement) out["dist-tags"]![tag] = replacement;
    }
  }
  return out as P;
}

export function newestAllowedBelow(original: string, allowed: string[]): string | undefined {
  const pre = semver.valid(original) ? !!semver.prerelease(original) : false;
  const pool = allowed.filter((v) => semver.valid(v) && (pre || !semver.prerelease(v)) && (!semver.valid(original) || semver.lte(v, original)));
  return pool.sort(semver.rcompare)[0];
}

/** npm: tells the client (`npm notice ...` on stderr) which versions of this package cooldown hides. */
export async function cooldownNotice(ctx: Koa.Context, scope: RequestScope, name: string): Promise<void> {
  const repos = scope.repo.kind === "proxy" ? [scope.repo.name] : scope.repo.kind === "group" ? scope.repo.members : [];
  if (!repos.length) return;
  const rows = await scope.app.cooldown.activeBlocks(repos, name);
  if (!rows.length) return;
  const list = rows.map((r) => `${r.version} (until ${r.blockedUntil.toISOString()})`).join(", ");
  // npm only prints notices of responses it did not put in its cache; the list changes anyway.
  ctx.set("cache-control", "no-store");
  ctx.set("npm-notice", `Cooldown: ${name} ${list} ${rows.length === 1 ? "is" : "are"} younger than the minimum allowed age and not served by '${scope.repo.name}'`);
}

/** Direct fetch of one version's file from upstream: 403 with the cooldown message when too young. */
export async function enforceCooldown(scope: RequestScope, name: string, version: string | null | undefined, releasedAt: string | Date | null | undefined): Promise<void> {
  if (scope.repo.kind !== "proxy" || !version) return;
  const when = releasedAt instanceof Date ? releasedAt : parseDate(releasedAt);
  const d = when ? await scope.app.cooldown.evaluate(scope.repo, name, version, when) : await scope.app.cooldown.isBlocked(scope.repo, name, version);
  if (!d.allowed) throw forbidden(d.message);
}

interface PyFileLike {
  filename: string;
  version?: string | null;
  uploadTime?: string | null;
}

/** PyPI proxy project page (PEP 700 `upload-time` as release dates): files of blocked versions are removed. */
export async function cooldownPyFiles<F extends PyFileLike>(scope: RequestScope, project: string, files: F[], versionOf: (f: F) => string | null | undefined): Promise<F[]> {
  if (scope.repo.kind !== "proxy" || !files.length) return files;
  // A version's release date is its earliest file upload.
  const first = new Map<string, Date | null>();
  for (const f of files) {
    const v = versionOf(f);
    if (!v) continue;
    const t = parseDate(f.uploadTime);
    const prev = first.get(v);
    if (prev === undefined || (t && (!prev || t < prev))) first.set(v, t ?? prev ?? null);
  }
  const { blocked } = await scope.app.cooldown.filterVersions(
    scope.repo,
    project,
    [...first].map(([version, releasedAt]) => ({ version, releasedAt })),
  );
  if (!blocked.size) return files;
  return files.filter((f) => !blocked.has(versionOf(f) ?? ""));
}

/**
 * Maven-like proxies: the upstream `Last-Modified` of the artifact file is its release date. On a
 * cache miss the upstream is asked (HEAD) before anything is downloaded; cached files are refused
 * only while an active block exists.
 */
export async function enforceUpstreamCooldown(scope: RequestScope, key: string, name: string, version: string): Promise<void> {
  if (scope.repo.kind !== "proxy") return;
  const policy = await scope.app.cooldown.policy(scope.repo.type);
  if (!policy.enabled || policy.ageMs <= 0) return;
  if (await scope.storage.exists(key)) {
    const d = await scope.app.cooldown.isBlocked(scope.repo, name, version);
    if (!d.allowed) throw forbidden(d.message);
    return;
  }
  for (const remote of scope.repo.remotes) {
    if (!remote?.url) continue;
    const res = await upstreamFetch(scope.app, remote, encodePath(key), { method: "HEAD" }).catch(() => null);
    if (!res) continue;
    res.body?.destroy();
    if (res.status >= 200 && res.status < 300) {
      await enforceCooldown(scope, name, version, res.lastModified ?? null);
      return;
    }
  }
}

/** Maven proxy metadata (`g/a/maven-metadata.xml`): versions with an active block are removed; latest/release move back. */
export async function cooldownMavenMetadata(scope: RequestScope, key: string, load: () => Promise<Buffer | null>): Promise<Buffer | null> {
  if (scope.repo.kind !== "proxy") return null;
  const seg = key.split("/");
  if (seg.length < 3 || seg[seg.length - 1] !== "maven-metadata.xml") return null;
  const name = `${seg.slice(0, -2).join(".")}:${seg[seg.length - 2]}`;
  const policy = await scope.app.cooldown.policy(scope.repo.type);
  if (!policy.enabled) return null;
  const blocked = new Set((await scope.app.cooldown.activeBlocks([scope.repo.name], name)).map((b) => b.version));
  if (!blocked.size) return null;
  const xml = await load();
  if (!xml) return null;
  let text = xml.toString("utf8");
  const kept: string[] = [];
  text = text.replace(/<versions>([\s\S]*?)<\/versions>/, (_m, inner: string) => {
    const out = inner.replace(/\s*<version>\s*([^<]*?)\s*<\/version>/g, (whole: string, v: string) => {
      if (blocked.has(v)) return "";
      kept.push(v);
      return whole;
    });
    return `<versions>${out}</versions>`;
  });
  const last = kept[kept.length - 1];
  for (const tag of ["latest", "release"]) {
    text = text.replace(new RegExp(`<${tag}>\\s*([^<]*?)\\s*</${tag}>`), (whole, v: string) => (blocked.has(v) ? (last ? `<${tag}>${last}</${tag}>` : "") : whole));
  }
  return Buffer.from(text);
}
