// maven-metadata.xml: parsing Maven 2 paths, generating artifact-level and SNAPSHOT
// version-level metadata from what is stored, merging documents across group members.
import { compareVersions, isSnapshot, sortVersions } from "./version.js";

export const CHECKSUM_EXTENSIONS = ["md5", "sha1", "sha256", "sha512"] as const;
export type ChecksumAlg = (typeof CHECKSUM_EXTENSIONS)[number];

export function checksumOf(key: string): { base: string; alg: ChecksumAlg } | null {
  const dot = key.lastIndexOf(".");
  if (dot < 0) return null;
  const ext = key.slice(dot + 1).toLowerCase();
  return (CHECKSUM_EXTENSIONS as readonly string[]).includes(ext) ? { base: key.slice(0, dot), alg: ext as ChecksumAlg } : null;
}

export const isMetadataFile = (key: string) => /(^|\/)maven-metadata\.xml$/.test(key);

export interface ArtifactCoordinates {
  groupId: string;
  artifactId: string;
  version: string;
  /** g/a directory holding the artifact-level maven-metadata.xml. */
  artifactDir: string;
  versionDir: string;
  classifier?: string;
  extension: string;
  /** For timestamped SNAPSHOT files: 1.0-20260101.120000-3. */
  snapshotValue?: string;
}

/** Parses `g/r/o/u/p/artifactId/version/artifactId-version[-classifier].ext`; null when it is not that layout. */
export function parseArtifactPath(key: string): ArtifactCoordinates | null {
  const seg = key.split("/");
  if (seg.length < 4) return null;
  const file = seg[seg.length - 1];
  const version = seg[seg.length - 2];
  const artifactId = seg[seg.length - 3];
  const group = seg.slice(0, -3);
  if (!file.startsWith(artifactId + "-") || file === "maven-metadata.xml") return null;
  const rest = file.slice(artifactId.length + 1);
  let value = version;
  let tail: string;
  if (rest.startsWith(version)) {
    tail = rest.slice(version.length);
  } else if (isSnapshot(version)) {
    const base = version.slice(0, -"-SNAPSHOT".length);
    const m = /^(\d{8}\.\d{6}-\d+)(.*)$/.exec(rest.startsWith(base + "-") ? rest.slice(base.length + 1) : "");
    if (!m) return null;
    value = `${base}-${m[1]}`;
    tail = m[2];
  } else return null;
  let classifier: string | undefined;
  let extension: string;
  if (tail.startsWith("-")) {
    const dot = tail.indexOf(".");
    if (dot < 0) return null;
    classifier = tail.slice(1, dot);
    extension = tail.slice(dot + 1);
  } else if (tail.startsWith(".")) extension = tail.slice(1);
  else return null;
  if (!extension) return null;
  return {
    groupId: group.join("."),
    artifactId,
    version,
    artifactDir: [...group, artifactId].join("/"),
    versionDir: [...group, artifactId, version].join("/"),
    classifier,
    extension,
    snapshotValue: value !== version ? value : undefined,
  };
}

/** yyyyMMddHHmmss in UTC. */
export function lastUpdatedStamp(d: Date = new Date()): string {
  return d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const unesc = (s: string) =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");

function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>\\s*([^<]*?)\\s*</${name}>`).exec(xml);
  return m ? unesc(m[1]) : undefined;
}

function blocks(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, "g"))].map((m) => m[1]);
}

export interface ParsedMetadata {
  groupId?: string;
  artifactId?: string;
  version?: string;
  versions: string[];
  latest?: string;
  release?: string;
  lastUpdated?: string;
  snapshot?: { timestamp?: string; buildNumber?: number; localCopy?: boolean };
  snapshotVersions: Array<{ classifier?: string; extension: string; value: string; updated?: string }>;
  plugins: Array<{ name?: string; prefix?: string; artifactId?: string }>;
}

export function parseMetadata(xml: string): ParsedMetadata {
  const versioning = blocks(xml, "versioning")[0] ?? "";
  const snapshotBlock = blocks(versioning, "snapshot")[0];
  const outside = xml.replace(/<versioning>[\s\S]*?<\/versioning>/, "").replace(/<plugins>[\s\S]*?<\/plugins>/, "");
  return {
    groupId: tag(outside, "groupId"),
    artifactId: tag(outside, "artifactId"),
    version: tag(outside, "version"),
    versions: blocks(blocks(versioning, "versions")[0] ?? "", "version")
      .map((v) => unesc(v.trim()))
      .filter(Boolean),
    latest: tag(versioning, "latest"),
    release: tag(versioning, "release"),
    lastUpdated: tag(versioning, "lastUpdated"),
    snapshot:
      snapshotBlock !== undefined
        ? {
            timestamp: tag(snapshotBlock, "timestamp"),
            buildNumber: Number(tag(snapshotBlock, "buildNumber") ?? NaN) || undefined,
            localCopy: tag(snapshotBlock, "localCopy") === "true",
          }
        : undefined,
    snapshotVersions: blocks(versioning, "snapshotVersion").map((b) => ({
      classifier: tag(b, "classifier"),
      extension: tag(b, "extension") ?? "",
      value: tag(b, "value") ?? "",
      updated: tag(b, "updated"),
    })),
    plugins: blocks(xml, "plugin").map((b) => ({ name: tag(b, "name"), prefix: tag(b, "prefix"), artifactId: tag(b, "artifactId") })),
  };
}

/** Artifact-level metadata: versions sorted, latest = highest, release = highest non-SNAPSHOT. */
export function artifactMetadataXml(groupId: string, artifactId: string, versions: Iterable<string>, lastUpdated = lastUpdatedStamp()): string {
  const sorted = sortVersions(versions);
  const releases = sorted.filter((v) => !isSnapshot(v));
  const latest = sorted[sorted.length - 1];
  const release = releases[releases.length - 1];
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<metadata>`,
    `  <groupId>${esc(groupId)}</groupId>`,
    `  <artifactId>${esc(artifactId)}</artifactId>`,
    `  <versioning>`,
    latest ? `    <latest>${esc(latest)}</latest>` : null,
    release ? `    <release>${esc(release)}</release>` : null,
    `    <versions>`,
    ...sorted.map((v) => `      <version>${esc(v)}</version>`),
    `    </versions>`,
    `    <lastUpdated>${lastUpdated}</lastUpdated>`,
    `  </versioning>`,
    `</metadata>`,
    ``,
  ]
    .filter((l) => l !== null)
    .join("\n");
}

export interface SnapshotFile {
  value: string;
  classifier?: string;
  extension: string;
}

/** Version-level SNAPSHOT metadata from the timestamped files of one version directory. */
export function snapshotMetadataXml(
  groupId: string,
  artifactId: string,
  version: string,
  files: SnapshotFile[],
  lastUpdated = lastUpdatedStamp(),
): string | null {
  const parsed = files
    .map((f) => {
      const m = /-(\d{8}\.\d{6})-(\d+)$/.exec(f.value);
      return m ? { ...f, timestamp: m[1], build: Number(m[2]) } : null;
    })
    .filter((f): f is NonNullable<typeof f> => f !== null && !checksumOf("x." + f.extension));
  if (parsed.length === 0) return null;
  const newest = parsed.reduce((a, b) => (b.timestamp > a.timestamp || (b.timestamp === a.timestamp && b.build > a.build) ? b : a));
  // Latest value per (classifier, extension).
  const latest = new Map<string, (typeof parsed)[number]>();
  for (const f of parsed) {
    const k = `${f.classifier ?? ""}\0${f.extension}`;
    const cur = latest.get(k);
    if (!cur || f.timestamp > cur.timestamp || (f.timestamp === cur.timestamp && f.build > cur.build)) latest.set(k, f);
  }
  const entries = [...latest.values()].sort((a, b) => (a.extension + (a.classifier ?? "")).localeCompare(b.extension + (b.classifier ?? "")));
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<metadata modelVersion="1.1.0">`,
    `  <groupId>${esc(groupId)}</groupId>`,
    `  <artifactId>${esc(artifactId)}</artifactId>`,
    `  <version>${esc(version)}</version>`,
    `  <versioning>`,
    `    <snapshot>`,
    `      <timestamp>${newest.timestamp}</timestamp>`,
    `      <buildNumber>${newest.build}</buildNumber>`,
    `    </snapshot>`,
    `    <lastUpdated>${lastUpdated}</lastUpdated>`,
    `    <snapshotVersions>`,
    ...entries.flatMap((e) => [
      `      <snapshotVersion>`,
      ...(e.classifier ? [`        <classifier>${esc(e.classifier)}</classifier>`] : []),
      `        <extension>${esc(e.extension)}</extension>`,
      `        <value>${esc(e.value)}</value>`,
      `        <updated>${e.timestamp.replace(".", "")}</updated>`,
      `      </snapshotVersion>`,
    ]),
    `    </snapshotVersions>`,
    `  </versioning>`,
    `</metadata>`,
    ``,
  ].join("\n");
}

/**
 * Merges the maven-metadata.xml documents of group members: artifact level → union of versions,
 * latest/release recomputed, newest lastUpdated; SNAPSHOT version level → the newest document;
 * group level (plugins) → union of plugins. A single document is returned unchanged.
 */
export function mergeMetadata(docs: string[]): string | null {
  if (docs.length === 0) return null;
  if (docs.length === 1) return docs[0];
  const parsed = docs.map((d) => ({ doc: d, meta: parseMetadata(d) }));
  const newestFirst = [...parsed].sort((a, b) => (b.meta.lastUpdated ?? "").localeCompare(a.meta.lastUpdated ?? ""));
  if (parsed.some((p) => p.meta.snapshot || p.meta.snapshotVersions.length)) {
    const bySnapshot = [...parsed].sort(
      (a, b) =>
        (b.meta.snapshot?.timestamp ?? "").localeCompare(a.meta.snapshot?.timestamp ?? "") ||
        (b.meta.snapshot?.buildNumber ?? 0) - (a.meta.snapshot?.buildNumber ?? 0),
    );
    return bySnapshot[0].doc;
  }
  const base = newestFirst[0].meta;
  if (parsed.some((p) => p.meta.plugins.length) && !base.artifactId) {
    const plugins = new Map<string, ParsedMetadata["plugins"][number]>();
    for (const p of parsed) for (const pl of p.meta.plugins) if (pl.artifactId && !plugins.has(pl.artifactId)) plugins.set(pl.artifactId, pl);
    return [
      `<?xml version="1.0" encoding="UTF-8"?>`,
      `<metadata>`,
      `  <plugins>`,
      ...[...plugins.values()].flatMap((p) => [
        `    <plugin>`,
        `      <name>${esc(p.name ?? "")}</name>`,
        `      <prefix>${esc(p.prefix ?? "")}</prefix>`,
        `      <artifactId>${esc(p.artifactId ?? "")}</artifactId>`,
        `    </plugin>`,
      ]),
      `  </plugins>`,
      `</metadata>`,
      ``,
    ].join("\n");
  }
  const versions = new Set<string>();
  for (const p of parsed) for (const v of p.meta.versions) versions.add(v);
  // Documents listing no <versions> still count their latest/release.
  for (const p of parsed) for (const v of [p.meta.latest, p.meta.release]) if (v) versions.add(v);
  const groupId = parsed.find((p) => p.meta.groupId)?.meta.groupId ?? "";
  const artifactId = parsed.find((p) => p.meta.artifactId)?.meta.artifactId ?? "";
  return artifactMetadataXml(groupId, artifactId, versions, base.lastUpdated ?? lastUpdatedStamp());
}

export { compareVersions };
