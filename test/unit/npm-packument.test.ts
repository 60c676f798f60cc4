// Pure npm metadata logic: names, the route table, tarball URL rewriting, version assembly, group merge,
// abbreviation and publish-body validation.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  abbreviate,
  assembleVersions,
  mergePackuments,
  parseName,
  parsePublish,
  rewriteTarballs,
  tarballFile,
  upstreamTarballUrl,
  versionFromTarball,
  type Packument,
} from "../../src/formats/npm/packument.js";
import { npmRoutes } from "../../src/formats/npm/index.js";
import { RouteTable } from "../../src/formats/kit/routes.js";
import { DomainError } from "../../src/errors.js";

const pkg = (name: string, versions: string[], tags: Record<string, string>, time: Record<string, string> = {}, host = "http://up"): Packument => ({
  name,
  "dist-tags": tags,
  versions: Object.fromEntries(
    versions.map((v) => [
      v,
      {
        name,
        version: v,
        description: "d " + v,
        scripts: { postinstall: "x" },
        dist: { tarball: `${host}/${name}/-/${tarballFile(name, v)}`, shasum: "s" + v },
      },
    ]),
  ),
  time,
});

const badRequest = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof DomainError && e.code === "BAD_REQUEST" && re.test(e.message));

describe("npm names and routes", () => {
  it("parses scoped and unscoped names and rejects invalid ones", () => {
    assert.deepEqual(parseName("@acme/app"), { name: "@acme/app", scope: "acme", bare: "app" });
    assert.deepEqual(parseName("@acme%2Fapp"), { name: "@acme/app", scope: "acme", bare: "app" });
    assert.deepEqual(parseName("left-pad"), { name: "left-pad", scope: null, bare: "left-pad" });
    for (const bad of ["", "Upper", "a b", "@scope", "../x", ".hidden", "@a/b/c", "x".repeat(215)])
      badRequest(() => parseName(bad), /Invalid npm package name/);
  });

  it("maps tarball file names to versions", () => {
    assert.equal(tarballFile("@acme/app", "1.2.3"), "app-1.2.3.tgz");
    assert.equal(versionFromTarball("@acme/app", "app-1.2.3-beta.1.tgz"), "1.2.3-beta.1");
    assert.equal(versionFromTarball("left-pad", "left-pad-1.3.0.tgz"), "1.3.0");
    assert.equal(versionFromTarball("left-pad", "other-1.3.0.tgz"), null);
    assert.equal(versionFromTarball("left-pad", "left-pad-latest.tgz"), null);
  });

  it("routes registry endpoints", () => {
    const table = new RouteTable(npmRoutes);
    /** The operation and (defined) params `method path` routes to, or the methods allowed there. */
    const route = (method: string, path: string) => {
      const m = table.resolve(method, "/" + path);
      if (!("route" in m)) return { allowed: m.allowed };
      return { op: m.route.op, ...Object.fromEntries(Object.entries(m.params).filter(([, v]) => v !== undefined)) };
    };
    assert.deepEqual(route("GET", "@acme/app"), { op: "packument", name: "@acme/app" });
    assert.deepEqual(route("PUT", "@acme/app"), { op: "publish", name: "@acme/app" });
    assert.deepEqual(route("GET", "lodash/-/lodash-4.17.21.tgz"), { op: "tarball", name: "lodash", file: "lodash-4.17.21.tgz" });
    assert.deepEqual(route("DELETE", "@acme/app/-/app-1.0.0.tgz/-rev/3-abc"), { op: "deleteTarball", name: "@acme/app", file: "app-1.0.0.tgz", rev: "3-abc" });
    assert.deepEqual(route("DELETE", "lodash/-rev/2-x"), { op: "unpublish", name: "lodash", rev: "2-x" });
    assert.deepEqual(route("GET", "lodash/latest"), { op: "version", name: "lodash", spec: "latest" });
    assert.deepEqual(route("GET", "-/whoami"), { op: "whoami" });
    assert.deepEqual(route("GET", "-/v1/search"), { op: "search" });
    assert.deepEqual(route("PUT", "-/user/org.couchdb.user:alice"), { op: "login", user: "alice" });
    assert.deepEqual(route("DELETE", "-/user/token/abc"), { op: "logout", token: "abc" });
    assert.deepEqual(route("POST", "-/v1/login"), { op: "webLogin" });
    assert.deepEqual(route("PUT", "-/package/@acme/app/dist-tags/beta"), { op: "changeDistTag", name: "@acme/app", tag: "beta" });
    assert.deepEqual(route("GET", "-/package/lodash/dist-tags"), { op: "distTags", name: "lodash" });
    assert.deepEqual(route("POST", "lodash/-/lodash-1.0.0.tgz"), { allowed: ["GET", "HEAD", "DELETE"] });
    assert.deepEqual(route("GET", "a/b/c/d/e"), { allowed: [] });
  });
});

describe("packuments", () => {
  it("rewrites every tarball URL to this server and remembers the upstream one separately", () => {
    const p = pkg("@acme/app", ["1.0.0"], { latest: "1.0.0" });
    const out = rewriteTarballs(p, "http://pantera:8080/npm-group");
    assert.equal(out.versions["1.0.0"].dist.tarball, "http://pantera:8080/npm-group/@acme/app/-/app-1.0.0.tgz");
    assert.equal(out.versions["1.0.0"].dist.shasum, "s1.0.0");
    assert.equal(p.versions["1.0.0"].dist.tarball, "http://up/@acme/app/-/app-1.0.0.tgz", "input untouched");
    assert.equal(upstreamTarballUrl(p, "app-1.0.0.tgz"), "http://up/@acme/app/-/app-1.0.0.tgz");
    assert.equal(upstreamTarballUrl(p, "app-9.0.0.tgz"), null);
  });

  it("assembles versions through one filter and repairs dist-tags", () => {
    const p = pkg(
      "x",
      ["1.0.0", "1.1.0", "2.0.0-rc.1"],
      { latest: "1.1.0", next: "2.0.0-rc.1" },
      { created: "2020-01-01T00:00:00Z", "1.0.0": "2020-01-01T00:00:00Z", "1.1.0": "2026-11-01T00:00:00Z", "2.0.0-rc.1": "2026-11-02T00:00:00Z" },
    );
    const seen: Array<[string, string | undefined]> = [];
    const out = assembleVersions(p, (v, t) => {
      seen.push([v, t?.toISOString()]);
      return v === "1.0.0";
    });
    assert.deepEqual(seen, [
      ["1.0.0", "2020-01-01T00:00:00.000Z"],
      ["1.1.0", "2026-11-01T00:00:00.000Z"],
      ["2.0.0-rc.1", "2026-11-02T00:00:00.000Z"],
    ]);
    assert.deepEqual(Object.keys(out.versions), ["1.0.0"]);
    assert.deepEqual(out["dist-tags"], { latest: "1.0.0" });
    assert.deepEqual(Object.keys(out.time!), ["created", "1.0.0"]);
    assert.deepEqual(assembleVersions(p)["dist-tags"], p["dist-tags"]);
  });

  it("merges group members: first member wins a version, latest is the highest", () => {
    const hosted = pkg(
      "x",
      ["1.0.0", "3.0.0"],
      { latest: "1.0.0", beta: "3.0.0" },
      { "1.0.0": "2021-01-01T00:00:00Z", modified: "2021-01-01T00:00:00Z" },
      "http://hosted",
    );
    const proxy = pkg(
      "x",
      ["1.0.0", "2.0.0"],
      { latest: "2.0.0", beta: "2.0.0" },
      { "1.0.0": "2019-01-01T00:00:00Z", "2.0.0": "2022-01-01T00:00:00Z", modified: "2022-01-01T00:00:00Z" },
      "http://proxy",
    );
    const merged = mergePackuments([hosted, proxy])!;
    assert.deepEqual(Object.keys(merged.versions).sort(), ["1.0.0", "2.0.0", "3.0.0"]);
    assert.equal(merged.versions["1.0.0"].dist.tarball, "http://hosted/x/-/x-1.0.0.tgz");
    assert.deepEqual(merged["dist-tags"], { beta: "3.0.0", latest: "2.0.0" });
    assert.equal(merged.time!["1.0.0"], "2021-01-01T00:00:00Z");
    assert.equal(merged.time!.modified, "2022-01-01T00:00:00Z");
    assert.equal(mergePackuments([]), null);
  });

  it("abbreviates to the install fields", () => {
    const a = abbreviate(pkg("x", ["1.0.0"], { latest: "1.0.0" }, { modified: "2022-01-01T00:00:00Z" }));
    assert.deepEqual(a, {
      name: "x",
      modified: "2022-01-01T00:00:00Z",
      "dist-tags": { latest: "1.0.0" },
      versions: { "1.0.0": { name: "x", version: "1.0.0", dist: { tarball: "http://up/x/-/x-1.0.0.tgz", shasum: "s1.0.0" }, hasInstallScript: true } },
    });
  });
});

describe("publish bodies", () => {
  const data = Buffer.from("tarball bytes");
  const body = (over: Record<string, unknown> = {}) => ({
    _id: "@acme/app",
    name: "@acme/app",
    "dist-tags": { beta: "1.0.0" },
    versions: {
      "1.0.0": {
        name: "@acme/app",
        version: "1.0.0",
        dist: { shasum: createHash("sha1").update(data).digest("hex"), tarball: "http://x/@acme/app/-/app-1.0.0.tgz" },
      },
    },
    _attachments: { "@acme/app-1.0.0.tgz": { content_type: "application/octet-stream", data: "", length: data.length } },
    readme: "hi",
    ...over,
  });

  // What the streaming reader staged for each attachment key.
  const staged = new Map([["@acme/app-1.0.0.tgz", { size: data.length, id: "staged-1" }]]);

  it("accepts an npm publish document", () => {
    const p = parsePublish("@acme/app", body(), staged);
    assert.deepEqual(p.tags, { beta: "1.0.0" });
    assert.equal(p.attachments.length, 1);
    assert.equal(p.attachments[0].file, "app-1.0.0.tgz");
    assert.equal(p.attachments[0].version, "1.0.0");
    assert.equal(p.attachments[0].staged.id, "staged-1");
    assert.deepEqual(p.meta, { name: "@acme/app", readme: "hi" });
  });

  it("rejects malformed documents with 400", () => {
    badRequest(() => parsePublish("@acme/app", null, staged), /JSON object/);
    badRequest(() => parsePublish("@acme/app", body({ name: "other" }), staged), /does not match the URL/);
    badRequest(() => parsePublish("@acme/app", body({ _attachments: {} }), staged), /no _attachments/);
    badRequest(() => parsePublish("@acme/app", body({ versions: { "not-semver": {} } }), staged), /Invalid version/);
    badRequest(
      () => parsePublish("@acme/app", body({ _attachments: { "app-9.9.9.tgz": { data: "" } } }), new Map([["app-9.9.9.tgz", { size: 1, id: "x" }]])),
      /matches no version/,
    );
    badRequest(() => parsePublish("@acme/app", body({ _attachments: { "@acme/app-1.0.0.tgz": { data: "", length: 1 } } }), staged), /length/);
    badRequest(() => parsePublish("@acme/app", body(), new Map()), /no base64 data/);
    badRequest(() => parsePublish("@acme/app", body({ "dist-tags": { "1.0": "1.0.0" } }), staged), /Invalid dist-tag/);
  });
});
