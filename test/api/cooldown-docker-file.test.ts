// Cooldown for docker-proxy (package = image, version = tag; release date = config `created`,
// else upstream Last-Modified) and file-proxy (package = directory, version = file name; release
// date = upstream Last-Modified).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ADMIN_PASSWORD, backends, startServer, type TestServer } from "../helpers/server.js";

const sha = (b: Buffer | string) => "sha256:" + createHash("sha256").update(b).digest("hex");
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

for (const backend of backends()) {
  describe(`cooldown for docker-proxy and file-proxy [${backend}]`, () => {
    let s: TestServer;
    let upstream: http.Server;
    let upstreamUrl = "";
    const adminAuth = "Basic " + Buffer.from(`admin:${ADMIN_PASSWORD}`).toString("base64");

    async function call(method: string, path: string, opts: { body?: Buffer | string; headers?: Record<string, string> } = {}) {
      const headers: Record<string, string> = { authorization: adminAuth, ...(opts.headers ?? {}) };
      const body = typeof opts.body === "string" || opts.body === undefined ? opts.body : new Uint8Array(opts.body);
      const res = await fetch(s.repoUrl + path, { method, headers, body });
      const buf = Buffer.from(await res.arrayBuffer());
      return { status: res.status, headers: res.headers, body: buf, json: () => JSON.parse(buf.toString()) };
    }
    async function pushBlob(image: string, content: Buffer | string): Promise<string> {
      const d = sha(content);
      const r = await call("POST", `/v2/dh/${image}/blobs/uploads/?digest=${d}`, { body: content, headers: { "content-type": "application/octet-stream" } });
      assert.equal(r.status, 201, r.body.toString());
      return d;
    }
    async function pushImage(image: string, tag: string, created: string) {
      const config = Buffer.from(JSON.stringify({ created, architecture: "amd64", os: "linux", tag }));
      const cd = await pushBlob(image, config);
      const layer = `layer-${image}-${tag}`;
      const ld = await pushBlob(image, layer);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: cd, size: config.length },
          layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: ld, size: layer.length }],
        }),
      );
      const r = await call("PUT", `/v2/dh/${image}/manifests/${tag}`, { body: manifest, headers: { "content-type": OCI_MANIFEST } });
      assert.equal(r.status, 201, r.body.toString());
      return sha(manifest);
    }
    const blockedList = async () =>
      (await s.api("GET", "/cooldown/blocked?size=200", { token: s.adminToken })).body.items as {
        package_name: string;
        version: string;
        repo: string;
        repo_type: string;
        reason: string;
        blocked_until: string;
      }[];

    before(async () => {
      s = await startServer({ backend });
      // File upstream: `fresh/*` modified now, `old/*` modified in 2020.
      upstream = http.createServer((req, res) => {
        const url = req.url ?? "/";
        const lm = url.includes("/old/") ? new Date("2020-01-01T00:00:00Z") : new Date();
        const body = `content of ${url}`;
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": Buffer.byteLength(body), "last-modified": lm.toUTCString() });
        res.end(req.method === "HEAD" ? undefined : body);
      });
      await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
      upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
      const mk = async (name: string, repo: unknown) => {
        const r = await s.api("PUT", `/repositories/${name}`, { token: s.adminToken, body: { repo } });
        assert.equal(r.status, 200, r.text);
      };
      await mk("dh", { type: "docker", storage: "default" });
      await mk("dpx", {
        type: "docker-proxy",
        storage: "default",
        remotes: [{ url: s.repoUrl, username: "admin", password: ADMIN_PASSWORD }],
        metadata_ttl: 0,
      });
      await mk("fpx", { type: "file-proxy", storage: "default", remotes: [{ url: upstreamUrl }] });
      const put = await s.api("PUT", "/cooldown/config", {
        token: s.adminToken,
        body: {
          enabled: false,
          repo_types: { "docker-proxy": { enabled: true, minimum_allowed_age: "3d" }, "file-proxy": { enabled: true, minimum_allowed_age: "2d" } },
        },
      });
      assert.equal(put.status, 200, put.text);
    });
    after(async () => {
      await s.close();
      await new Promise((r) => upstream.close(r));
    });

    it("docker-proxy: a young tag answers 403 DENIED, is recorded, hidden from tags/list, and served at once after unblock", async () => {
      const young = await pushImage("app", "new", new Date().toISOString());
      await pushImage("app", "old", "2020-01-01T00:00:00Z");

      let r = await call("GET", "/v2/dpx/dh/app/manifests/new");
      assert.equal(r.status, 403, r.body.toString());
      const err = r.json().errors[0];
      assert.equal(err.code, "DENIED");
      assert.match(err.message, /Cooldown: dh\/app@new .*minimum allowed age of 3d.*'dpx' will not serve it before \d{4}-/);

      r = await call("GET", "/v2/dpx/dh/app/manifests/old");
      assert.equal(r.status, 200, "an old image is served");

      const rows = (await blockedList()).filter((b) => b.repo === "dpx");
      assert.deepEqual(
        rows.map((b) => [b.package_name, b.version, b.repo_type, b.reason]),
        [["dh/app", "new", "docker-proxy", "TOO_YOUNG"]],
      );
      assert.ok(Date.parse(rows[0].blocked_until) > Date.now() + 2 * 86_400_000);

      assert.deepEqual((await call("GET", "/v2/dpx/dh/app/tags/list")).json().tags, ["old"], "the blocked tag is not listed");
      // the proxy cached the tag; while blocked the cached copy is refused too (upstream not asked within metadata_ttl)
      assert.equal(
        (
          await s.api("PUT", "/repositories/dpx", {
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
      assert.equal((await call("GET", "/v2/dpx/dh/app/manifests/new")).status, 403);

      const un = await s.api("POST", "/repositories/dpx/cooldown/unblock", { token: s.adminToken, body: { artifact: "dh/app", version: "new" } });
      assert.equal(un.status, 204, un.text);
      r = await call("GET", "/v2/dpx/dh/app/manifests/new");
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.headers.get("docker-content-digest"), young);
      assert.deepEqual((await call("GET", "/v2/dpx/dh/app/tags/list")).json().tags.sort(), ["new", "old"]);
    });

    it("file-proxy: a young file answers 403 in the JSON error format, is recorded, and is served at once after unblock", async () => {
      let r = await s.repo("GET", "/fpx/fresh/tool-1.0.tgz", { token: s.adminToken });
      assert.equal(r.status, 403, r.text);
      assert.equal(r.body.error, "FORBIDDEN");
      assert.match(r.body.message, /Cooldown: fresh@tool-1\.0\.tgz .*minimum allowed age of 2d.*'fpx' will not serve it before \d{4}-/);

      r = await s.repo("GET", "/fpx/old/tool-0.9.tgz", { token: s.adminToken });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, "content of /old/tool-0.9.tgz");

      const rows = (await blockedList()).filter((b) => b.repo === "fpx");
      assert.deepEqual(
        rows.map((b) => [b.package_name, b.version, b.repo_type, b.reason]),
        [["fresh", "tool-1.0.tgz", "file-proxy", "TOO_YOUNG"]],
      );

      const un = await s.api("POST", "/repositories/fpx/cooldown/unblock", { token: s.adminToken, body: { artifact: "fresh", version: "tool-1.0.tgz" } });
      assert.equal(un.status, 204, un.text);
      r = await s.repo("GET", "/fpx/fresh/tool-1.0.tgz", { token: s.adminToken });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, "content of /fresh/tool-1.0.tgz");
      // top-level files: package "/"
      r = await s.repo("GET", "/fpx/top.bin", { token: s.adminToken });
      assert.equal(r.status, 403);
      assert.ok((await blockedList()).some((b) => b.repo === "fpx" && b.package_name === "/" && b.version === "top.bin"));
    });
  });
}
