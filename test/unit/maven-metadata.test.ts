// Maven version ordering, path parsing, metadata generation and group merge.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compareVersions, sortVersions } from "../../src/formats/maven/version.js";
import { artifactMetadataXml, checksumOf, mergeMetadata, parseArtifactPath, parseMetadata, snapshotMetadataXml } from "../../src/formats/maven/metadata.js";

describe("maven versions", () => {
  it("orders numerically and by qualifier like Maven", () => {
    assert.deepEqual(sortVersions(["1.10", "1.2", "1.0-SNAPSHOT", "1.0", "1.0-alpha-1", "1.0-beta", "1.0-rc1", "1.0-sp1", "2"]), [
      "1.0-alpha-1",
      "1.0-beta",
      "1.0-rc1",
      "1.0-SNAPSHOT",
      "1.0",
      "1.0-sp1",
      "1.2",
      "1.10",
      "2",
    ]);
    assert.equal(compareVersions("1.0", "1"), 0);
    assert.equal(compareVersions("1.0.0-ga", "1"), 0);
    assert.ok(compareVersions("1.1", "1-alpha") > 0);
  });
});

describe("maven paths", () => {
  it("parses release, classifier and timestamped SNAPSHOT files", () => {
    assert.deepEqual(parseArtifactPath("com/example/lib/1.0/lib-1.0.jar"), {
      groupId: "com.example",
      artifactId: "lib",
      version: "1.0",
      artifactDir: "com/example/lib",
      versionDir: "com/example/lib/1.0",
      classifier: undefined,
      extension: "jar",
      snapshotValue: undefined,
    });
    const src = parseArtifactPath("com/example/lib/1.0/lib-1.0-sources.jar");
    assert.equal(src?.classifier, "sources");
    const snap = parseArtifactPath("com/example/lib/1.1-SNAPSHOT/lib-1.1-20260101.120000-3-tests.tar.gz");
    assert.equal(snap?.snapshotValue, "1.1-20260101.120000-3");
    assert.equal(snap?.classifier, "tests");
    assert.equal(snap?.extension, "tar.gz");
    assert.equal(parseArtifactPath("com/example/lib/maven-metadata.xml"), null);
    assert.equal(parseArtifactPath("com/example/lib/1.0/other-1.0.jar"), null);
    assert.deepEqual(checksumOf("a/b.jar.sha256"), { base: "a/b.jar", alg: "sha256" });
    assert.equal(checksumOf("a/b.jar"), null);
  });
});

describe("maven metadata", () => {
  it("generates artifact-level metadata with latest and release", () => {
    const xml = artifactMetadataXml("com.example", "lib", ["1.0", "2.0-SNAPSHOT", "1.10"], "20260101000000");
    const m = parseMetadata(xml);
    assert.deepEqual(m.versions, ["1.0", "1.10", "2.0-SNAPSHOT"]);
    assert.equal(m.latest, "2.0-SNAPSHOT");
    assert.equal(m.release, "1.10");
    assert.equal(m.lastUpdated, "20260101000000");
    assert.equal(m.groupId, "com.example");
  });

  it("generates SNAPSHOT metadata pointing at the newest build per classifier/extension", () => {
    const xml = snapshotMetadataXml("g", "a", "1.0-SNAPSHOT", [
      { value: "1.0-20260101.100000-1", extension: "jar" },
      { value: "1.0-20260102.100000-2", extension: "jar" },
      { value: "1.0-20260102.100000-2", extension: "pom" },
      { value: "1.0-20260101.100000-1", extension: "jar", classifier: "sources" },
    ])!;
    const m = parseMetadata(xml);
    assert.equal(m.snapshot?.timestamp, "20260102.100000");
    assert.equal(m.snapshot?.buildNumber, 2);
    assert.deepEqual(
      m.snapshotVersions.map((v) => [v.classifier ?? "", v.extension, v.value]),
      [
        ["", "jar", "1.0-20260102.100000-2"],
        ["sources", "jar", "1.0-20260101.100000-1"],
        ["", "pom", "1.0-20260102.100000-2"],
      ],
    );
  });

  it("merges group members: union of versions, latest/release recomputed, newest snapshot wins", () => {
    const a = artifactMetadataXml("g", "a", ["1.0", "1.1"], "20250101000000");
    const b = artifactMetadataXml("g", "a", ["0.9", "2.0-SNAPSHOT"], "20260101000000");
    const m = parseMetadata(mergeMetadata([a, b])!);
    assert.deepEqual(m.versions, ["0.9", "1.0", "1.1", "2.0-SNAPSHOT"]);
    assert.equal(m.latest, "2.0-SNAPSHOT");
    assert.equal(m.release, "1.1");
    assert.equal(m.lastUpdated, "20260101000000");
    assert.equal(mergeMetadata([a]), a);
    assert.equal(mergeMetadata([]), null);
    const s1 = snapshotMetadataXml("g", "a", "1-SNAPSHOT", [{ value: "1-20260101.000000-1", extension: "jar" }])!;
    const s2 = snapshotMetadataXml("g", "a", "1-SNAPSHOT", [{ value: "1-20260105.000000-4", extension: "jar" }])!;
    assert.equal(mergeMetadata([s1, s2]), s2);
    const p1 = `<metadata><plugins><plugin><name>A</name><prefix>a</prefix><artifactId>a-maven-plugin</artifactId></plugin></plugins></metadata>`;
    const p2 = `<metadata><plugins><plugin><name>B</name><prefix>b</prefix><artifactId>b-maven-plugin</artifactId></plugin></plugins></metadata>`;
    assert.deepEqual(
      parseMetadata(mergeMetadata([p1, p2])!).plugins.map((p) => p.prefix),
      ["a", "b"],
    );
  });
});
