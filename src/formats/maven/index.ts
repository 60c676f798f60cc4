// Maven (and Gradle, same layout) repositories.
//   hosted  deploy by PUT/POST (SNAPSHOT timestamped files included), maven-metadata.xml regenerated
//           from storage on every deploy, import and delete; checksums (.md5/.sha1/.sha256/.sha512)
//           served for every file; uploaded checksums are verified against the stored file.
//   proxy   artifacts cached forever, maven-metadata.xml re-checked after `metadata_ttl` (the kit's
//           default for `layout.isMetadata`), cooldown on artifacts and on metadata.
//   group   members in order, first hit wins for files; maven-metadata.xml merged.
import type { FormatPlugin } from "../kit/contract.js";
import { ChecksumCache } from "./checksum.js";
import { mavenConfig } from "./config.js";
import { cooldownMetadata } from "./cooldown.js";
import { deployOperation, indexName, removeOperation } from "./deploy.js";
import { checksumOf, isMetadataFile, mergeMetadata, parseArtifactPath } from "./metadata.js";
import { readOperation } from "./read.js";
import { refreshAfterDelete, refreshAfterImport } from "./regenerate.js";

/** Every path below the repository root, the root included. */
const ANY = /^\/.*$/;

/** The maven plugin; its checksum cache is per plugin object (one per node). */
export function createMavenPlugin(): FormatPlugin {
  const checksums = new ChecksumCache();
  return {
    format: "maven",
    aliases: ["gradle"],
    config: mavenConfig,
    routes: [
      { method: "GET", path: ANY, op: "read" },
      { method: ["PUT", "POST"], path: ANY, op: "deploy", write: true },
      { method: "DELETE", path: ANY, op: "remove", write: true },
    ],
    operations: { read: readOperation(checksums), deploy: deployOperation(checksums), remove: removeOperation },
    layout: {
      describe(path) {
        if (checksumOf(path) || isMetadataFile(path)) return null;
        const c = parseArtifactPath(path);
        return c ? { name: indexName(c), version: c.version } : null;
      },
      isMetadata: isMetadataFile,
    },
    proxy: { filterCooldown: cooldownMetadata },
    mergeMetadata: (_key, docs) => {
      const merged = mergeMetadata(docs.map((d) => d.bytes.toString("utf8")));
      return merged === null ? null : Buffer.from(merged);
    },
    pullInstructions(repo, path, baseUrl) {
      const c = parseArtifactPath(path);
      const url = `${baseUrl}/${path}`;
      if (!c) return [`curl -fO ${url}`];
      const gav = `${c.groupId}:${c.artifactId}:${c.version}${c.extension !== "jar" || c.classifier ? `:${c.extension}${c.classifier ? ":" + c.classifier : ""}` : ""}`;
      const build =
        repo.format === "gradle"
          ? `implementation("${c.groupId}:${c.artifactId}:${c.version}")`
          : `mvn dependency:get -Dartifact=${gav} -DremoteRepositories=${baseUrl}`;
      return [build, `curl -fO ${url}`];
    },
    hooks: {
      afterDelete: ({ path, folder, ...t }) => refreshAfterDelete(t, path, folder),
      afterImport: ({ path, ...t }) => refreshAfterImport(t, path),
    },
  };
}
