import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { describeArtifact, describeGeneric } from "../../src/search/describe.js";
import { filePlugin } from "../../src/formats/file/index.js";

describe("reindex: name/version of the artifact at a storage key", () => {
  it("comes from the format's layout when it has one", () => {
    assert.deepEqual(describeArtifact(filePlugin.layout, "docs/readme.txt"), { name: "readme.txt", version: "" });
    const layout = { describe: (k: string) => (k.endsWith(".xml") ? null : { name: "lib", version: "1.0" }) };
    assert.deepEqual(describeArtifact(layout, "a/lib/1.0/lib-1.0.jar"), { name: "lib", version: "1.0" });
    assert.equal(describeArtifact(layout, "a/lib/maven-metadata.xml"), null);
  });
  it("generic fallback: skips checksums, signatures and internal files", () => {
    for (const k of ["a/b/1.0/b-1.0.jar.sha1", "a/b/1.0/b-1.0.jar.asc", "a/b/x.md5", ".meta/x.json", "pkg/.pantera/state", ""]) {
      assert.equal(describeArtifact(undefined, k), null, k);
    }
  });
  it("generic fallback knows no format's layout: the file name without extension, no version", () => {
    assert.deepEqual(describeGeneric("docs/readme.txt"), { name: "readme", version: "" });
    // Formats describe their own layouts; the fallback no longer guesses maven or npm paths.
    assert.deepEqual(describeGeneric("com/google/guava/guava/32.1.3-jre/guava-32.1.3-jre.jar"), { name: "guava-32", version: "" });
    assert.deepEqual(describeGeneric("left-pad/-/left-pad-1.3.0.tgz"), { name: "left-pad-1", version: "" });
  });
});
