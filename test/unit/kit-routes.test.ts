// The format kit's route tables and registry: matching, params, HEAD from GET, the Allow list
// of a path, and repository types derived from the registered plugins.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RouteTable } from "../../src/formats/kit/routes.js";
import { FormatRegistry } from "../../src/formats/kit/registry.js";
import type { FormatPlugin } from "../../src/formats/kit/contract.js";

const table = new RouteTable([
  { method: "GET", path: "/", op: "root" },
  { method: "GET", path: "/-/v1/search", op: "search" },
  { method: "GET", path: "/:name", op: "doc", when: (p) => p.name !== "-" },
  { method: ["PUT", "DELETE"], path: "/:name", op: "write", write: true },
  { method: "GET", path: "/:name/-/:file", op: "tarball" },
  { method: "POST", path: "/files/*rest", op: "upload" },
  { method: "GET", path: /^\/re\/(?<a>[a-z]+)\/(?<b>\d+)$/, op: "regex" },
]);

describe("format kit: route table", () => {
  it("matches literal, one-segment and rest patterns, giving their params", () => {
    assert.deepEqual(table.resolve("GET", "/"), { route: { method: "GET", path: "/", op: "root" }, params: {} });
    const search = table.resolve("GET", "/-/v1/search");
    assert.ok("route" in search && search.route.op === "search");
    const doc = table.resolve("GET", "/lodash");
    assert.ok("route" in doc && doc.route.op === "doc");
    assert.deepEqual(doc.params, { name: "lodash" });
    const tarball = table.resolve("GET", "/lodash/-/lodash-1.0.0.tgz");
    assert.ok("route" in tarball);
    assert.deepEqual(tarball.params, { name: "lodash", file: "lodash-1.0.0.tgz" });
    const upload = table.resolve("POST", "/files/a/b/c.txt");
    assert.ok("route" in upload);
    assert.deepEqual(upload.params, { rest: "a/b/c.txt" });
    const regex = table.resolve("GET", "/re/abc/42");
    assert.ok("route" in regex);
    assert.deepEqual(regex.params, { a: "abc", b: "42" });
  });

  it("serves HEAD wherever GET is", () => {
    const head = table.resolve("HEAD", "/lodash");
    assert.ok("route" in head && head.route.op === "doc");
  });

  it("a guard that refuses the params makes the route not match", () => {
    const dash = table.resolve("GET", "/-");
    assert.ok("allowed" in dash);
    assert.deepEqual(dash.allowed, ["PUT", "DELETE"]);
  });

  it("another method on a known path lists the allowed methods of every route matching it, in a fixed order", () => {
    const r = table.resolve("POST", "/lodash");
    assert.ok("allowed" in r);
    assert.deepEqual(r.allowed, ["GET", "HEAD", "PUT", "DELETE"]);
  });

  it("a path no route has allows nothing (the kit answers 404)", () => {
    const r = table.resolve("GET", "/a/b/c/d");
    assert.ok("allowed" in r);
    assert.deepEqual(r.allowed, []);
    // A rest parameter needs at least one segment: "/files" is only the one-segment "/:name" routes' path.
    const rest = table.resolve("POST", "/files");
    assert.ok("allowed" in rest);
    assert.deepEqual(rest.allowed, ["GET", "HEAD", "PUT", "DELETE"]);
  });
});

const plugin = (format: string, aliases?: string[]): FormatPlugin => ({
  format,
  aliases,
  routes: [{ method: "GET", path: "/*path", op: "read" }],
  operations: { read: () => ({ status: 200 }) },
  layout: { describe: () => null, isMetadata: () => false },
});

describe("format kit: registry", () => {
  const registry = new FormatRegistry([plugin("maven", ["gradle"]), plugin("file")]);

  it("derives the repository types from the plugins and their aliases", () => {
    assert.deepEqual(registry.types(), ["maven", "maven-proxy", "maven-group", "gradle", "gradle-proxy", "gradle-group", "file", "file-proxy", "file-group"]);
    assert.deepEqual(registry.parseType("gradle-proxy"), { format: "gradle", kind: "proxy" });
    assert.deepEqual(registry.parseType("file"), { format: "file", kind: "hosted" });
    assert.equal(registry.parseType("helm"), null);
    assert.equal(registry.parseType("helm-group"), null);
    assert.equal(registry.plugin("gradle"), registry.plugin("maven"));
  });

  it("refuses a format registered twice", () => {
    assert.throws(() => new FormatRegistry([plugin("npm"), plugin("npm")]), /registered twice/);
  });
});
