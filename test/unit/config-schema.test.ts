// The repository config schema DSL (src/formats/kit/config.ts): every field kind validates, and
// every error is a 400 naming the offending field.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DomainError } from "../../src/errors.js";
import { commonConfigFields, configSchema, field, isDuration } from "../../src/formats/kit/config.js";
import { mavenConfig } from "../../src/formats/maven/config.js";
import { formatConfigs } from "../../src/formats/plugins.js";
import type { RepositoryKind } from "../../src/repositories/types.js";

/** Asserts parse throws a BAD_REQUEST whose message matches `message`. */
function rejects(fn: () => unknown, message: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DomainError, String(err));
    assert.equal(err.code, "BAD_REQUEST");
    assert.match(err.message, message);
    return true;
  });
}

const test = configSchema("Test", {
  level: field.number({ integer: true, min: 1, max: 9 }),
  ratio: field.number(),
  wait: field.duration("s"),
  enabled: field.boolean(),
  home: field.url(),
  mode: field.enum(["fast", "safe"]),
  tags: field.list(field.string({ nonEmpty: true }), { unique: true }),
  owner: field.object("TestOwner", { name: field.string({ required: true }), mail: field.string() }),
  hosted_only: field.string({ only: ["hosted"] }),
  needed_by_groups: field.string({ required: ["group"] }),
});

const base = (kind: RepositoryKind, extra: Record<string, unknown> = {}) => ({
  type: "test" + (kind === "hosted" ? "" : `-${kind}`),
  storage: "default",
  ...extra,
});
const parse = (kind: RepositoryKind, extra: Record<string, unknown>) => test.parse(base(kind, extra), kind);

describe("config schema DSL", () => {
  it("a format's schema is the common fields plus its own", () => {
    assert.deepEqual(Object.keys(test.fields).slice(0, Object.keys(commonConfigFields).length), Object.keys(commonConfigFields));
    assert.ok("allow_redeploy" in mavenConfig.fields && "remotes" in mavenConfig.fields);
    assert.equal(test.name, "Test");
  });

  it("accepts a valid config, keeps unknown fields as given, applies per-kind defaults", () => {
    const raw = base("hosted", {
      level: 3,
      ratio: 0.5,
      wait: "5m",
      enabled: false,
      home: "https://example.org/x",
      mode: "safe",
      tags: ["a", "b"],
      owner: { name: "ops", extra: 1 },
      hosted_only: "yes",
      indy: { allow_snapshots: true, anything: [1, 2] },
      cache: null,
    });
    const out = test.parse(raw, "hosted");
    assert.deepEqual(out, raw, "nothing changed for a hosted repository");
    assert.deepEqual(test.parse(base("group", { needed_by_groups: "x" }), "group").members, [], "a group's members default to []");
    assert.equal("members" in test.parse(base("hosted"), "hosted"), false, "no default for other kinds");
  });

  it("names the field in every error", () => {
    const cases: [RepositoryKind, Record<string, unknown>, RegExp][] = [
      ["hosted", { level: "3" }, /^'repo\.level' must be a number$/],
      ["hosted", { level: 2.5 }, /^'repo\.level' must be an integer$/],
      ["hosted", { level: 0 }, /^'repo\.level' must be at least 1$/],
      ["hosted", { level: 10 }, /^'repo\.level' must be at most 9$/],
      ["hosted", { ratio: Number.NaN }, /^'repo\.ratio' must be a number$/],
      ["hosted", { wait: "soon" }, /^'repo\.wait' must be a duration: a number of seconds/],
      ["hosted", { wait: -1 }, /^'repo\.wait' must be a duration/],
      ["hosted", { enabled: "false" }, /^'repo\.enabled' must be true or false$/],
      ["hosted", { home: 42 }, /^'repo\.home' must be a string: an absolute http\(s\) URL$/],
      ["hosted", { home: "not a url" }, /^'repo\.home' is not a valid URL: not a url$/],
      ["hosted", { home: "ftp://x.example/" }, /^'repo\.home' must be an absolute http\(s\) URL$/],
      ["hosted", { mode: "slow" }, /^'repo\.mode' must be one of fast, safe$/],
      ["hosted", { tags: "a" }, /^'repo\.tags' must be a list of non-empty strings$/],
      ["hosted", { tags: ["a", ""] }, /^'repo\.tags\[1\]' must not be empty$/],
      ["hosted", { tags: ["a", 7] }, /^'repo\.tags\[1\]' must be a string$/],
      ["hosted", { tags: ["a", "a"] }, /^'repo\.tags' lists 'a' twice$/],
      ["hosted", { owner: "ops" }, /^'repo\.owner' must be an object with 'name'$/],
      ["hosted", { owner: {} }, /^'repo\.owner\.name' is required for a test repository$/],
      [
        "proxy",
        { hosted_only: "x", remotes: [{ url: "https://u.example" }] },
        /^Only hosted repositories have 'repo\.hosted_only'; 'test-proxy' is not a hosted type$/,
      ],
      ["group", {}, /^'repo\.needed_by_groups' is required for a test-group repository$/],
      ["hosted", { storage: "" }, /^'repo\.storage' must not be empty$/],
      ["hosted", { storage: 1 }, /^'repo\.storage' must be a string$/],
    ];
    for (const [kind, extra, message] of cases) rejects(() => parse(kind, extra), message);
    rejects(() => test.parse({ type: "test" }, "hosted"), /^'repo\.storage' is required for a test repository$/);
  });

  it("common fields: remotes (required for proxies), members (groups only), TTLs", () => {
    const remote = (r: unknown) => ({ remotes: [r] });
    const cases: [RepositoryKind, Record<string, unknown>, RegExp][] = [
      ["proxy", {}, /^'repo\.remotes' is required for a test-proxy repository: a list of objects with 'url'$/],
      ["proxy", { remotes: [] }, /^A test-proxy repository needs at least one remote in 'repo\.remotes'$/],
      ["proxy", { remotes: {} }, /^'repo\.remotes' must be a list of objects with 'url'$/],
      ["proxy", remote("https://x.example"), /^'repo\.remotes\[0\]' must be an object with 'url'$/],
      ["proxy", remote({}), /^'repo\.remotes\[0\]\.url' is required for a test-proxy repository$/],
      ["proxy", remote({ url: "ftp://x.example" }), /^'repo\.remotes\[0\]\.url' must be an absolute http\(s\) URL$/],
      ["proxy", { remotes: [{ url: "https://a.example" }, { url: "nope" }] }, /^'repo\.remotes\[1\]\.url' is not a valid URL: nope$/],
      ["proxy", remote({ url: "https://x.example", username: 7 }), /^'repo\.remotes\[0\]\.username' must be a string$/],
      ["proxy", remote({ url: "https://x.example", password: false }), /^'repo\.remotes\[0\]\.password' must be a string$/],
      ["proxy", remote({ url: "https://x.example", token: {} }), /^'repo\.remotes\[0\]\.token' must be a string$/],
      ["proxy", remote({ url: "https://x.example", timeout: "forever" }), /^'repo\.remotes\[0\]\.timeout' must be a duration: a number of milliseconds/],
      ["proxy", remote({ url: "https://x.example", idle_timeout: true }), /^'repo\.remotes\[0\]\.idle_timeout' must be a duration/],
      ["hosted", { members: ["a"] }, /^Only group repositories have 'repo\.members'; 'test' is not a group type$/],
      ["group", { members: "a", needed_by_groups: "x" }, /^'repo\.members' must be a list of non-empty strings$/],
      ["group", { members: ["a", "a"], needed_by_groups: "x" }, /^'repo\.members' lists 'a' twice$/],
      ["hosted", { negative_cache_ttl: "a while" }, /^'repo\.negative_cache_ttl' must be a duration: a number of seconds/],
      ["hosted", { metadata_ttl: [] }, /^'repo\.metadata_ttl' must be a duration/],
      ["hosted", { cache: { metadata_ttl: "x" } }, /^'repo\.cache\.metadata_ttl' must be a duration/],
      ["hosted", { cache: "big" }, /^'repo\.cache' must be an object$/],
    ];
    for (const [kind, extra, message] of cases) rejects(() => parse(kind, extra), message);
  });

  it("accepts what was valid before: nulls, empty lists on other kinds, remotes on hosted, every duration form", () => {
    parse("hosted", { members: [], remotes: [{ url: "http://x.example", username: null, password: null }], cache: null });
    parse("proxy", {
      remotes: [{ url: "https://x.example", timeout: 30_000, proxy_timeout: "45s", idle_timeout: "PT1M", negative_cache_ttl: "3600", extra: { kept: true } }],
      metadata_ttl: 0,
      negative_cache_ttl: "5m",
      cache: { negative_ttl: 60, metadata_ttl: "1h" },
    });
    for (const d of [0, 3600, "3600", "30s", "5m", "1h", "2d", "250ms", "PT1H", "P1D", "PT0.5S"]) assert.ok(isDuration(d), String(d));
    for (const d of ["", "PT", "1 week", -1, Number.POSITIVE_INFINITY, true, null, {}]) assert.ok(!isDuration(d), JSON.stringify(d));
  });

  it("maven: allow_redeploy is a boolean", () => {
    assert.equal(mavenConfig.parse({ type: "maven", storage: "default", allow_redeploy: false }, "hosted").allow_redeploy, false);
    rejects(() => mavenConfig.parse({ type: "maven", storage: "default", allow_redeploy: "no" }, "hosted"), /^'repo\.allow_redeploy' must be true or false$/);
  });

  it("every built format has a schema, gradle shares maven's", () => {
    assert.deepEqual(Object.keys(formatConfigs).sort(), ["docker", "file", "gradle", "maven", "npm", "pypi"]);
    assert.equal(formatConfigs.gradle, formatConfigs.maven);
  });
});
