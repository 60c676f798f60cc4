// A pypi-proxy over a PEP 503 HTML index started here (relative file URLs, sha256 fragments):
// the page is parsed and relinked below the proxy, files are cached and served as stored files
// (HEAD, Range, ETag/304), a file whose bytes do not hash to the page's sha256 is refused (502)
// and never cached, the page is re-fetched once the metadata TTL has passed, and the proxy is
// read-only (405).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import { ADMIN_PASSWORD, listenLocal, startServer, type TestServer } from "../helpers/server.js";

const GOOD = Buffer.from("wheel bytes of demo 1.0");
const BAD = Buffer.from("not the bytes the page promises");
const NEWER = Buffer.from("wheel bytes of demo 1.1");
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("pypi-proxy over a PEP 503 HTML index", () => {
  let s: TestServer;
  let upstream: Awaited<ReturnType<typeof listenLocal>>;
  let pageFetches = 0;
  let withNewer = false;
  const auth = { authorization: "Basic " + Buffer.from(`admin:${ADMIN_PASSWORD}`).toString("base64") };

  before(async () => {
    const server = http.createServer((req, res) => {
      if (req.url === "/simple/demo/") {
        pageFetches++;
        const links = [
          `<a href="../../files/demo-1.0-py3-none-any.whl#sha256=${sha256(GOOD)}" data-requires-python="&gt;=3.8">demo-1.0-py3-none-any.whl</a>`,
          `<a href="../../files/demo-1.0.tar.gz#sha256=${sha256(GOOD)}">demo-1.0.tar.gz</a>`,
          ...(withNewer ? [`<a href="../../files/demo-1.1-py3-none-any.whl#sha256=${sha256(NEWER)}">demo-1.1-py3-none-any.whl</a>`] : []),
        ];
        res.writeHead(200, { "content-type": "text/html" });
        res.end(`<!DOCTYPE html><html><body>${links.join("<br/>")}</body></html>`);
        return;
      }
      const files: Record<string, Buffer> = {
        "/files/demo-1.0-py3-none-any.whl": GOOD,
        "/files/demo-1.0.tar.gz": BAD,
        "/files/demo-1.1-py3-none-any.whl": NEWER,
      };
      const body = files[req.url ?? ""];
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length });
      res.end(body);
    });
    upstream = await listenLocal(server);
    s = await startServer();
    const put = await s.api("PUT", "/repositories/ppx", {
      token: s.adminToken,
      body: { repo: { type: "pypi-proxy", storage: "default", metadata_ttl: 1, remotes: [{ url: `${upstream.url}/simple/` }] } },
    });
    assert.ok(put.status < 300, put.text);
  });

  after(async () => {
    await s?.close();
    await upstream?.close();
  });

  it("relinks the upstream page's files below the proxy, in JSON and HTML", async () => {
    const json = await fetch(`${s.repoUrl}/ppx/simple/demo/`, { headers: { ...auth, accept: "application/vnd.pypi.simple.v1+json" } });
    assert.equal(json.status, 200);
    assert.equal(json.headers.get("vary"), "Accept");
    const doc = (await json.json()) as { files: { filename: string; url: string; hashes: Record<string, string>; "requires-python"?: string }[] };
    assert.deepEqual(
      doc.files.map((f) => [f.filename, f.url, f.hashes.sha256]),
      [
        ["demo-1.0-py3-none-any.whl", `${s.repoUrl}/ppx/packages/demo/1.0/demo-1.0-py3-none-any.whl`, sha256(GOOD)],
        ["demo-1.0.tar.gz", `${s.repoUrl}/ppx/packages/demo/1.0/demo-1.0.tar.gz`, sha256(GOOD)],
      ],
    );
    assert.equal(doc.files[0]["requires-python"], ">=3.8");
    const html = await (await fetch(`${s.repoUrl}/ppx/simple/demo/`, { headers: { ...auth, accept: "text/html" } })).text();
    assert.match(html, /href="[^"]+\/ppx\/packages\/demo\/1\.0\/demo-1\.0-py3-none-any\.whl#sha256=[0-9a-f]{64}" data-requires-python="&gt;=3\.8"/);
  });

  it("serves a cached file with HEAD, Range and conditional GETs", async () => {
    const url = `${s.repoUrl}/ppx/packages/demo/1.0/demo-1.0-py3-none-any.whl`;
    const first = await fetch(url, { headers: auth });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("content-type"), "application/octet-stream");
    assert.deepEqual(Buffer.from(await first.arrayBuffer()), GOOD);
    const head = await fetch(url, { method: "HEAD", headers: auth });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(GOOD.length));
    const range = await fetch(url, { headers: { ...auth, range: "bytes=0-4" } });
    assert.equal(range.status, 206);
    assert.equal(await range.text(), GOOD.subarray(0, 5).toString());
    const tag = (await fetch(url, { headers: auth })).headers.get("etag");
    assert.equal(tag, `"${sha256(GOOD)}"`);
    assert.equal((await fetch(url, { headers: { ...auth, "if-none-match": tag! } })).status, 304);
    const indexed = await s.services.db.prisma.artifact.findFirst({ where: { repoName: "ppx", path: "packages/demo/1.0/demo-1.0-py3-none-any.whl" } });
    assert.equal(indexed?.name, "demo");
    assert.equal(indexed?.version, "1.0");
  });

  it("refuses a file that does not match the page's sha256 and caches nothing", async () => {
    const res = await fetch(`${s.repoUrl}/ppx/packages/demo/1.0/demo-1.0.tar.gz`, { headers: auth });
    assert.equal(res.status, 502);
    const body = (await res.json()) as { error: string; message: string };
    assert.equal(body.error, "BAD_GATEWAY");
    const storage = await s.services.storages.forRepository((await s.services.repositories.find("ppx"))!);
    assert.equal(await storage.exists("packages/demo/1.0/demo-1.0.tar.gz"), false);
    assert.equal(await s.services.db.prisma.artifact.count({ where: { repoName: "ppx", path: "packages/demo/1.0/demo-1.0.tar.gz" } }), 0);
  });

  it("re-fetches the page once the metadata TTL has passed, and files it newly lists", async () => {
    const before = pageFetches;
    withNewer = true;
    await new Promise((r) => setTimeout(r, 1_100));
    const doc = (await (await fetch(`${s.repoUrl}/ppx/simple/demo/`, { headers: { ...auth, accept: "application/vnd.pypi.simple.v1+json" } })).json()) as {
      versions: string[];
    };
    assert.ok(pageFetches > before, "page fetched again");
    assert.deepEqual(doc.versions, ["1.0", "1.1"]);
    const file = await fetch(`${s.repoUrl}/ppx/packages/demo/1.1/demo-1.1-py3-none-any.whl`, { headers: auth });
    assert.equal(file.status, 200);
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), NEWER);
    assert.equal((await fetch(`${s.repoUrl}/ppx/packages/demo/9.9/demo-9.9-py3-none-any.whl`, { headers: auth })).status, 404);
  });

  it("is read-only and lists the projects it has fetched", async () => {
    const up = await fetch(`${s.repoUrl}/ppx/`, { method: "POST", headers: { ...auth, "content-type": "multipart/form-data; boundary=x" }, body: "--x--" });
    assert.equal(up.status, 405);
    const index = (await (await fetch(`${s.repoUrl}/ppx/simple/`, { headers: { ...auth, accept: "application/vnd.pypi.simple.v1+json" } })).json()) as {
      projects: { name: string }[];
    };
    assert.deepEqual(index.projects, [{ name: "demo" }]);
  });
});
