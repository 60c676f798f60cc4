// HTTP-level coverage of the OCI distribution API beyond the distribution-spec conformance
// suite (which test/api/oci-conformance.test.ts mirrors case by case): the token flow and
// permission mapping, digest verification, interrupted uploads, upload sweeping, blob ranges,
// image indexes, groups, proxies (pull-through, caching, streaming), the catalog, the
// artifacts index, and anonymous access.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import { ADMIN_PASSWORD, backends, startServer, userWithPermissions, type TestServer } from "../helpers/server.js";

const sha = (b: Buffer | string) => "sha256:" + createHash("sha256").update(b).digest("hex");
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

interface Res {
  status: number;
  headers: Headers;
  body: Buffer;
  json(): any;
}

for (const backend of backends()) {
  describe(`OCI distribution API beyond the conformance suite [${backend}]`, () => {
    let s: TestServer;
    const adminAuth = "Basic " + Buffer.from(`admin:${ADMIN_PASSWORD}`).toString("base64");
    let readerAuth = "";

    async function call(
      method: string,
      path: string,
      opts: { body?: Buffer | string; headers?: Record<string, string>; auth?: string | null } = {},
    ): Promise<Res> {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      const auth = opts.auth === undefined ? adminAuth : opts.auth;
      if (auth) headers.authorization = auth;
      const url = path.startsWith("http") ? path : s.repoUrl + path;
      const body = typeof opts.body === "string" || opts.body === undefined ? opts.body : new Uint8Array(opts.body);
      const res = await fetch(url, { method, headers, body });
      const buf = Buffer.from(await res.arrayBuffer());
      return { status: res.status, headers: res.headers, body: buf, json: () => JSON.parse(buf.toString()) };
    }
    const errCode = (r: Res) => r.json().errors?.[0]?.code;

    async function pushBlob(repo: string, image: string, content: Buffer | string): Promise<string> {
      const d = sha(content);
      const r = await call("POST", `/v2/${repo}/${image}/blobs/uploads/?digest=${d}`, {
        body: content,
        headers: { "content-type": "application/octet-stream" },
      });
      assert.equal(r.status, 201, r.body.toString());
      return d;
    }
    async function pushImage(repo: string, image: string, tag: string, layers: string[], extra: Record<string, unknown> = {}) {
      const config = Buffer.from(JSON.stringify({ created: "2024-05-06T07:08:09Z", architecture: "amd64", os: "linux", tag }));
      const cd = await pushBlob(repo, image, config);
      const ls = [];
      for (const l of layers)
        ls.push({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: await pushBlob(repo, image, l), size: Buffer.byteLength(l) });
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: cd, size: config.length },
          layers: ls,
          ...extra,
        }),
      );
      const r = await call("PUT", `/v2/${repo}/${image}/manifests/${tag}`, { body: manifest, headers: { "content-type": OCI_MANIFEST } });
      assert.equal(r.status, 201, r.body.toString());
      assert.equal(r.headers.get("docker-content-digest"), sha(manifest));
      return { manifest, digest: sha(manifest), configDigest: cd };
    }

    before(async () => {
      s = await startServer({ backend });
      const mk = async (name: string, repo: unknown) => {
        const r = await s.api("PUT", `/repositories/${name}`, { token: s.adminToken, body: { repo } });
        assert.equal(r.status, 200, r.text);
      };
      await mk("dh", { type: "docker", storage: "default" });
      await mk("dh2", { type: "docker", storage: "default" });
      await mk("dg", { type: "docker-group", storage: "default", members: ["dh"] });
      await userWithPermissions(s, "reader", { dh: ["read"], dg: ["read"] }, "reader-pw");
      readerAuth = "Basic " + Buffer.from("reader:reader-pw").toString("base64");
    });
    after(() => s.close());

    describe("auth", () => {
      it("challenges anonymous callers with a Bearer realm and accepts Basic", async () => {
        const anon = await call("GET", "/v2/", { auth: null });
        assert.equal(anon.status, 401);
        assert.equal(errCode(anon), "UNAUTHORIZED");
        const ch = anon.headers.get("www-authenticate") ?? "";
        assert.match(ch, /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/v2\/token",service="pantera"$/);
        const ok = await call("GET", "/v2/");
        assert.equal(ok.status, 200);
        assert.equal(ok.headers.get("docker-distribution-api-version"), "registry/2.0");
      });
      it("issues tokens at the realm for Basic credentials and accepts them as Bearer", async () => {
        const t = await call("GET", "/v2/token?service=pantera&scope=repository:dh/app:pull,push");
        assert.equal(t.status, 200);
        const { token, access_token, expires_in } = t.json();
        assert.ok(token && token === access_token && expires_in > 0);
        assert.equal((await call("GET", "/v2/", { auth: `Bearer ${token}` })).status, 200);
        const bad = await call("GET", "/v2/token?service=pantera", { auth: "Basic " + Buffer.from("admin:wrong").toString("base64") });
        assert.equal(bad.status, 401);
        assert.equal(errCode(bad), "UNAUTHORIZED");
        assert.equal((await call("GET", "/v2/", { auth: "Bearer not-a-token" })).status, 401);
      });
      it("maps repository permissions: pull=read, push=write, delete=delete", async () => {
        await pushImage("dh", "perm", "v1", ["perm-layer"]);
        assert.equal((await call("GET", "/v2/dh/perm/manifests/v1", { auth: readerAuth })).status, 200);
        const push = await call("POST", "/v2/dh/perm/blobs/uploads/", { auth: readerAuth });
        assert.equal(push.status, 403);
        assert.equal(errCode(push), "DENIED");
        const del = await call("DELETE", "/v2/dh/perm/manifests/v1", { auth: readerAuth });
        assert.equal(del.status, 403);
        assert.equal((await call("GET", "/v2/dh2/perm/tags/list", { auth: readerAuth })).status, 403);
        const anon = await call("GET", "/v2/dh/perm/manifests/v1", { auth: null });
        assert.equal(anon.status, 401);
        assert.match(anon.headers.get("www-authenticate") ?? "", /scope="repository:dh\/perm:pull"/);
      });
    });

    describe("push", () => {
      it("monolithic upload with POST ?digest", async () => {
        const d = await pushBlob("dh", "app", "hello blob");
        assert.equal((await call("GET", `/v2/dh/app/blobs/${d.replace(":", "%3A")}`)).body.toString(), "hello blob", "percent-encoded digests work");
        assert.equal((await call("GET", "/v2/dh/app/blobs/%E0%A4%A")).status, 400);
        const head = await call("HEAD", `/v2/dh/app/blobs/${d}`);
        assert.equal(head.status, 200);
        assert.equal(head.headers.get("content-length"), "10");
        assert.equal(head.headers.get("docker-content-digest"), d);
      });
      it("monolithic upload with POST then PUT", async () => {
        const content = Buffer.from("post then put");
        const post = await call("POST", "/v2/dh/app/blobs/uploads/");
        assert.equal(post.status, 202);
        const loc = post.headers.get("location")!;
        assert.match(loc, /^\/v2\/dh\/app\/blobs\/uploads\/[a-f0-9-]{36}$/);
        const put = await call("PUT", `${loc}?digest=${sha(content)}`, { body: content, headers: { "content-type": "application/octet-stream" } });
        assert.equal(put.status, 201);
        assert.equal(put.headers.get("location"), `/v2/dh/app/blobs/${sha(content)}`);
        assert.deepEqual((await call("GET", put.headers.get("location")!)).body, content);
      });
      it("chunked upload with PATCH, status, out-of-order refusal and final PUT", async () => {
        const a = Buffer.from("chunk-one|");
        const b = Buffer.from("chunk-two");
        const post = await call("POST", "/v2/dh/app/blobs/uploads/");
        const loc = post.headers.get("location")!;
        let r = await call("PATCH", loc, { body: a, headers: { "content-type": "application/octet-stream", "content-range": `0-${a.length - 1}` } });
        assert.equal(r.status, 202);
        assert.equal(r.headers.get("range"), `0-${a.length - 1}`);
        r = await call("PATCH", loc, { body: b, headers: { "content-type": "application/octet-stream", "content-range": `0-${b.length - 1}` } });
        assert.equal(r.status, 416, "a chunk that does not continue the upload is refused");
        r = await call("GET", loc);
        assert.equal(r.status, 204);
        assert.equal(r.headers.get("range"), `0-${a.length - 1}`);
        r = await call("PATCH", loc, {
          body: b,
          headers: { "content-type": "application/octet-stream", "content-range": `${a.length}-${a.length + b.length - 1}` },
        });
        assert.equal(r.status, 202);
        const whole = Buffer.concat([a, b]);
        r = await call("PUT", `${loc}?digest=${sha(whole)}`);
        assert.equal(r.status, 201);
        assert.deepEqual((await call("GET", `/v2/dh/app/blobs/${sha(whole)}`)).body, whole);
        assert.equal(errCode(await call("GET", loc)), "BLOB_UPLOAD_UNKNOWN", "a finished session is gone");
      });
      it("verifies digests: a mismatch is DIGEST_INVALID and nothing is stored", async () => {
        const wrong = sha("something else");
        let r = await call("POST", `/v2/dh/app/blobs/uploads/?digest=${wrong}`, { body: "actual content" });
        assert.equal(r.status, 400);
        assert.equal(errCode(r), "DIGEST_INVALID");
        assert.equal((await call("HEAD", `/v2/dh/app/blobs/${wrong}`)).status, 404);
        const post = await call("POST", "/v2/dh/app/blobs/uploads/");
        r = await call("PUT", `${post.headers.get("location")}?digest=${wrong}`, { body: "other content" });
        assert.equal(errCode(r), "DIGEST_INVALID");
        r = await call("POST", "/v2/dh/app/blobs/uploads/?digest=sha256:zzz", { body: "x" });
        assert.equal(r.status, 400);
        assert.equal(errCode(r), "DIGEST_INVALID");
      });
      it("an interrupted upload leaves nothing visible", async () => {
        const content = Buffer.alloc(256 * 1024, 7);
        const d = sha(content);
        const u = new URL(`${s.repoUrl}/v2/dh/app/blobs/uploads/?digest=${d}`);
        await new Promise<void>((resolve) => {
          const req = http.request({
            host: u.hostname,
            port: u.port,
            path: u.pathname + u.search,
            method: "POST",
            headers: { authorization: adminAuth, "content-length": String(content.length) },
          });
          req.on("error", () => resolve());
          req.write(content.subarray(0, 1000), () =>
            setTimeout(() => {
              req.destroy();
              resolve();
            }, 100),
          );
        });
        await new Promise((r) => setTimeout(r, 200));
        assert.equal((await call("HEAD", `/v2/dh/app/blobs/${d}`)).status, 404);
      });
      it("cross-repository mount, and a fallback session when the blob is absent", async () => {
        const d = await pushBlob("dh", "src", "mount me");
        let r = await call("POST", `/v2/dh2/dst/blobs/uploads/?mount=${d}&from=dh/src`);
        assert.equal(r.status, 201);
        assert.equal(r.headers.get("location"), `/v2/dh2/dst/blobs/${d}`);
        assert.equal((await call("GET", `/v2/dh2/dst/blobs/${d}`)).body.toString(), "mount me");
        r = await call("POST", `/v2/dh2/dst/blobs/uploads/?mount=${sha("absent")}&from=dh/src`);
        assert.equal(r.status, 202);
        assert.ok(r.headers.get("location"));
      });
      it("sweeps abandoned upload sessions", async () => {
        const post = await call("POST", "/v2/dh2/sweep/blobs/uploads/");
        const loc = post.headers.get("location")!;
        await call("PATCH", loc, { body: "partial", headers: { "content-type": "application/octet-stream" } });
        const repo = (await s.services.repositories.find("dh2"))!;
        const { DockerStore } = await import("../../src/formats/docker/store.js");
        const store = new DockerStore(await s.services.storages.forRepository(repo));
        assert.equal(await store.sweepUploads(3600_000), 0, "a fresh session stays");
        assert.ok((await store.sweepUploads(0)) >= 1);
        assert.equal(errCode(await call("GET", loc)), "BLOB_UPLOAD_UNKNOWN");
      });
      it("mount without 'from', empty blobs, a final chunk on the closing PUT, and an image with no layers", async () => {
        const known = await pushBlob("dh2", "nofrom", "known blob");
        let r = await call("POST", `/v2/dh2/other/blobs/uploads/?mount=${known}`);
        assert.ok(r.status === 201 || r.status === 202, String(r.status));
        r = await call("POST", `/v2/dh2/other/blobs/uploads/?mount=${sha("unknown")}`);
        assert.equal(r.status, 202);
        const empty = await pushBlob("dh2", "other", Buffer.alloc(0));
        const head = await call("HEAD", `/v2/dh2/other/blobs/${empty}`);
        assert.equal(head.status, 200);
        assert.equal(head.headers.get("content-length"), "0");
        const a = Buffer.from("first part|");
        const b = Buffer.from("closing part");
        const post = await call("POST", "/v2/dh2/other/blobs/uploads/");
        const loc = post.headers.get("location")!;
        await call("PATCH", loc, { body: a, headers: { "content-type": "application/octet-stream", "content-range": `0-${a.length - 1}` } });
        r = await call("PUT", `${loc}?digest=${sha(Buffer.concat([a, b]))}`, {
          body: b,
          headers: { "content-type": "application/octet-stream", "content-range": `${a.length}-${a.length + b.length - 1}` },
        });
        assert.equal(r.status, 201);
        assert.equal((await call("GET", `/v2/dh2/other/blobs/${sha(Buffer.concat([a, b]))}`)).body.toString(), "first part|closing part");
        await pushImage("dh2", "other", "nolayers", []);
        assert.deepEqual(JSON.parse((await call("GET", "/v2/dh2/other/manifests/nolayers")).body.toString()).layers, []);
      });
      it("cancels an upload with DELETE", async () => {
        const post = await call("POST", "/v2/dh/app/blobs/uploads/");
        const loc = post.headers.get("location")!;
        assert.equal((await call("DELETE", loc)).status, 204);
        const r = await call("GET", loc);
        assert.equal(r.status, 404);
        assert.equal(errCode(r), "BLOB_UPLOAD_UNKNOWN");
      });
      it("manifests: push by tag, refuse missing blobs, invalid bodies and digest mismatches", async () => {
        const { digest } = await pushImage("dh", "app", "1.0", ["layer-a", "layer-b"]);
        const missing = JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha("nope"), size: 4 },
          layers: [],
        });
        let r = await call("PUT", "/v2/dh/app/manifests/broken", { body: missing, headers: { "content-type": OCI_MANIFEST } });
        assert.equal(r.status, 400);
        assert.equal(errCode(r), "MANIFEST_BLOB_UNKNOWN");
        r = await call("PUT", "/v2/dh/app/manifests/broken", { body: "{not json", headers: { "content-type": OCI_MANIFEST } });
        assert.equal(errCode(r), "MANIFEST_INVALID");
        r = await call("PUT", `/v2/dh/app/manifests/${sha("x")}`, {
          body: (await call("GET", `/v2/dh/app/manifests/${digest}`)).body,
          headers: { "content-type": OCI_MANIFEST },
        });
        assert.equal(errCode(r), "DIGEST_INVALID");
        r = await call("PUT", "/v2/dh/app/manifests/bad..tag!", { body: "{}", headers: { "content-type": OCI_MANIFEST } });
        assert.equal(r.status, 400);
        assert.equal(errCode(r), "TAG_INVALID");
        r = await call("GET", "/v2/dh/Bad_Name/tags/list");
        assert.equal(errCode(r), "NAME_INVALID");
      });
      it("references that cannot name a manifest: 404 for pulls and deletes, 400 for malformed digests and pushes", async () => {
        for (const method of ["GET", "HEAD", "DELETE"]) {
          const r = await call(method, "/v2/dh/app/manifests/.INVALID_MANIFEST_NAME");
          assert.equal(r.status, 404, method);
          if (method !== "HEAD") assert.equal(errCode(r), "MANIFEST_UNKNOWN");
          const bad = await call(method, "/v2/dh/app/manifests/sha256:totallywrong");
          assert.equal(bad.status, 400, method);
          if (method !== "HEAD") assert.equal(errCode(bad), "DIGEST_INVALID");
        }
      });
      it("an image whose every manifest was deleted still lists its (no) tags", async () => {
        const { digest } = await pushImage("dh2", "emptied", "v1", ["emptied-layer"]);
        await pushImage("dh2", "emptied", "v2", ["emptied-layer-2"]);
        assert.equal((await call("DELETE", "/v2/dh2/emptied/manifests/v2")).status, 202);
        assert.equal((await call("DELETE", `/v2/dh2/emptied/manifests/${digest}`)).status, 202);
        const r = await call("GET", "/v2/dh2/emptied/tags/list");
        assert.equal(r.status, 200, r.body.toString());
        assert.deepEqual(r.json(), { name: "dh2/emptied", tags: [] });
        assert.equal(errCode(await call("DELETE", "/v2/dh2/emptied/manifests/v2")), "MANIFEST_UNKNOWN", "a deleted tag is gone");
        assert.equal(errCode(await call("GET", "/v2/dh2/never-there/tags/list")), "NAME_UNKNOWN");
      });
      it("records tagged images in the artifacts index", async () => {
        await pushImage("dh", "indexed", "2.0", ["idx-layer"]);
        const rows = await s.services.db.prisma.artifact.findMany({ where: { repoName: "dh", name: "indexed" } });
        assert.equal(rows.length, 1);
        assert.equal(rows[0].version, "2.0");
        assert.equal(rows[0].owner, "admin");
        assert.ok(Number(rows[0].size) > 0);
        assert.equal(rows[0].path, "indexed/_manifests/tags/2.0");
        const pull = await s.api("GET", `/repositories/dh/artifact/pull?path=${encodeURIComponent(rows[0].path)}`, { token: s.adminToken });
        assert.equal(pull.status, 200, pull.text);
        assert.equal(pull.body.type, "docker");
        assert.ok(
          pull.body.instructions.some((i: string) => i.endsWith("/dh/indexed:2.0")),
          JSON.stringify(pull.body),
        );
      });
    });

    describe("pull", () => {
      it("manifests by tag and digest, GET and HEAD, with the stored media type", async () => {
        const { manifest, digest } = await pushImage("dh", "pull", "latest", ["p1"]);
        for (const ref of ["latest", digest]) {
          const g = await call("GET", `/v2/dh/pull/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } });
          assert.equal(g.status, 200);
          assert.deepEqual(g.body, manifest);
          assert.equal(g.headers.get("content-type"), OCI_MANIFEST);
          assert.equal(g.headers.get("docker-content-digest"), digest);
          const h = await call("HEAD", `/v2/dh/pull/manifests/${ref}`);
          assert.equal(h.status, 200);
          assert.equal(h.headers.get("content-length"), String(manifest.length));
        }
        const miss = await call("GET", "/v2/dh/pull/manifests/nope");
        assert.equal(miss.status, 404);
        assert.equal(errCode(miss), "MANIFEST_UNKNOWN");
        assert.equal(errCode(await call("GET", `/v2/dh/pull/blobs/${sha("nope")}`)), "BLOB_UNKNOWN");
        assert.equal(errCode(await call("GET", "/v2/nosuchrepo/pull/manifests/latest")), "NAME_UNKNOWN");
      });
      it("blob range requests", async () => {
        const d = await pushBlob("dh", "pull", "0123456789");
        const r = await call("GET", `/v2/dh/pull/blobs/${d}`, { headers: { range: "bytes=2-5" } });
        assert.equal(r.status, 206);
        assert.equal(r.body.toString(), "2345");
        assert.equal(r.headers.get("content-range"), "bytes 2-5/10");
      });
      it("image indexes by tag and digest", async () => {
        const a = await pushImage("dh", "multi", "amd64", ["amd64-layer"]);
        const b = await pushImage("dh", "multi", "arm64", ["arm64-layer"]);
        const index = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI_INDEX,
            manifests: [
              { mediaType: OCI_MANIFEST, digest: a.digest, size: a.manifest.length, platform: { os: "linux", architecture: "amd64" } },
              { mediaType: OCI_MANIFEST, digest: b.digest, size: b.manifest.length, platform: { os: "linux", architecture: "arm64" } },
            ],
          }),
        );
        let r = await call("PUT", "/v2/dh/multi/manifests/1.0", { body: index, headers: { "content-type": OCI_INDEX } });
        assert.equal(r.status, 201);
        r = await call("GET", "/v2/dh/multi/manifests/1.0");
        assert.equal(r.headers.get("content-type"), OCI_INDEX);
        assert.deepEqual(r.body, index);
        const bad = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha("none"), size: 1 }] });
        r = await call("PUT", "/v2/dh/multi/manifests/bad", { body: bad, headers: { "content-type": OCI_INDEX } });
        assert.equal(errCode(r), "MANIFEST_BLOB_UNKNOWN");
      });
      it("pulls through a group from its hosted member, and pushes through the group land there", async () => {
        const { digest } = await pushImage("dh", "grp", "v1", ["g1"]);
        const r = await call("GET", "/v2/dg/grp/manifests/v1", { auth: readerAuth });
        assert.equal(r.status, 200);
        assert.equal(r.headers.get("docker-content-digest"), digest);
        const via = await pushImage("dg", "viagroup", "v1", ["via-layer"]);
        assert.equal((await call("GET", `/v2/dh/viagroup/manifests/${via.digest}`)).status, 200);
        assert.deepEqual((await call("GET", "/v2/dg/viagroup/tags/list")).json(), { name: "dg/viagroup", tags: ["v1"] });
      });
    });

    // Cases found only in later drafts of the conformance suite's push workflow (stored copies of
    // distribution-spec work in progress, not its released 02_push_test.go): same descriptions.
    describe("conformance suite drafts", () => {
      const emptyJson = Buffer.from("{}");
      const refBlob = Buffer.from("NHL Peanut Butter on my NHL bagel");
      const typeA = "application/vnd.nhl.peanut.butter.bagel";
      const typeIndex = "application/vnd.food.stand";
      const put = (ref: string, body: Buffer, type = OCI_MANIFEST) =>
        call("PUT", `/v2/dh2/drafts/manifests/${ref}`, { body, headers: { "content-type": type } });
      let layerDesc: { mediaType: string; digest: string; size: number };
      let image: { manifest: Buffer; digest: string };
      before(async () => {
        await pushBlob("dh2", "drafts", emptyJson);
        await pushBlob("dh2", "drafts", refBlob);
        layerDesc = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: await pushBlob("dh2", "drafts", "draft layer"), size: 11 };
        image = await pushImage("dh2", "drafts", "tagtest0", ["draft image layer"]);
      });
      it("PATCH request with second chunk should return 202 (and a Range covering both chunks)", async () => {
        const blob = Buffer.from("0123456789abcdefghijklmnopqrstuvwxyzABCDEF");
        const loc = (await call("POST", "/v2/dh2/drafts/blobs/uploads/", { headers: { "content-length": "0" } })).headers.get("location")!;
        let r = await call("PATCH", loc, { body: blob.subarray(0, 22), headers: { "content-type": "application/octet-stream", "content-range": "0-21" } });
        assert.equal(r.headers.get("range"), "0-21");
        r = await call("PATCH", r.headers.get("location")!, {
          body: blob.subarray(22),
          headers: { "content-type": "application/octet-stream", "content-range": `22-${blob.length - 1}` },
        });
        assert.equal(r.status, 202);
        assert.equal(r.headers.get("range"), `0-${blob.length - 1}`);
        assert.ok(r.headers.get("location"));
        assert.equal((await call("PUT", `${r.headers.get("location")}?digest=${sha(blob)}`)).status, 201);
      });
      it("Registry should accept a manifest upload with custom config/mediaType (as artifact type) [OCI-Image v1.1]", async () => {
        const m = Buffer.from(
          JSON.stringify(
            { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: typeA, digest: sha(refBlob), size: refBlob.length }, layers: [layerDesc] },
            null,
            "\t",
          ),
        );
        const r = await put(sha(m), m);
        assert.equal(r.status, 201, r.body.toString());
        assert.equal(r.headers.get("docker-content-digest"), sha(m));
      });
      it("Registry should accept a manifest upload with custom artifactType [OCI-Image v1.1]", async () => {
        const m = Buffer.from(
          JSON.stringify(
            {
              schemaVersion: 2,
              mediaType: OCI_MANIFEST,
              artifactType: typeA,
              config: { mediaType: "application/vnd.oci.empty.v1+json", digest: sha(emptyJson), size: 2 },
              layers: [layerDesc],
            },
            null,
            "\t",
          ),
        );
        assert.equal((await put(sha(m), m)).status, 201);
      });
      let index: Buffer;
      it("Registry should accept a manifest upload with image index", async () => {
        index = Buffer.from(
          JSON.stringify(
            {
              schemaVersion: 2,
              mediaType: OCI_INDEX,
              artifactType: typeIndex,
              manifests: [{ mediaType: OCI_MANIFEST, size: image.manifest.length, digest: image.digest }],
              annotations: { "org.opencontainers.conformance.test": "test index" },
            },
            null,
            "\t",
          ),
        );
        const r = await put(sha(index), index, OCI_INDEX);
        assert.equal(r.status, 201, r.body.toString());
      });
      it("Registry should accept a manifest upload with nested image index [OCI-Image v1.1]", async () => {
        const nested = Buffer.from(
          JSON.stringify(
            { schemaVersion: 2, mediaType: OCI_INDEX, artifactType: typeIndex, manifests: [{ mediaType: OCI_INDEX, size: index.length, digest: sha(index) }] },
            null,
            "\t",
          ),
        );
        const r = await put(sha(nested), nested, OCI_INDEX);
        assert.equal(r.status, 201, r.body.toString());
        assert.equal((await call("GET", `/v2/dh2/drafts/manifests/${sha(nested)}`)).headers.get("content-type"), OCI_INDEX);
      });
      it("Dangling subject [OCI-Image v1.1]", async () => {
        const never = sha("a manifest that is never pushed");
        const m = Buffer.from(
          JSON.stringify(
            {
              schemaVersion: 2,
              mediaType: OCI_MANIFEST,
              artifactType: typeA,
              config: { mediaType: "application/vnd.oci.empty.v1+json", digest: sha(emptyJson), size: 2 },
              layers: [{ mediaType: typeA, digest: sha(refBlob), size: refBlob.length }],
              subject: { mediaType: OCI_MANIFEST, digest: never, size: 123 },
            },
            null,
            "\t",
          ),
        );
        const r = await put(sha(m), m);
        assert.equal(r.status, 201, r.body.toString());
        // The draft matches /^[a-f0-9]+:[a-f0-9]+$/, which no "sha256:" digest can satisfy (a draft bug).
        assert.match(r.headers.get("oci-subject") ?? "", /^[a-z0-9]+:[a-f0-9]+$/);
        assert.equal(r.headers.get("oci-subject"), never);
        assert.deepEqual(
          (await call("GET", `/v2/dh2/drafts/referrers/${never}`)).json().manifests.map((d: any) => d.digest),
          [sha(m)],
        );
      });
    });

    describe("content discovery", () => {
      it("lists tags with n/last pagination and a Link header", async () => {
        for (const t of ["c", "a", "b", "d"]) await pushImage("dh", "tagged", t, ["tag-layer"]);
        let r = await call("GET", "/v2/dh/tagged/tags/list");
        assert.deepEqual(r.json(), { name: "dh/tagged", tags: ["a", "b", "c", "d"] });
        r = await call("GET", "/v2/dh/tagged/tags/list?n=2");
        assert.deepEqual(r.json().tags, ["a", "b"]);
        assert.equal(r.headers.get("link"), '</v2/dh/tagged/tags/list?n=2&last=b>; rel="next"');
        r = await call("GET", "/v2/dh/tagged/tags/list?n=2&last=b");
        assert.deepEqual(r.json().tags, ["c", "d"]);
        assert.equal(r.headers.get("link"), null);
        r = await call("GET", "/v2/dh/tagged/tags/list?n=0");
        assert.deepEqual(r.json().tags, []);
        assert.equal(errCode(await call("GET", "/v2/dh/never-pushed/tags/list")), "NAME_UNKNOWN");
      });
      it("lists referrers of a subject, with artifactType filtering", async () => {
        const subject = await pushImage("dh", "signed", "v1", ["signed-layer"]);
        const subj = { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length };
        const emptyCfg = Buffer.from("{}");
        const cd = await pushBlob("dh", "signed", emptyCfg);
        const refManifest = (artifactType: string) =>
          Buffer.from(
            JSON.stringify({
              schemaVersion: 2,
              mediaType: OCI_MANIFEST,
              artifactType,
              config: { mediaType: "application/vnd.oci.empty.v1+json", digest: cd, size: 2 },
              layers: [],
              subject: subj,
            }),
          );
        const sig = refManifest("application/vnd.example.signature");
        const sbom = refManifest("application/vnd.example.sbom");
        let r = await call("PUT", `/v2/dh/signed/manifests/${sha(sig)}`, { body: sig, headers: { "content-type": OCI_MANIFEST } });
        assert.equal(r.status, 201);
        assert.equal(r.headers.get("oci-subject"), subject.digest);
        await call("PUT", `/v2/dh/signed/manifests/${sha(sbom)}`, { body: sbom, headers: { "content-type": OCI_MANIFEST } });
        r = await call("GET", `/v2/dh/signed/referrers/${subject.digest}`);
        assert.equal(r.status, 200);
        assert.equal(r.headers.get("content-type"), OCI_INDEX);
        const idx = r.json();
        assert.equal(idx.mediaType, OCI_INDEX);
        assert.deepEqual(idx.manifests.map((m: any) => m.digest).sort(), [sha(sig), sha(sbom)].sort());
        assert.ok(idx.manifests.every((m: any) => m.size > 0 && m.mediaType === OCI_MANIFEST));
        r = await call("GET", `/v2/dh/signed/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`);
        assert.equal(r.headers.get("oci-filters-applied"), "artifactType");
        assert.deepEqual(
          r.json().manifests.map((m: any) => m.digest),
          [sha(sbom)],
        );
        r = await call("GET", `/v2/dh/signed/referrers/${sha("no referrers")}`);
        assert.deepEqual(r.json().manifests, []);
        assert.equal((await call("GET", "/v2/dh/signed/referrers/not-a-digest")).status, 400);
      });
      it("lists the catalog of readable images with pagination", async () => {
        await pushImage("dh2", "cat/one", "v1", ["c1"]);
        let r = await call("GET", "/v2/_catalog");
        assert.equal(r.status, 200);
        const all: string[] = r.json().repositories;
        assert.ok(all.includes("dh/app") && all.includes("dh2/cat/one"), JSON.stringify(all));
        assert.deepEqual(all, [...all].sort());
        r = await call("GET", "/v2/_catalog?n=1");
        assert.equal(r.json().repositories.length, 1);
        assert.match(r.headers.get("link") ?? "", /rel="next"/);
        r = await call("GET", "/v2/_catalog", { auth: readerAuth });
        assert.ok(
          r.json().repositories.every((n: string) => n.startsWith("dh/")),
          "only readable repositories are listed",
        );
      });
    });

    describe("proxy", () => {
      it("pulls through an upstream that demands Bearer tokens (another Pantera repository) and caches by digest", async () => {
        const { manifest, digest } = await pushImage("dh", "upstreamed", "v1", ["proxied-layer"]);
        const mk = (name: string, remote: Record<string, string>) =>
          s.api("PUT", `/repositories/${name}`, {
            token: s.adminToken,
            body: { repo: { type: "docker-proxy", storage: "default", remotes: [remote], metadata_ttl: 0 } },
          });
        assert.equal((await mk("dp", { url: s.repoUrl, username: "admin", password: ADMIN_PASSWORD })).status, 200);
        let r = await call("GET", "/v2/dp/dh/upstreamed/manifests/v1");
        assert.equal(r.status, 200, r.body.toString());
        assert.deepEqual(r.body, manifest);
        assert.equal(r.headers.get("docker-content-digest"), digest);
        const layer = JSON.parse(manifest.toString()).layers[0].digest;
        r = await call("GET", `/v2/dp/dh/upstreamed/blobs/${layer}`);
        assert.equal(r.body.toString(), "proxied-layer");
        assert.deepEqual((await call("GET", "/v2/dp/dh/upstreamed/tags/list")).json().tags, ["v1"]);
        const rows = await s.services.db.prisma.artifact.findMany({ where: { repoName: "dp" } });
        assert.deepEqual(
          rows.map((x) => [x.name, x.version, x.releasedAt?.toISOString()]),
          [["dh/upstreamed", "v1", "2024-05-06T07:08:09.000Z"]],
        );
        // Remove it upstream: the proxy still has it by digest.
        assert.equal((await call("DELETE", `/v2/dh/upstreamed/manifests/${digest}`)).status, 202);
        assert.equal((await call("DELETE", `/v2/dh/upstreamed/blobs/${layer}`)).status, 202);
        assert.equal((await call("GET", `/v2/dp/dh/upstreamed/manifests/${digest}`)).status, 200);
        assert.equal((await call("GET", `/v2/dp/dh/upstreamed/blobs/${layer}`)).body.toString(), "proxied-layer");
        assert.equal(errCode(await call("GET", "/v2/dp/dh/upstreamed/manifests/v1")), "MANIFEST_UNKNOWN", "a tag gone upstream is gone");
        // Tags are re-checked upstream only after metadata_ttl.
        await pushImage("dh", "ttl", "v1", ["ttl-layer-1"]);
        assert.equal(
          (
            await s.api("PUT", "/repositories/dp-ttl", {
              token: s.adminToken,
              body: {
                repo: {
                  type: "docker-proxy",
                  storage: "default",
                  remotes: [{ url: s.repoUrl, username: "admin", password: ADMIN_PASSWORD }],
                  metadata_ttl: 3600,
                },
              },
            })
          ).status,
          200,
        );
        const first = (await call("GET", "/v2/dp-ttl/dh/ttl/manifests/v1")).headers.get("docker-content-digest");
        const second = await pushImage("dh", "ttl", "v1", ["ttl-layer-2"]);
        assert.notEqual(first, second.digest);
        assert.equal(
          (await call("GET", "/v2/dp-ttl/dh/ttl/manifests/v1")).headers.get("docker-content-digest"),
          first,
          "within metadata_ttl the cached tag is served",
        );
        assert.equal(
          (await call("GET", "/v2/dp/dh/ttl/manifests/v1")).headers.get("docker-content-digest"),
          second.digest,
          "with metadata_ttl 0 the upstream is asked",
        );
        // Without credentials the upstream refuses: a 502 that says so, not a misleading "unknown".
        assert.equal((await mk("dp-anon", { url: s.repoUrl })).status, 200);
        const refused = await call("GET", "/v2/dp-anon/dh/perm/manifests/v1");
        assert.equal(refused.status, 502);
        assert.equal(errCode(refused), "UNAVAILABLE");
        assert.match(refused.json().errors[0].message, /answered 401/);
        const push = await call("POST", "/v2/dp/x/blobs/uploads/");
        assert.equal(push.status, 405);
        assert.equal(errCode(push), "UNSUPPORTED");
      });
    });

    describe("proxy failures", () => {
      // A port with nothing listening (unreachable) and a server that accepts but never answers (too slow).
      let silent: http.Server;
      let silentUrl = "";
      let closedUrl = "";
      before(async () => {
        silent = http.createServer(() => {});
        await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
        silentUrl = `http://127.0.0.1:${(silent.address() as import("node:net").AddressInfo).port}`;
        const probe = http.createServer();
        await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
        closedUrl = `http://127.0.0.1:${(probe.address() as import("node:net").AddressInfo).port}`;
        await new Promise((r) => probe.close(r));
        const mk = async (name: string, repo: unknown) =>
          assert.equal((await s.api("PUT", `/repositories/${name}`, { token: s.adminToken, body: { repo } })).status, 200);
        await mk("dp-down", { type: "docker-proxy", storage: "default", remotes: [{ url: closedUrl }] });
        await mk("dp-slow", { type: "docker-proxy", storage: "default", remotes: [{ url: silentUrl, timeout: 300 }] });
        await mk("dg-down", { type: "docker-group", storage: "default", members: ["dp-down", "dh"] });
      });
      after(() => {
        silent.closeAllConnections();
        silent.close();
      });

      it("an unreachable upstream with nothing cached is a 502, a silent one a 504 (remote timeout), in the OCI error format", async () => {
        const digest = "sha256:" + "a".repeat(64);
        for (const path of ["/v2/dp-down/lib/x/manifests/v1", `/v2/dp-down/lib/x/blobs/${digest}`]) {
          const r = await call("GET", path);
          assert.equal(r.status, 502, path);
          assert.equal(errCode(r), "UNAVAILABLE");
          assert.match(r.json().errors[0].message, /unreachable/);
        }
        assert.equal((await call("HEAD", `/v2/dp-down/lib/x/blobs/${digest}`)).status, 502);
        const started = Date.now();
        const slow = await call("GET", "/v2/dp-slow/lib/x/manifests/v1");
        assert.equal(slow.status, 504);
        assert.equal(errCode(slow), "UNAVAILABLE");
        assert.ok(Date.now() - started < 5000, "the remote's timeout applies");
      });

      it("a group serves from a later member when an earlier proxy's upstream is down, and says 502 when no member has it", async () => {
        const { digest } = await pushImage("dh", "grouped", "v1", ["grouped-layer"]);
        const r = await call("GET", "/v2/dg-down/grouped/manifests/v1");
        assert.equal(r.status, 200);
        assert.equal(r.headers.get("docker-content-digest"), digest);
        const missing = await call("GET", "/v2/dg-down/not-anywhere/manifests/v1");
        assert.equal(missing.status, 502);
        assert.equal(errCode(missing), "UNAVAILABLE");
      });
    });

    describe("proxy streaming", () => {
      it("streams a missing blob to concurrent callers while caching it once; a caller hanging up does not stop the cache fill", async () => {
        const big = Buffer.alloc(3 * 1024 * 1024);
        for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
        const d = await pushBlob("dh", "big", big);
        const got = await Promise.all([1, 2, 3].map(() => call("GET", `/v2/dp/dh/big/blobs/${d}`)));
        for (const g of got) {
          assert.equal(g.status, 200);
          assert.equal(g.headers.get("content-length"), String(big.length));
          assert.ok(g.body.equals(big));
        }
        const other = Buffer.concat([big, Buffer.from("other")]);
        const d2 = await pushBlob("dh", "big", other);
        const ac = new AbortController();
        const res = await fetch(`${s.repoUrl}/v2/dp/dh/big/blobs/${d2}`, { headers: { authorization: adminAuth }, signal: ac.signal });
        const reader = res.body!.getReader();
        await reader.read();
        ac.abort();
        await reader.cancel().catch(() => {});
        // Remove both upstream; the proxy must still have them.
        for (const x of [d, d2]) assert.equal((await call("DELETE", `/v2/dh/big/blobs/${x}`)).status, 202);
        let cached: Res | undefined;
        for (let i = 0; i < 50; i++) {
          cached = await call("GET", `/v2/dp/dh/big/blobs/${d2}`);
          if (cached.status === 200) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(cached!.status, 200);
        assert.ok(cached!.body.equals(other));
        assert.ok((await call("GET", `/v2/dp/dh/big/blobs/${d}`)).body.equals(big));
      });
    });

    describe("content management", () => {
      it("deletes tags, manifests and blobs", async () => {
        const { digest, configDigest } = await pushImage("dh", "gone", "v1", ["gone-layer"]);
        await pushImage("dh", "gone", "v2", ["gone-layer-2"]);
        let r = await call("DELETE", "/v2/dh/gone/manifests/v2");
        assert.equal(r.status, 202);
        assert.deepEqual((await call("GET", "/v2/dh/gone/tags/list")).json().tags, ["v1"]);
        r = await call("DELETE", `/v2/dh/gone/manifests/${digest}`);
        assert.equal(r.status, 202);
        assert.equal(errCode(await call("GET", `/v2/dh/gone/manifests/${digest}`)), "MANIFEST_UNKNOWN");
        assert.equal(errCode(await call("GET", "/v2/dh/gone/manifests/v1")), "MANIFEST_UNKNOWN", "tags of a deleted manifest go too");
        const indexed = await s.services.db.prisma.artifact.findMany({ where: { repoName: "dh", name: "gone" } });
        assert.deepEqual(indexed, [], "the artifacts index forgets deleted tags");
        assert.equal(errCode(await call("DELETE", `/v2/dh/gone/manifests/${digest}`)), "MANIFEST_UNKNOWN");
        r = await call("DELETE", `/v2/dh/gone/blobs/${configDigest}`);
        assert.equal(r.status, 202);
        assert.equal((await call("GET", `/v2/dh/gone/blobs/${configDigest}`)).status, 404);
        assert.equal(errCode(await call("DELETE", `/v2/dh/gone/blobs/${configDigest}`)), "BLOB_UNKNOWN");
      });
    });

    describe("anonymous access (runs last: it creates the 'anonymous' user)", () => {
      it("anonymous pulls work where the anonymous user's role allows them, through the token flow too", async () => {
        await pushImage("dh", "public", "v1", ["public-layer"]);
        await userWithPermissions(s, "anonymous", { dh: ["read"] }, "anon-pw");
        assert.equal((await call("GET", "/v2/dh/public/manifests/v1", { auth: null })).status, 200);
        const t = await call("GET", "/v2/token?service=pantera&scope=repository:dh/public:pull", { auth: null });
        assert.equal(t.status, 200);
        assert.equal((await call("GET", "/v2/dh/public/manifests/v1", { auth: `Bearer ${t.json().token}` })).status, 200);
        const push = await call("POST", "/v2/dh/public/blobs/uploads/", { auth: `Bearer ${t.json().token}` });
        assert.equal(push.status, 401);
        assert.match(push.headers.get("www-authenticate") ?? "", /scope="repository:dh\/public:pull,push"/);
        assert.equal((await call("GET", "/v2/dh2/cat/one/tags/list", { auth: null })).status, 401);
      });
    });
  });
}
