import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { digestOf, parseDigest, requireDigest } from "../../src/formats/docker/digest.js";
import { OCI_ERRORS, OciError, ociError } from "../../src/formats/docker/errors.js";
import { acceptedTypes, configCreated, MEDIA, parseManifest } from "../../src/formats/docker/manifest.js";
import { isValidImageName, isValidReference, parseV2Path } from "../../src/formats/docker/names.js";
import {
  bearerChallenge,
  linkHeader,
  paginate,
  parseChallenge,
  parseContentRange,
  parsePageSize,
  parseScopes,
  uploadRange,
} from "../../src/formats/docker/protocol.js";

const D = (c: string) => "sha256:" + c.repeat(64);
const ociCode = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof OciError, String(err));
    return `${err.code}/${err.status}`;
  }
  return "no error";
};

describe("OCI digests", () => {
  it("parses sha256 and sha512, refuses the rest", () => {
    assert.deepEqual(parseDigest(D("a")), { algorithm: "sha256", hex: "a".repeat(64) });
    assert.equal(parseDigest("sha512:" + "b".repeat(128))?.algorithm, "sha512");
    for (const bad of [
      "",
      "sha256:",
      "sha256:" + "A".repeat(64),
      "sha256:" + "a".repeat(63),
      "md5:" + "a".repeat(32),
      "sha512:" + "a".repeat(64),
      "sha256" + "a".repeat(64),
    ]) {
      assert.equal(parseDigest(bad), null, bad);
    }
    assert.equal(
      ociCode(() => requireDigest("nope")),
      "DIGEST_INVALID/400",
    );
  });
  it("hashes content", () => {
    assert.equal(digestOf(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
});

describe("OCI errors", () => {
  it("speaks the error codes the conformance suite accepts, in the {errors:[{code,message,detail}]} body", () => {
    const suiteCodes = [
      "BLOB_UNKNOWN",
      "BLOB_UPLOAD_INVALID",
      "BLOB_UPLOAD_UNKNOWN",
      "DIGEST_INVALID",
      "MANIFEST_BLOB_UNKNOWN",
      "MANIFEST_INVALID",
      "MANIFEST_UNKNOWN",
      "NAME_INVALID",
      "NAME_UNKNOWN",
      "SIZE_INVALID",
      "TAG_INVALID",
      "UNAUTHORIZED",
      "DENIED",
      "UNSUPPORTED",
    ];
    for (const code of suiteCodes) assert.ok(code in OCI_ERRORS, code);
    const err = ociError("TAG_INVALID", "Invalid tag 'a..b'", { tag: "a..b" });
    assert.equal(err.status, 400);
    assert.deepEqual(err.body(), { errors: [{ code: "TAG_INVALID", message: "Invalid tag 'a..b'", detail: { tag: "a..b" } }] });
    assert.deepEqual(ociError("MANIFEST_UNKNOWN", "gone").body().errors[0].detail, null);
    assert.equal(ociError("UNSUPPORTED", "no").status, 405);
  });
});

describe("OCI /v2 paths and names", () => {
  it("routes by the last keyword so images may contain 'blobs' or 'manifests' components", () => {
    assert.deepEqual(parseV2Path("/"), { endpoint: "base" });
    assert.deepEqual(parseV2Path(""), { endpoint: "base" });
    assert.deepEqual(parseV2Path("/_catalog"), { endpoint: "catalog" });
    assert.deepEqual(parseV2Path("/token"), { endpoint: "token" });
    assert.deepEqual(parseV2Path("/r/lib/app/manifests/1.0"), { endpoint: "manifest", repo: "r", image: "lib/app", reference: "1.0" });
    assert.deepEqual(parseV2Path("/r/a/blobs/b/blobs/" + D("c")), { endpoint: "blob", repo: "r", image: "a/blobs/b", digest: D("c") });
    assert.deepEqual(parseV2Path("/r/app/blobs/uploads/"), { endpoint: "upload-start", repo: "r", image: "app" });
    assert.deepEqual(parseV2Path("/r/app/blobs/uploads/abc"), { endpoint: "upload", repo: "r", image: "app", id: "abc" });
    assert.deepEqual(parseV2Path("/r/app/tags/list"), { endpoint: "tags", repo: "r", image: "app" });
    assert.deepEqual(parseV2Path("/r/app/referrers/" + D("d")), { endpoint: "referrers", repo: "r", image: "app", digest: D("d") });
    assert.equal(parseV2Path("/r/app/whatever"), null);
  });
  it("flags malformed names", () => {
    assert.deepEqual(parseV2Path("/r/App/tags/list"), { invalid: "name", name: "r/App" });
    assert.deepEqual(parseV2Path("/onlyrepo/tags/list"), { invalid: "name", name: "onlyrepo" });
    assert.deepEqual(parseV2Path("/r/a//b/tags/list"), { invalid: "name", name: "r/a//b" });
    assert.ok(isValidImageName("a.b/c_d/e__f/g-h"));
    assert.ok(!isValidImageName("-a"));
    assert.ok(!isValidImageName("a/_b"));
  });
  it("validates references", () => {
    assert.ok(isValidReference("latest"));
    assert.ok(isValidReference("v1.2_3-rc"));
    assert.ok(isValidReference(D("e")));
    assert.ok(!isValidReference(".hidden"));
    assert.ok(!isValidReference("a".repeat(129)));
  });
});

describe("OCI manifests", () => {
  const desc = (mediaType: string, c: string, size = 3) => ({ mediaType, digest: D(c), size });
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: desc(MEDIA.ociConfig, "1"),
    layers: [desc("application/vnd.oci.image.layer.v1.tar+gzip", "2")],
  };
  it("parses an image manifest into its blobs", () => {
    const m = parseManifest(Buffer.from(JSON.stringify(manifest)), MEDIA.ociManifest);
    assert.equal(m.shape, "manifest");
    assert.deepEqual(
      m.blobs.map((b) => b.digest),
      [D("1"), D("2")],
    );
  });
  it("parses an index into child manifests and infers the type without mediaType", () => {
    const idx = { schemaVersion: 2, manifests: [{ ...desc(MEDIA.ociManifest, "3"), platform: { os: "linux", architecture: "amd64" } }] };
    const m = parseManifest(Buffer.from(JSON.stringify(idx)), "application/json");
    assert.equal(m.shape, "index");
    assert.equal(m.mediaType, MEDIA.ociIndex);
    assert.equal(m.manifests[0].digest, D("3"));
  });
  it("keeps subject and artifactType", () => {
    const m = parseManifest(Buffer.from(JSON.stringify({ ...manifest, artifactType: "application/x-sig", subject: desc(MEDIA.ociManifest, "9") })));
    assert.equal(m.subject?.digest, D("9"));
    assert.equal(m.artifactType, "application/x-sig");
  });
  it("rejects invalid manifests with MANIFEST_INVALID", () => {
    const bad = [
      "not json",
      "[]",
      JSON.stringify({ ...manifest, schemaVersion: 1 }),
      JSON.stringify({ ...manifest, layers: undefined }),
      JSON.stringify({ ...manifest, config: { ...manifest.config, digest: "sha256:xyz" } }),
      JSON.stringify({ ...manifest, config: { ...manifest.config, size: -1 } }),
      JSON.stringify({ ...manifest, mediaType: "text/plain" }),
    ];
    for (const b of bad)
      assert.equal(
        ociCode(() => parseManifest(Buffer.from(b))),
        "MANIFEST_INVALID/400",
        b,
      );
    assert.equal(
      ociCode(() => parseManifest(Buffer.from(JSON.stringify(manifest)), MEDIA.dockerManifest)),
      "MANIFEST_INVALID/400",
    );
  });
  it("reads the config creation date and Accept lists", () => {
    assert.equal(configCreated('{"created":"2024-01-02T03:04:05Z"}')?.toISOString(), "2024-01-02T03:04:05.000Z");
    assert.equal(configCreated("{}"), undefined);
    assert.equal(configCreated("garbage"), undefined);
    assert.deepEqual(acceptedTypes(["a/b, c/d;q=0.5", "e/f"]), ["a/b", "c/d", "e/f"]);
    assert.equal(acceptedTypes(undefined), "*");
  });
});

describe("OCI protocol helpers", () => {
  it("parses Content-Range and reports upload ranges", () => {
    assert.deepEqual(parseContentRange("0-99"), { start: 0, end: 99 });
    assert.deepEqual(parseContentRange("bytes 10-19/100"), { start: 10, end: 19 });
    assert.equal(parseContentRange(undefined), null);
    assert.equal(
      ociCode(() => parseContentRange("5-1")),
      "BLOB_UPLOAD_INVALID/416",
    );
    assert.equal(
      ociCode(() => parseContentRange("x")),
      "BLOB_UPLOAD_INVALID/416",
    );
    assert.equal(uploadRange(0), "0-0");
    assert.equal(uploadRange(10), "0-9");
  });
  it("paginates tags lexically with n and last", () => {
    const tags = ["b", "a", "d", "c", "a"];
    assert.deepEqual(paginate(tags, undefined, undefined), { items: ["a", "b", "c", "d"] });
    assert.deepEqual(paginate(tags, 2, undefined), { items: ["a", "b"], next: "b" });
    assert.deepEqual(paginate(tags, 2, "b"), { items: ["c", "d"] });
    assert.deepEqual(paginate(tags, 0, undefined), { items: [], next: undefined });
    assert.deepEqual(paginate(tags, 10, "d"), { items: [] });
    assert.equal(parsePageSize("5"), 5);
    assert.equal(parsePageSize(undefined), undefined);
    assert.equal(
      ociCode(() => parsePageSize("-1")),
      "NAME_INVALID/400",
    );
    assert.equal(linkHeader("/v2/r/i/tags/list", 2, "b"), '</v2/r/i/tags/list?n=2&last=b>; rel="next"');
  });
  it("builds and parses Bearer challenges and token scopes", () => {
    const h = bearerChallenge("http://h/v2/token", "pantera", "repository:r/i:pull");
    assert.deepEqual(parseChallenge(h), { scheme: "bearer", params: { realm: "http://h/v2/token", service: "pantera", scope: "repository:r/i:pull" } });
    assert.deepEqual(parseChallenge('Basic realm="x"'), { scheme: "basic", params: { realm: "x" } });
    assert.equal(parseChallenge(null), null);
    assert.deepEqual(parseScopes(["repository:r/i:pull,push", "registry:catalog:*"]), [
      { type: "repository", name: "r/i", actions: ["pull", "push"] },
      { type: "registry", name: "catalog", actions: ["*"] },
    ]);
  });
});

describe("docker pull instructions", () => {
  it("names the image and tag (or digest) at the repository port's host", async () => {
    const { dockerFormat } = await import("../../src/formats/docker/index.js");
    const repo = { name: "dh", type: "docker", format: "docker", kind: "hosted", storage: "default", remotes: [], members: [], config: {} } as const;
    const tag = dockerFormat.pullInstructions!({ ...repo, remotes: [], members: [] }, "lib/app/manifests/1.0", "http://reg.example:8080/dh");
    assert.deepEqual(tag, ["skopeo copy docker://reg.example:8080/dh/lib/app:1.0 oci:./app", "docker pull reg.example:8080/dh/lib/app:1.0"]);
    const dig = dockerFormat.pullInstructions!({ ...repo, remotes: [], members: [] }, `app/manifests/${D("a")}`, "http://h:1/dh");
    assert.equal(dig[1], `docker pull h:1/dh/app@${D("a")}`);
    assert.equal(
      dockerFormat.pullInstructions!({ ...repo, remotes: [], members: [] }, "lib/app/_manifests/tags/v2", "http://h:1/dh")[1],
      "docker pull h:1/dh/lib/app:v2",
    );
    assert.equal(
      dockerFormat.pullInstructions!({ ...repo, remotes: [], members: [] }, `app/_manifests/revisions/sha256/${"b".repeat(64)}`, "http://h:1/dh")[1],
      `docker pull h:1/dh/app@${D("b")}`,
    );
  });
  it("describes only tags as artifacts for the search reindex", async () => {
    const { dockerFormat } = await import("../../src/formats/docker/index.js");
    assert.deepEqual(dockerFormat.layout.describe("lib/app/_manifests/tags/1.0"), { name: "lib/app", version: "1.0" });
    assert.equal(dockerFormat.layout.describe(`_blobs/sha256/${"a".repeat(64)}`), null);
    assert.equal(dockerFormat.layout.describe(`app/_manifests/revisions/sha256/${"a".repeat(64)}`), null);
    assert.equal(dockerFormat.layout.describe("_uploads/x/_manifests/tags/y"), null);
  });
});
