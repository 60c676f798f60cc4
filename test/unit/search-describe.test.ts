import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { describeGeneric } from "../../src/search/describe.js";

describe("reindex: generic name/version extraction from storage keys", () => {
  it("maven-like and pypi-like layouts: <name>/<version>/<file>", () => {
    assert.deepEqual(describeGeneric("com/google/guava/guava/32.1.3-jre/guava-32.1.3-jre.jar"), { name: "guava", version: "32.1.3-jre" });
    assert.deepEqual(describeGeneric("pydantic/2.12.0/pydantic-2.12.0-py3-none-any.whl"), { name: "pydantic", version: "2.12.0" });
  });
  it("npm tarballs, scoped or not", () => {
    assert.deepEqual(describeGeneric("left-pad/-/left-pad-1.3.0.tgz"), { name: "left-pad", version: "1.3.0" });
    assert.deepEqual(describeGeneric("@scope/pkg/-/pkg-2.0.0-beta.1.tgz"), { name: "@scope/pkg", version: "2.0.0-beta.1" });
  });
  it("skips checksums, signatures, metadata and internal files", () => {
    for (const k of ["a/b/1.0/b-1.0.jar.sha1", "a/b/1.0/b-1.0.jar.asc", "a/b/maven-metadata.xml", "a/b/maven-metadata.xml.md5", ".meta/x.json", "pkg/.pantera/state"]) {
      assert.equal(describeGeneric(k), null, k);
    }
  });
  it("anything else: the file name without extension", () => {
    assert.deepEqual(describeGeneric("docs/readme.txt"), { name: "readme", version: "" });
  });
});
