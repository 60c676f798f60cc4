// Remote credentials go to the remote's own origin only (src/formats/kit/upstream.ts): two local
// upstreams, A (the configured remote, credentials expected) and B (another host: a CDN that
// tarball / file URLs point at, or where A redirects). B records every credential header it
// gets and must never see one; A must keep getting them, redirects within A included.
// (Node 20's fetch already drops Authorization on a cross-origin redirect; proxy.ts follows
// redirects itself so that no longer depends on the runtime. The absolute-URL cases failed before.)
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ADMIN_PASSWORD, backends, startServer, type TestServer } from "../helpers/server.js";

interface Seen {
  url: string;
  authorization?: string;
  cookie?: string;
  proxyAuthorization?: string;
}

function listen(handler: http.RequestListener): Promise<{ server: http.Server; seen: Seen[]; port: number }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    seen.push({
      url: req.url ?? "",
      authorization: req.headers.authorization,
      cookie: req.headers.cookie,
      proxyAuthorization: req.headers["proxy-authorization"] as string | undefined,
    });
    handler(req, res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, seen, port: (server.address() as AddressInfo).port })));
}

for (const backend of backends()) {
  describe(`proxy remotes: credentials only to the remote's origin [${backend}]`, () => {
    let s: TestServer;
    let a: Awaited<ReturnType<typeof listen>>;
    let b: Awaited<ReturnType<typeof listen>>;
    // A and B differ in port; B is also addressed by another host name (localhost vs 127.0.0.1).
    let originA = "";
    let originB = "";
    const basicA = "Basic " + Buffer.from("remote-user:remote-secret").toString("base64");
    const layer = "layer bytes served from B";
    const layerDigest = "sha256:" + createHash("sha256").update(layer).digest("hex");
    const otherDigest = "sha256:" + createHash("sha256").update("another layer").digest("hex");
    const bearerA = "Bearer remote-token";
    const admin = "Basic " + Buffer.from(`admin:${ADMIN_PASSWORD}`).toString("base64");

    const get = async (path: string) => {
      const res = await fetch(s.repoUrl + path, { headers: { authorization: admin } });
      return { status: res.status, text: await res.text() };
    };

    before(async () => {
      s = await startServer({ backend });
      b = await listen((req, res) => {
        // a CDN that, asked for a redirected blob, challenges for credentials with a realm of its own
        if (req.url?.startsWith("/cdn/challenge")) {
          res.writeHead(401, { "www-authenticate": `Bearer realm="${originB}/token",service="cdn"` });
          return res.end();
        }
        if (req.url?.startsWith("/token")) {
          res.writeHead(200, { "content-type": "application/json" });
          return res.end('{"token":"cdn-token"}');
        }
        res.writeHead(200, { "content-type": "application/octet-stream" });
        res.end(req.url?.startsWith("/cdn/blobs/") ? layer : `from B ${req.url}`);
      });
      originB = `http://localhost:${b.port}`;
      a = await listen((req, res) => {
        const url = req.url ?? "/";
        const redirect = (to: string) => {
          res.writeHead(302, { location: to });
          res.end();
        };
        // file-proxy: a redirect off the origin, one within it, and one that comes back to A through B's address
        if (url === "/files/away.bin") return redirect(`${originB}/cdn/away.bin`);
        if (url === "/files/here.bin") return redirect(`/files/direct.bin`);
        if (url === "/files/absolute-self.bin") return redirect(`${originA}/files/direct.bin`);
        if (url === "/files/direct.bin") return res.end("from A direct");
        // npm-proxy: a packument whose tarballs live on B (absolute URL) or on A
        if (url === "/npm/demo") {
          res.writeHead(200, { "content-type": "application/json" });
          return res.end(
            JSON.stringify({
              name: "demo",
              "dist-tags": { latest: "1.0.1" },
              versions: {
                "1.0.0": { name: "demo", version: "1.0.0", dist: { tarball: `${originB}/tarballs/demo-1.0.0.tgz` } },
                "1.0.1": { name: "demo", version: "1.0.1", dist: { tarball: `${originA}/npm/demo/-/demo-1.0.1.tgz` } },
              },
              time: { "1.0.0": "2020-01-01T00:00:00.000Z", "1.0.1": "2020-01-02T00:00:00.000Z" },
            }),
          );
        }
        if (url === "/npm/demo/-/demo-1.0.1.tgz") return res.end("tarball from A");
        // docker-proxy: a registry asking for Basic credentials that redirects blob GETs to B (a CDN)
        if (url.startsWith("/v2/")) {
          // public blobs go straight to the CDN (no challenge from the registry first)
          if (url === `/v2/lib/img/blobs/${otherDigest}`) return redirect(`${originB}/cdn/challenge/${otherDigest}`);
          if (req.headers.authorization !== basicA) {
            res.writeHead(401, { "www-authenticate": 'Basic realm="A"', "content-type": "application/json" });
            return res.end('{"errors":[{"code":"UNAUTHORIZED","message":"auth"}]}');
          }
          if (url === `/v2/lib/img/blobs/${layerDigest}`) return redirect(`${originB}/cdn/blobs/${layerDigest}?signature=x`);
        }
        if (url === `/cdn/blobs/${layerDigest}?signature=x`) return res.end(layer);
        // pypi-proxy: a PEP 691 page whose file lives on B
        if (url === "/pypi/simple/demo/") {
          res.writeHead(200, { "content-type": "application/vnd.pypi.simple.v1+json" });
          return res.end(
            JSON.stringify({
              meta: { "api-version": "1.0" },
              name: "demo",
              files: [{ filename: "demo-1.0.tar.gz", url: `${originB}/files/demo-1.0.tar.gz`, hashes: {} }],
            }),
          );
        }
        res.writeHead(404);
        res.end();
      });
      originA = `http://127.0.0.1:${a.port}`;
      const mk = async (name: string, repo: unknown) => {
        const r = await s.api("PUT", `/repositories/${name}`, { token: s.adminToken, body: { repo } });
        assert.equal(r.status, 200, r.text);
      };
      await mk("fpx", { type: "file-proxy", storage: "default", remotes: [{ url: `${originA}/files`, username: "remote-user", password: "remote-secret" }] });
      await mk("npx", { type: "npm-proxy", storage: "default", remotes: [{ url: `${originA}/npm`, token: "remote-token" }] });
      await mk("dpx", { type: "docker-proxy", storage: "default", remotes: [{ url: originA, username: "remote-user", password: "remote-secret" }] });
      await mk("ppx", { type: "pypi-proxy", storage: "default", remotes: [{ url: `${originA}/pypi`, username: "remote-user", password: "remote-secret" }] });
    });

    after(async () => {
      await s?.close();
      a?.server.close();
      b?.server.close();
    });

    beforeEach(() => {
      b.seen.length = 0;
    });

    const bSawNoCredentials = () => {
      assert.ok(b.seen.length > 0, "B was asked for something");
      for (const r of b.seen)
        assert.deepEqual([r.url, r.authorization, r.cookie, r.proxyAuthorization], [r.url, undefined, undefined, undefined], `B got credentials on ${r.url}`);
    };

    it("file-proxy: a redirect to another origin is followed without the credentials", async () => {
      const res = await get("/fpx/away.bin");
      assert.deepEqual(res, { status: 200, text: "from B /cdn/away.bin" });
      assert.deepEqual(
        a.seen.filter((r) => r.url === "/files/away.bin").map((r) => r.authorization),
        [basicA],
      );
      assert.deepEqual(
        b.seen.map((r) => r.url),
        ["/cdn/away.bin"],
      );
      bSawNoCredentials();
    });

    it("file-proxy: redirects within the remote's origin keep the credentials", async () => {
      assert.deepEqual(await get("/fpx/here.bin"), { status: 200, text: "from A direct" });
      assert.deepEqual(await get("/fpx/absolute-self.bin"), { status: 200, text: "from A direct" });
      const direct = a.seen.filter((r) => r.url === "/files/direct.bin");
      assert.equal(direct.length, 2);
      for (const r of direct) assert.equal(r.authorization, basicA);
    });

    it("npm-proxy: a tarball URL on another host gets no token; one on the remote's origin does", async () => {
      const other = await get("/npx/demo/-/demo-1.0.0.tgz");
      assert.deepEqual(other, { status: 200, text: "from B /tarballs/demo-1.0.0.tgz" });
      const own = await get("/npx/demo/-/demo-1.0.1.tgz");
      assert.deepEqual(own, { status: 200, text: "tarball from A" });
      assert.ok(
        a.seen.some((r) => r.url === "/npm/demo" && r.authorization === bearerA),
        "packument fetched with the token",
      );
      assert.deepEqual(
        a.seen.filter((r) => r.url === "/npm/demo/-/demo-1.0.1.tgz").map((r) => r.authorization),
        [bearerA],
      );
      assert.ok(b.seen.some((r) => r.url === "/tarballs/demo-1.0.0.tgz"));
      bSawNoCredentials();
    });

    it("docker-proxy: a blob redirected to another origin is fetched without the registry's credentials", async () => {
      const res = await get(`/v2/dpx/lib/img/blobs/${layerDigest}`);
      assert.deepEqual(res, { status: 200, text: layer });
      assert.ok(
        a.seen.some((r) => r.url === `/v2/lib/img/blobs/${layerDigest}` && r.authorization === basicA),
        "the registry got its credentials",
      );
      assert.deepEqual(
        b.seen.map((r) => r.url),
        [`/cdn/blobs/${layerDigest}?signature=x`],
      );
      bSawNoCredentials();
    });

    it("docker-proxy: a challenge from the host a blob was redirected to is not answered with the registry's credentials", async () => {
      const res = await get(`/v2/dpx/lib/img/blobs/${otherDigest}`);
      assert.equal(res.status, 502);
      assert.match(res.text, /answered 401/);
      assert.deepEqual(
        b.seen.map((r) => r.url),
        [`/cdn/challenge/${otherDigest}`],
        "no token request to the CDN's realm",
      );
      bSawNoCredentials();
    });

    it("pypi-proxy: a file URL on another host gets no credentials", async () => {
      const res = await get("/ppx/packages/demo/1.0/demo-1.0.tar.gz");
      assert.deepEqual(res, { status: 200, text: "from B /files/demo-1.0.tar.gz" });
      assert.ok(
        a.seen.some((r) => r.url === "/pypi/simple/demo/" && r.authorization === basicA),
        "index page fetched with the credentials",
      );
      assert.ok(b.seen.some((r) => r.url === "/files/demo-1.0.tar.gz"));
      bSawNoCredentials();
    });
  });
}
