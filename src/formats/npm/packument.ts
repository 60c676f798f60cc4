// Pure npm metadata logic: package names, packuments (build on publish, merge across group
// members, abbreviate for installers, rewrite tarball URLs to this server) and the one function
// that assembles the version list (where cooldown can filter versions).
import semver from "semver";
import { badRequest } from "../../errors.js";

export type Json = Record<string, any>;

export interface Packument {
  _id?: string;
  _rev?: string;
  name: string;
  description?: string;
  "dist-tags": Record<string, string>;
  versions: Record<string, Json>;
  time?: Record<string, string>;
  readme?: string;
  [key: string]: unknown;
}

const NAME = /^(?:@([a-z0-9][a-z0-9._~-]*)\/)?([a-z0-9_][a-z0-9._~-]*)$/;

export interface NpmName {
  name: string;
  scope: string | null;
  /** The part after the scope: the tarball file name prefix. */
  bare: string;
}

/** Validates an npm package name (lowercase, optional @scope/, URL-safe, ≤ 214 chars). */
export function parseName(raw: string): NpmName {
  const name = raw.replace(/%2f/gi, "/");
  const m = NAME.exec(name);
  if (!m || name.length > 214) throw badRequest(`Invalid npm package name '${raw}'`);
  return { name, scope: m[1] ?? null, bare: m[2] };
}

export function isValidName(raw: string): boolean {
  try {
    parseName(raw);
    return true;
  } catch {
    return false;
  }
}

/** Canonical tarball file name: `<bare>-<version>.tgz`. */
/** Storage key of a package's packument (in hosted storage and proxy caches alike). */
export const packumentKey = (name: string) => `${name}/package.json`;

/** Storage key of a packument → package name (null for any other file). */
export function packageOfPackumentKey(key: string): string | null {
  const m = /^((?:@[^/]+\/)?[^/@.][^/]*)\/package\.json$/.exec(key);
  return m && isValidName(m[1]) ? m[1] : null;
}

export function tarballFile(name: string, version: string): string {
  return `${parseName(name).bare}-${version}.tgz`;
}

/** Version from a tarball file name of `name`, or null when it does not match. */
export function versionFromTarball(name: string, file: string): string | null {
  const prefix = parseName(name).bare + "-";
  if (!file.startsWith(prefix) || !file.endsWith(".tgz")) return null;
  const v = file.slice(prefix.length, -4);
  return semver.valid(v) ? v : null;
}

/** Client-facing packument URL path for a name: scoped names keep the '/' escaped. */
export function encodeName(name: string): string {
  return name.startsWith("@") ? "@" + encodeURIComponent(name.slice(1)) : encodeURIComponent(name);
}

/** Tarball URL on this server (or a group) for one version. */
export function tarballUrl(baseUrl: string, name: string, file: string): string {
  return `${baseUrl}/${name}/-/${encodeURIComponent(file)}`;
}

/** File name of a tarball URL (last path segment), or null. */
export function fileOfTarballUrl(url: unknown): string | null {
  if (typeof url !== "string" || !url) return null;
  let path = url;
  try {
    path = new URL(url, "http://x/").pathname;
  } catch {
    /* relative */
  }
  const last = path.split("/").pop();
  if (!last) return null;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/** A copy of `p` whose every dist.tarball points at `baseUrl` (the original URL kept nowhere). */
export function rewriteTarballs(p: Packument, baseUrl: string): Packument {
  const versions: Record<string, Json> = {};
  for (const [v, m] of Object.entries(p.versions ?? {})) {
    const file = fileOfTarballUrl(m?.dist?.tarball) ?? tarballFile(p.name, v);
    versions[v] = { ...m, dist: { ...(m?.dist ?? {}), tarball: tarballUrl(baseUrl, p.name, file) } };
  }
  return { ...p, versions };
}

/** Upstream tarball URL of a file as the cached upstream packument gives it. */
export function upstreamTarballUrl(p: Packument | null, file: string): string | null {
  for (const m of Object.values(p?.versions ?? {})) {
    const url = m?.dist?.tarball;
    if (typeof url === "string" && fileOfTarballUrl(url) === file) return url;
  }
  return null;
}

/** Highest non-prerelease version (else highest at all), or undefined. */
export function highestVersion(versions: string[]): string | undefined {
  const valid = versions.filter((v) => semver.valid(v));
  const stable = valid.filter((v) => !semver.prerelease(v));
  const pool = stable.length ? stable : valid;
  return pool.sort(semver.rcompare)[0];
}

/**
 * THE version-list assembly step of every packument this server answers with. `keep` decides per
 * version (cooldown inserts its filter here); dist-tags pointing at removed versions are dropped,
 * and `latest` falls back to the highest remaining version.
 */
export function assembleVersions(p: Packument, keep?: (version: string, releasedAt: Date | null) => boolean): Packument {
  const versions: Record<string, Json> = {};
  for (const [v, m] of Object.entries(p.versions ?? {})) {
    const t = p.time?.[v];
    const released = t && !Number.isNaN(Date.parse(t)) ? new Date(t) : null;
    if (!keep || keep(v, released)) versions[v] = m;
  }
  const tags: Record<string, string> = {};
  for (const [tag, v] of Object.entries(p["dist-tags"] ?? {})) if (typeof v === "string" && versions[v]) tags[tag] = v;
  if (!tags.latest) {
    const hi = highestVersion(Object.keys(versions));
    if (hi) tags.latest = hi;
  }
  const time: Record<string, string> = {};
  for (const [k, t] of Object.entries(p.time ?? {})) if (k === "created" || k === "modified" || versions[k]) time[k] = t;
  return { ...p, "dist-tags": tags, versions, time };
}

/**
 * Group merge: members in priority order; the first member that has a version wins it. dist-tags
 * come from the first member defining them, except `latest`, which is the highest of the members'
 * `latest` values. `time` is merged the same way; `modified` is the newest.
 */
export function mergePackuments(parts: Packument[]): Packument | null {
  if (parts.length === 0) return null;
  if (parts.length === 1) return parts[0];
  const first = parts[0];
  const versions: Record<string, Json> = {};
  const time: Record<string, string> = {};
  const tags: Record<string, string> = {};
  const latests: string[] = [];
  let modified: string | undefined;
  for (const p of parts) {
    for (const [v, m] of Object.entries(p.versions ?? {})) if (!(v in versions)) versions[v] = m;
    for (const [k, t] of Object.entries(p.time ?? {})) {
      if (k === "modified") {
        if (!modified || Date.parse(t) > Date.parse(modified)) modified = t;
      } else if (!(k in time)) time[k] = t;
    }
    for (const [tag, v] of Object.entries(p["dist-tags"] ?? {})) {
      if (tag === "latest") latests.push(v);
      else if (!(tag in tags)) tags[tag] = v;
    }
  }
  const latest = highestVersion(latests.filter((v) => versions[v]));
  if (latest) tags.latest = latest;
  if (modified) time.modified = modified;
  const { _rev, ...rest } = first;
  return { ...rest, name: first.name, "dist-tags": tags, versions, time };
}

const ABBREVIATED_FIELDS = [
  "name",
  "version",
  "deprecated",
  "dependencies",
  "optionalDependencies",
  "devDependencies",
  "bundleDependencies",
  "bundledDependencies",
  "peerDependencies",
  "peerDependenciesMeta",
  "acceptDependencies",
  "bin",
  "directories",
  "dist",
  "engines",
  "cpu",
  "os",
  "libc",
  "funding",
  "license",
  "_hasShrinkwrap",
  "hasInstallScript",
];

/** The corgi document for `Accept: application/vnd.npm.install-v1+json`. */
export function abbreviate(p: Packument): Json {
  const versions: Record<string, Json> = {};
  for (const [v, m] of Object.entries(p.versions ?? {})) {
    const out: Json = {};
    for (const f of ABBREVIATED_FIELDS) if (m?.[f] !== undefined) out[f] = m[f];
    if (out.hasInstallScript === undefined && m?.scripts && (m.scripts.install || m.scripts.preinstall || m.scripts.postinstall)) out.hasInstallScript = true;
    versions[v] = out;
  }
  return { name: p.name, modified: p.time?.modified ?? new Date().toISOString(), "dist-tags": p["dist-tags"] ?? {}, versions };
}

/** An attachment of a publish body, matched to its version; its bytes were staged while reading the body. */
export interface PublishAttachment<T> {
  /** The tarball's file name in storage (`<bare>-<version>.tgz`). */
  file: string;
  version: string;
  staged: T;
}

export interface ParsedPublish<T> {
  name: string;
  /** New versions with their manifests (already cleaned). */
  versions: Record<string, Json>;
  tags: Record<string, string>;
  attachments: PublishAttachment<T>[];
  /** The remaining top-level fields (description, readme, ...). */
  meta: Json;
}

/**
 * Validates an `npm publish` body (PUT /<pkg>) for package `name`. The attachments' data was
 * taken out of the body while it streamed in (publish-stream.ts); `staged` holds what each
 * `_attachments` key decoded to.
 */
export function parsePublish<T extends { size: number }>(name: string, body: unknown, staged: ReadonlyMap<string, T>): ParsedPublish<T> {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw badRequest("Publish body must be a JSON object");
  const b = body as Json;
  if (b.name !== undefined && b.name !== name) throw badRequest(`Package name in the body ('${b.name}') does not match the URL ('${name}')`);
  const atts = b._attachments;
  if (!atts || typeof atts !== "object" || Object.keys(atts).length === 0) throw badRequest("Publish body has no _attachments");
  const versions = b.versions;
  if (!versions || typeof versions !== "object" || Object.keys(versions).length === 0) throw badRequest("Publish body has no versions");
  const out: Record<string, Json> = {};
  for (const [v, m] of Object.entries(versions as Json)) {
    if (!semver.valid(v)) throw badRequest(`Invalid version '${v}'`);
    if (!m || typeof m !== "object") throw badRequest(`Manifest of version '${v}' must be an object`);
    if ((m as Json).name !== undefined && (m as Json).name !== name) throw badRequest(`Manifest name of version '${v}' does not match '${name}'`);
    if ((m as Json).version !== undefined && (m as Json).version !== v) throw badRequest(`Manifest version '${(m as Json).version}' does not match key '${v}'`);
    out[v] = { ...(m as Json), name, version: v };
  }
  const attachments: PublishAttachment<T>[] = [];
  for (const [file, a] of Object.entries(atts as Json)) {
    const data = staged.get(file);
    if (!a || typeof a !== "object" || typeof (a as Json).data !== "string" || !data) throw badRequest(`Attachment '${file}' has no base64 data`);
    const base = file.split("/").pop()!;
    const version = Object.keys(out).find((v) => fileOfTarballUrl(out[v].dist?.tarball) === base || tarballFile(name, v) === base);
    if (!version) throw badRequest(`Attachment '${file}' matches no version in the body`);
    if (typeof (a as Json).length === "number" && (a as Json).length !== data.size) throw badRequest(`Attachment '${file}' length does not match its data`);
    if (attachments.some((x) => x.version === version)) throw badRequest(`More than one attachment for version '${version}'`);
    attachments.push({ file: tarballFile(name, version), version, staged: data });
  }
  const tags: Record<string, string> = {};
  for (const [tag, v] of Object.entries((b["dist-tags"] ?? {}) as Json)) {
    if (typeof v !== "string") throw badRequest(`dist-tag '${tag}' must name a version`);
    validateTag(tag);
    tags[tag] = v;
  }
  const { _id, _rev, _attachments, versions: _v, "dist-tags": _t, time: _time, users: _u, ...meta } = b;
  return { name, versions: out, tags, attachments, meta };
}

export function validateTag(tag: string): string {
  if (!tag || tag.length > 128 || !/^[A-Za-z0-9._-]+$/.test(tag) || (semver.validRange(tag) !== null && /^[v\d]/.test(tag))) {
    throw badRequest(`Invalid dist-tag '${tag}'`);
  }
  return tag;
}

/** A packument revision marker: changes whenever the document changes. */
export function revision(p: Packument, counter: number): string {
  return `${counter}-${Buffer.from(String(p.time?.modified ?? ""))
    .toString("hex")
    .slice(-16)}`;
}
