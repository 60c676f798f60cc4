// File repositories with curl (hosted), plus the shared proxy behaviour (single flight,
// negative cache, credentials, 502/504, stale copies), groups, prefixes and path confinement.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { ADMIN_PASSWORD, listenLocal, startServer, userWithPermissions, type TestServer } from "../helpers/server.js";

const exec = promisify(execFile);

/** curl with the admin's credentials; returns the status and body. */
async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await exec("curl", ["-s", "-u", `admin:${ADMIN_PASSWORD}`, "-w", "\n%{http_code}", ...args], { encoding: "utf8", maxBuffer: 1 << 24 });
  const i = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) };
}

interface Upstream {
  url: string;
  hits: Map<string, number>;
  files: Map<string, string>;
  mode: "ok" | "error" | "slow";
  close(): Promise<void>;
}

/** A controllable upstream: serves `files`, counts hits, checks Basic credentials under /private/. */
function upstream(): Promise<Upstream> {
  const state = { hits: new Map<string, number>(), files: new Map<string, string>(), mode: "ok" as Upstream["mode"] };
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).slice(1);
    state.hits.set(p, (state.hits.get(p) ?? 0) + 1);
    if (state.mode === "error") return void res.writeHead(500).end("boom");
    if (p.startsWith("private/") && req.headers.authorization !== "Basic " + Buffer.from("up:secret").toString("base64")) return void res.writeHead(401).end();
    const body = state.files.get(p);
    const send = () => {
      if (body === undefined) res.writeHead(404).end();
      else res.writeHead(200, { "content-length": Buffer.byteLength(body), "last-modified": new Date(1_600_000_000_000).toUTCString() }).end(body);
    };
    if (state.mode === "slow" || p.startsWith("slow/")) setTimeout(send, state.mode === "slow" ? 3000 : 300);
    else send();
  });
  return listenLocal(server).then(({ url, close }): Upstream => Object.assign(state, { url, close }));
}

describe("file repositories: curl, proxy, group", () => {
  let s: TestServer;
  let up: Upstream;
  let tmp: string;
  const basic: [string, string] = ["admin", ADMIN_PASSWORD];
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "pantera-file-"));
    up = await upstream();
    s = await startServer();
    const admin = await s.services.auth.authenticateToken(s.adminToken);
    await s.services.repositories.put(admin, "files", { type: "file", storage: "default" });
    await s.services.repositories.put(admin, "files-proxy", {
      type: "file-proxy",
      storage: "default",
      remotes: [{ url: up.url, username: "up", password: "secret" }],
      negative_cache_ttl: 3600,
    });
    await s.services.repositories.put(admin, "files-group", { type: "file-group", storage: "default", members: ["files", "files-proxy"] });
  });
  after(async () => {
    await s?.close();
    await up?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("curl PUT / GET / HEAD / DELETE on a hosted file repository", async () => {
    const file = path.join(tmp, "a.txt");
    writeFileSync(file, "hello file repo\n");
    const put = await curl(["-T", file, `${s.repoUrl}/files/docs/a.txt`]);
    assert.equal(put.status, 201);
    const again = await curl(["-T", file, `${s.repoUrl}/files/docs/a.txt`]);
    assert.equal(again.status, 200, "overwrite");
    const get = await curl([`${s.repoUrl}/files/docs/a.txt`]);
    assert.equal(get.status, 200);
    assert.equal(get.body, "hello file repo\n");
    const head = await curl(["-I", `${s.repoUrl}/files/docs/a.txt`]);
    assert.equal(head.status, 200);
    assert.match(head.body, /content-length: 16/i);
    const range = await curl(["-r", "0-4", `${s.repoUrl}/files/docs/a.txt`]);
    assert.equal(range.status, 206);
    assert.equal(range.body, "hello");
    const row = await s.services.artifacts.find("files", "docs/a.txt");
    assert.equal(Number(row?.size), 16);
    const del = await curl(["-X", "DELETE", `${s.repoUrl}/files/docs/a.txt`]);
    assert.equal(del.status, 204);
    assert.equal((await curl([`${s.repoUrl}/files/docs/a.txt`])).status, 404);
    assert.equal(await s.services.artifacts.find("files", "docs/a.txt"), null);
  });

  it("directory listings in HTML and JSON", async () => {
    await s.repo("PUT", "/files/dir/x.txt", { raw: "x", basic });
    await s.repo("PUT", "/files/dir/sub/y.txt", { raw: "y", basic });
    const html = await curl([`${s.repoUrl}/files/dir/`]);
    assert.equal(html.status, 200);
    assert.match(html.body, /<a href="[^"]*\/files\/dir\/sub\/">sub\/<\/a>/);
    assert.match(html.body, /x\.txt/);
    const json = await s.repo("GET", "/files/dir/", { basic, headers: { accept: "application/json" } });
    assert.deepEqual(
      json.body.items.map((i: any) => [i.name, i.type]),
      [
        ["sub", "directory"],
        ["x.txt", "file"],
      ],
    );
  });

  it("paths cannot escape the repository: '..', encoded '..' and NUL are 400", async () => {
    for (const p of ["/files/dir/../../etc/passwd", "/files/dir/%2e%2e/%2e%2e/x", "/files/a%00b"]) {
      const r = await curl(["--path-as-is", `${s.repoUrl}${p}`]);
      assert.equal(r.status, 400, p);
      assert.match(r.body, /"error":"BAD_REQUEST"/);
    }
    assert.equal((await curl([`${s.repoUrl}/no-such-repo/x`])).status, 404);
  });

  it("configured prefixes are stripped", async () => {
    await s.services.settings.update("prefixes", { prefixes: ["p1"] });
    const r = await curl([`${s.repoUrl}/p1/files/dir/x.txt`]);
    assert.equal(r.status, 200);
    assert.equal(r.body, "x");
  });

  it("proxy: fetched once with the remote's credentials, then served from cache and indexed", async () => {
    up.files.set("private/p.bin", "private bytes");
    for (let i = 0; i < 3; i++) {
      const r = await curl([`${s.repoUrl}/files-proxy/private/p.bin`]);
      assert.equal(r.status, 200);
      assert.equal(r.body, "private bytes");
    }
    assert.equal(up.hits.get("private/p.bin"), 1);
    const row = await s.services.artifacts.find("files-proxy", "private/p.bin");
    assert.equal(row?.releasedAt?.getTime(), 1_600_000_000_000);
  });

  it("proxy: concurrent requests for the same missing file make one upstream fetch", async () => {
    up.files.set("slow/big.bin", "z".repeat(100_000));
    const results = await Promise.all(Array.from({ length: 10 }, () => s.repo("GET", "/files-proxy/slow/big.bin", { basic })));
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.equal(r.text.length, 100_000);
    }
    assert.equal(up.hits.get("slow/big.bin"), 1);
  });

  it("proxy: misses are remembered for the negative-cache TTL", async () => {
    assert.equal((await s.repo("GET", "/files-proxy/missing.txt", { basic })).status, 404);
    up.files.set("missing.txt", "now here");
    assert.equal((await s.repo("GET", "/files-proxy/missing.txt", { basic })).status, 404);
    assert.equal(up.hits.get("missing.txt"), 1);
    // Changing the repository drops its negative cache.
    const admin = await s.services.auth.authenticateToken(s.adminToken);
    await s.services.repositories.put(admin, "files-proxy", {
      type: "file-proxy",
      storage: "default",
      remotes: [{ url: up.url, username: "up", password: "secret" }],
      negative_cache_ttl: 0,
    });
    assert.equal((await s.repo("GET", "/files-proxy/missing.txt", { basic })).status, 200);
  });

  it("proxy: upstream errors give 502, timeouts 504, both in the documented error format", async () => {
    up.mode = "error";
    const bad = await s.repo("GET", "/files-proxy/err.txt", { basic });
    assert.equal(bad.status, 502);
    assert.equal(bad.body.error, "BAD_GATEWAY");
    assert.equal(bad.body.status, 502);
    // Cached files are still served while the upstream is broken.
    assert.equal((await s.repo("GET", "/files-proxy/private/p.bin", { basic })).status, 200);
    up.mode = "slow";
    await s.services.settings.update("http_client", { proxy_timeout: 300 });
    try {
      const slow = await s.repo("GET", "/files-proxy/slow-one.txt", { basic });
      assert.equal(slow.status, 504);
      assert.equal(slow.body.error, "GATEWAY_TIMEOUT");
    } finally {
      await s.services.settings.update("http_client", { proxy_timeout: 30000 });
      up.mode = "ok";
    }
  });

  it("proxy metadata: re-checked after its TTL, the stale copy is served when the upstream fails", async () => {
    const admin = await s.services.auth.authenticateToken(s.adminToken);
    await s.services.repositories.put(admin, "mvn-proxy", { type: "maven-proxy", storage: "default", remotes: [{ url: up.url }], metadata_ttl: 0 });
    up.files.set("g/a/maven-metadata.xml", "<metadata><versioning><versions><version>1</version></versions></versioning></metadata>");
    assert.equal((await s.repo("GET", "/mvn-proxy/g/a/maven-metadata.xml", { basic })).status, 200);
    up.files.set("g/a/maven-metadata.xml", "<metadata><versioning><versions><version>2</version></versions></versioning></metadata>");
    assert.match((await s.repo("GET", "/mvn-proxy/g/a/maven-metadata.xml", { basic })).text, /<version>2<\/version>/);
    up.mode = "error";
    try {
      const stale = await s.repo("GET", "/mvn-proxy/g/a/maven-metadata.xml", { basic });
      assert.equal(stale.status, 200);
      assert.match(stale.text, /<version>2<\/version>/);
    } finally {
      up.mode = "ok";
    }
  });

  it("group: hosted member first, then the proxy; listings are merged", async () => {
    await s.repo("PUT", "/files/shared/both.txt", { raw: "from hosted", basic });
    up.files.set("shared/both.txt", "from upstream");
    up.files.set("shared/only-up.txt", "upstream only");
    assert.equal((await s.repo("GET", "/files-group/shared/both.txt", { basic })).text, "from hosted");
    assert.equal((await s.repo("GET", "/files-group/shared/only-up.txt", { basic })).text, "upstream only");
    const list = await s.repo("GET", "/files-group/shared/", { basic, headers: { accept: "application/json" } });
    assert.deepEqual(
      list.body.items.map((i: any) => i.name),
      ["both.txt", "only-up.txt"],
    );
    assert.equal((await s.repo("PUT", "/files-group/shared/new.txt", { raw: "x", basic })).status, 405);
    assert.equal((await s.repo("GET", "/files-group/shared/none.txt", { basic })).status, 404);
  });

  it("an interrupted upload leaves nothing visible", async () => {
    const req = http.request(`${s.repoUrl}/files/partial/cut.bin`, {
      method: "PUT",
      headers: { authorization: "Basic " + Buffer.from(basic.join(":")).toString("base64"), "content-length": "1000000" },
    });
    req.on("error", () => {});
    req.write(Buffer.alloc(100_000, 1));
    await new Promise((r) => setTimeout(r, 200));
    req.destroy();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await s.repo("GET", "/files/partial/cut.bin", { basic })).status, 404);
    const root = await s.repo("GET", "/files/", { basic, headers: { accept: "application/json" } });
    assert.ok(!root.body.items.some((i: any) => i.name.startsWith(".")), JSON.stringify(root.body.items));
    assert.equal(await s.services.artifacts.find("files", "partial/cut.bin"), null);
  });

  it("anonymous callers get 401 with a Basic challenge", async () => {
    const r = await s.repo("GET", "/files/dir/x.txt");
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("www-authenticate"), 'Basic realm="pantera"');
  });

  it("anonymous reads work where a role of the 'anonymous' user grants them (seen at once)", async () => {
    assert.equal((await s.repo("GET", "/files/dir/x.txt")).status, 401);
    await userWithPermissions(s, "anonymous", { files: ["read"] });
    const r = await s.repo("GET", "/files/dir/x.txt");
    assert.equal(r.status, 200);
    assert.equal(r.text, "x");
    assert.equal((await s.repo("PUT", "/files/dir/anon.txt", { raw: "no" })).status, 401);
    assert.equal((await s.repo("GET", "/files-proxy/private/p.bin")).status, 401);
  });
});
