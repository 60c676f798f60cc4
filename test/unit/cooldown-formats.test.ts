import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { newestAllowedBelow } from "../../src/formats/npm/cooldown.js";

describe("cooldown: dist-tag remapping", () => {
  it("moves a tag to the newest allowed version not above it, keeping stability", () => {
    assert.equal(newestAllowedBelow("2.0.0", ["1.0.0", "1.9.0", "3.0.0-beta.1", "1.10.0"]), "1.10.0");
    assert.equal(newestAllowedBelow("2.0.0", ["2.0.0-rc.1", "1.0.0"]), "1.0.0");
    assert.equal(newestAllowedBelow("2.0.0-rc.2", ["2.0.0-rc.1", "1.0.0"]), "2.0.0-rc.1");
    assert.equal(newestAllowedBelow("2.0.0", ["3.0.0"]), undefined);
    assert.equal(newestAllowedBelow("2.0.0", []), undefined);
  });
});
