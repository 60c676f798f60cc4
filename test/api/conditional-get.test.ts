// Conditional GETs on the repository port, for every format the kit serves files of: an ETag from
// the stored content's SHA-256, 304 on If-None-Match / If-Modified-Since, a new tag once the file
// changes; `curl -z` and `wget -N` do not download an unchanged file again.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { ADMIN_PASSWORD, listenLocal, startServer, type TestServer } from "../helpers/server.js";

const exec = promisify(execFile);
const sha256 = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

describe("conditional GETs (ETag, If-None-Match, If-Modified-Since)", () => {
  let s: TestServer;
  let tmp: string;
  let upstream: { url: string; close(): Promise<void> };
  let upstreamHits = 0;
  const basic: [string, string] = ["admin", ADMIN_PASSWORD];
  const big = Buffer.alloc(3 * 1024 * 1024, 7); // streamed, not held in memory by the driver

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "pantera-cond-"));
    const server = http.createServer((req, res) => {
      upstreamHits++;
      if (req.url === "/up.txt") res.writeHead(200, { "content-length": "8", "last-modified": new Date(1_600_000_000_000).toUTCString() }).end("upstream");
      else res.writeHead(404).end();
    });
    upstream = await listenLocal(server);
    s = await startServer();
    for (const [name, repo] of [
      ["cond-files", { type: "file", storage: "default" }],
      ["cond-proxy", { type: "file-proxy", storage: "default", remotes: [{ url: upstream.url }] }],
      ["cond-group", { type: "file-group", storage: "default", members: ["cond-files", "cond-proxy"] }],
    ] as const) {
      const res = await s.api("PUT", `/repositories/${name}`, { token: s.adminToken, body: { repo } });
      assert.ok(res.status === 200 || res.status === 201, res.text);
    }
    assert.equal((await s.repo("PUT", "/cond-files/docs/a.txt", { basic, raw: "hello" })).status, 201);
    const put = await fetch(`${s.repoUrl}/cond-files/big.bin`, {
      method: "PUT",
      body: big,
      headers: { authorization: "Basic " + Buffer.from(basic.join(":")).toString("base64") },
    });
    assert.equal(put.status, 201);
  });
  after(async () => {
    await s?.close();
    await upstream?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("a hosted file carries the SHA-256 of its content as ETag, and If-None-Match answers 304 without a body", async () => {
    const first = await s.repo("GET", "/cond-files/docs/a.txt", { basic });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("etag"), `"${sha256("hello")}"`);
    assert.ok(first.headers.get("last-modified"));
    const again = await s.repo("GET", "/cond-files/docs/a.txt", { basic, headers: { "if-none-match": first.headers.get("etag")! } });
    assert.equal(again.status, 304);
    assert.equal(again.text, "");
    assert.equal(again.headers.get("etag"), first.headers.get("etag"));
    const head = await s.repo("HEAD", "/cond-files/docs/a.txt", { basic, headers: { "if-none-match": `W/${first.headers.get("etag")}, "other"` } });
    assert.equal(head.status, 304);
    const other = await s.repo("GET", "/cond-files/docs/a.txt", { basic, headers: { "if-none-match": '"something-else"' } });
    assert.equal(other.status, 200);
    assert.equal(other.text, "hello");
  });

  it("If-Modified-Since answers 304 for an unchanged file and 200 once it changed; the ETag changes with the content", async () => {
    const first = await s.repo("GET", "/cond-files/docs/a.txt", { basic });
    const lastModified = first.headers.get("last-modified")!;
    assert.equal((await s.repo("GET", "/cond-files/docs/a.txt", { basic, headers: { "if-modified-since": lastModified } })).status, 304);
    const older = new Date(Date.parse(lastModified) - 60_000).toUTCString();
    assert.equal((await s.repo("GET", "/cond-files/docs/a.txt", { basic, headers: { "if-modified-since": older } })).status, 200);
    await new Promise((r) => setTimeout(r, 1100)); // Last-Modified has one-second resolution
    assert.equal((await s.repo("PUT", "/cond-files/docs/a.txt", { basic, raw: "hello again" })).status, 200);
    const changed = await s.repo("GET", "/cond-files/docs/a.txt", { basic, headers: { "if-none-match": first.headers.get("etag")! } });
    assert.equal(changed.status, 200);
    assert.equal(changed.text, "hello again");
    assert.equal(changed.headers.get("etag"), `"${sha256("hello again")}"`);
    assert.equal((await s.repo("GET", "/cond-files/docs/a.txt", { basic, headers: { "if-modified-since": lastModified } })).status, 200);
  });

  it("a large streamed file gets its ETag (from the artifacts index) and 304s too", async () => {
    const res = await fetch(`${s.repoUrl}/cond-files/big.bin`, { headers: { authorization: "Basic " + Buffer.from(basic.join(":")).toString("base64") } });
    assert.equal(res.status, 200);
    assert.equal(Buffer.from(await res.arrayBuffer()).length, big.length);
    const tag = res.headers.get("etag");
    assert.equal(tag, `"${sha256(big)}"`);
    const again = await s.repo("GET", "/cond-files/big.bin", { basic, headers: { "if-none-match": tag! } });
    assert.equal(again.status, 304);
    // Range requests still work beside conditionals.
    const range = await s.repo("GET", "/cond-files/big.bin", { basic, headers: { range: "bytes=0-9" } });
    assert.equal(range.status, 206);
    assert.equal(range.headers.get("content-range"), `bytes 0-9/${big.length}`);
  });

  it("proxied and group-served files answer conditionals the same way", async () => {
    const viaProxy = await s.repo("GET", "/cond-proxy/up.txt", { basic });
    assert.equal(viaProxy.status, 200);
    assert.equal(viaProxy.headers.get("etag"), `"${sha256("upstream")}"`);
    const hits = upstreamHits;
    assert.equal((await s.repo("GET", "/cond-proxy/up.txt", { basic, headers: { "if-none-match": viaProxy.headers.get("etag")! } })).status, 304);
    assert.equal(upstreamHits, hits, "a cached file's 304 does not ask the upstream");
    const viaGroup = await s.repo("GET", "/cond-group/up.txt", { basic, headers: { "if-none-match": viaProxy.headers.get("etag")! } });
    assert.equal(viaGroup.status, 304);
    const groupHosted = await s.repo("GET", "/cond-group/docs/a.txt", { basic });
    assert.equal(groupHosted.status, 200);
    assert.equal((await s.repo("GET", "/cond-group/docs/a.txt", { basic, headers: { "if-none-match": groupHosted.headers.get("etag")! } })).status, 304);
  });

  it("curl -z and wget -N do not download an unchanged file again, and do once it changed", async () => {
    const url = `${s.repoUrl}/cond-files/docs/tool.txt`;
    assert.equal((await s.repo("PUT", "/cond-files/docs/tool.txt", { basic, raw: "v1" })).status, 201);
    const out = path.join(tmp, "tool.txt");
    // curl -R keeps the server's Last-Modified as the file's mtime; -z then sends If-Modified-Since from it.
    const curl = async () => {
      const { stdout } = await exec("curl", ["-s", "-R", "-u", basic.join(":"), "-z", out, "-o", out, "-w", "%{http_code}", url]);
      return Number(stdout);
    };
    writeFileSync(out, "");
    utimesSync(out, new Date(0), new Date(0));
    assert.equal(await curl(), 200);
    assert.equal(readFileSync(out, "utf8"), "v1");
    assert.equal(await curl(), 304);
    assert.equal(readFileSync(out, "utf8"), "v1");

    const wgetDir = mkdtempSync(path.join(tmp, "wget-"));
    const wget = async () => {
      const { stderr } = await exec("wget", ["-N", "--user=admin", `--password=${ADMIN_PASSWORD}`, "--auth-no-challenge", "-S", url], { cwd: wgetDir }).catch(
        (e) => e,
      );
      return String(stderr);
    };
    const firstLog = await wget();
    assert.match(firstLog, /HTTP\/1\.1 200/);
    const mtime = statSync(path.join(wgetDir, "tool.txt")).mtimeMs;
    const secondLog = await wget();
    assert.match(secondLog, /HTTP\/1\.1 304/, secondLog);
    assert.equal(statSync(path.join(wgetDir, "tool.txt")).mtimeMs, mtime);

    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await s.repo("PUT", "/cond-files/docs/tool.txt", { basic, raw: "v2" })).status, 200);
    assert.equal(await curl(), 200);
    assert.equal(readFileSync(out, "utf8"), "v2");
    const thirdLog = await wget();
    assert.match(thirdLog, /HTTP\/1\.1 200/);
    assert.equal(readFileSync(path.join(wgetDir, "tool.txt"), "utf8"), "v2");
  });
});
