// Pure PyPI logic: PEP 503 names, distribution file names, negotiation, rendering and parsing
// of simple indexes, file-list assembly and group merge.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  assembleFiles,
  mergeFiles,
  negotiate,
  normalize,
  parseFilename,
  parseProjectHtml,
  parseProjectJson,
  renderProjectHtml,
  renderProjectJson,
  validateProject,
  type PyFile,
} from "../../src/formats/pypi/simple.js";
import { DomainError } from "../../src/errors.js";

const file = (filename: string, extra: Partial<PyFile> = {}): PyFile => ({
  filename,
  url: `http://h/packages/${filename}`,
  hashes: { sha256: "ab".repeat(32) },
  version: parseFilename(filename)?.version ?? null,
  ...extra,
});

describe("PyPI names and files", () => {
  it("normalises names per PEP 503", () => {
    for (const n of ["Friendly-Bard", "friendly.bard", "FRIENDLY_BARD", "friendly--._bard"]) assert.equal(normalize(n), "friendly-bard");
    assert.equal(validateProject("Acme_Lib"), "Acme_Lib");
    for (const bad of ["", "-x", "a b", "x/y", "x-"])
      assert.throws(
        () => validateProject(bad),
        (e: unknown) => e instanceof DomainError && e.code === "BAD_REQUEST",
      );
  });

  it("parses wheel, sdist and egg file names", () => {
    assert.deepEqual(parseFilename("Acme_Lib-1.2.0-py3-none-any.whl"), { project: "Acme_Lib", version: "1.2.0", kind: "wheel" });
    assert.deepEqual(parseFilename("numpy-1.26.4-1-cp311-cp311-manylinux_2_17_x86_64.whl"), { project: "numpy", version: "1.26.4", kind: "wheel" });
    assert.deepEqual(parseFilename("my-cool-pkg-2.0.0rc1.tar.gz"), { project: "my-cool-pkg", version: "2.0.0rc1", kind: "sdist" });
    assert.deepEqual(parseFilename("pkg-1.0.zip"), { project: "pkg", version: "1.0", kind: "sdist" });
    assert.deepEqual(parseFilename("pkg-1.0-py2.7.egg"), { project: "pkg", version: "1.0", kind: "egg" });
    for (const bad of ["pkg.txt", "../pkg-1.0.tar.gz", "a-b.whl", "nohyphen.tar.gz"]) assert.equal(parseFilename(bad), null, bad);
  });

  it("negotiates PEP 691 content types", () => {
    assert.equal(negotiate("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"), "json");
    assert.equal(negotiate("application/vnd.pypi.simple.v1+json; q=0.1, text/html"), "html");
    assert.equal(negotiate("text/html"), "html");
    assert.equal(negotiate(undefined), "html");
    assert.equal(negotiate("application/json"), "html");
    assert.equal(negotiate("text/html", "application/vnd.pypi.simple.v1+json"), "json");
  });
});

describe("simple index pages", () => {
  const files = [
    file("acme_app-0.1.0.tar.gz", { requiresPython: ">=3.7, <4", uploadTime: "2026-11-23T10:00:00.000Z", size: 10 }),
    file("acme_app-0.1.0-py3-none-any.whl", { yanked: "broken build" }),
  ];

  it("renders PEP 503 HTML with hashes, escaped requires-python and yanked markers", () => {
    const html = renderProjectHtml("Acme-App", files);
    assert.match(html, /<meta name="pypi:repository-version" content="1.1">/);
    assert.match(
      html,
      /<a href="http:\/\/h\/packages\/acme_app-0\.1\.0\.tar\.gz#sha256=(ab){32}" data-requires-python="&gt;=3\.7, &lt;4">acme_app-0\.1\.0\.tar\.gz<\/a>/,
    );
    assert.match(html, /data-yanked="broken build">acme_app-0\.1\.0-py3-none-any\.whl/);
  });

  it("renders PEP 691 JSON with upload-time, size and versions", () => {
    const doc = renderProjectJson("Acme-App", files) as any;
    assert.equal(doc.meta["api-version"], "1.1");
    assert.equal(doc.name, "acme-app");
    assert.deepEqual(doc.versions, ["0.1.0"]);
    assert.deepEqual(doc.files[0], {
      filename: "acme_app-0.1.0.tar.gz",
      url: "http://h/packages/acme_app-0.1.0.tar.gz",
      hashes: { sha256: "ab".repeat(32) },
      "requires-python": ">=3.7, <4",
      size: 10,
      "upload-time": "2026-11-23T10:00:00.000Z",
      yanked: false,
    });
    assert.equal(doc.files[1].yanked, "broken build");
  });

  it("parses what it renders, in both formats, resolving relative URLs", () => {
    const fromHtml = parseProjectHtml(renderProjectHtml("acme-app", files).replaceAll("http://h/packages/", "../../packages/"), "http://up/simple/acme-app/");
    assert.equal(fromHtml[0].url, "http://up/packages/acme_app-0.1.0.tar.gz");
    assert.deepEqual(fromHtml[0].hashes, { sha256: "ab".repeat(32) });
    assert.equal(fromHtml[0].requiresPython, ">=3.7, <4");
    assert.equal(fromHtml[0].version, "0.1.0");
    assert.equal(fromHtml[1].yanked, "broken build");
    const fromJson = parseProjectJson(renderProjectJson("acme-app", files), "http://up/simple/acme-app/");
    assert.equal(fromJson[0].uploadTime, "2026-11-23T10:00:00.000Z");
    assert.equal(fromJson[0].size, 10);
    assert.throws(() => parseProjectJson({ nope: 1 }, "http://up/"), /no 'files'/);
  });

  it("assembles files through one filter and merges group members first-wins", () => {
    const all = [file("x-2.0.tar.gz", { uploadTime: "2026-11-22T00:00:00Z" }), file("x-1.0.tar.gz", { uploadTime: "2020-01-01T00:00:00Z" })];
    const seen: string[] = [];
    const kept = assembleFiles(all, (v, t) => {
      seen.push(`${v}@${t?.getUTCFullYear()}`);
      return v === "1.0";
    });
    assert.deepEqual(seen, ["2.0@2026", "1.0@2020"]);
    assert.deepEqual(
      kept.map((f) => f.filename),
      ["x-1.0.tar.gz"],
    );
    assert.deepEqual(
      assembleFiles(all).map((f) => f.filename),
      ["x-1.0.tar.gz", "x-2.0.tar.gz"],
    );
    const merged = mergeFiles([[file("x-1.0.tar.gz", { url: "a" })], [file("x-1.0.tar.gz", { url: "b" }), file("x-2.0.tar.gz")]]);
    assert.deepEqual(
      merged.map((f) => [f.filename, f.url]),
      [
        ["x-1.0.tar.gz", "a"],
        ["x-2.0.tar.gz", "http://h/packages/x-2.0.tar.gz"],
      ],
    );
  });
});
