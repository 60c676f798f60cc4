import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { durationMs, parseDuration } from "../../src/cooldown/duration.js";
import { DomainError } from "../../src/errors.js";

describe("cooldown durations", () => {
  it("parses Nd, Nh and Nm", () => {
    assert.equal(durationMs("7d"), 7 * 86_400_000);
    assert.equal(durationMs("12h"), 12 * 3_600_000);
    assert.equal(durationMs("30m"), 30 * 60_000);
    assert.equal(durationMs("0m"), 0);
    assert.equal(durationMs(" 3D "), 3 * 86_400_000);
  });
  it("rejects anything else with a 400 naming the field", () => {
    for (const bad of ["7", "d", "7w", "1.5d", "-1d", "7d3h", "", "99999d", 7, null, {}]) {
      assert.throws(
        () => parseDuration(bad, "minimum_allowed_age"),
        (e: unknown) => e instanceof DomainError && e.code === "BAD_REQUEST" && /'minimum_allowed_age' must be a duration/.test(e.message),
        JSON.stringify(bad),
      );
    }
    assert.equal(parseDuration("5D", "x"), "5d");
  });
});
