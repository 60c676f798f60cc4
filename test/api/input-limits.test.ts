// Input limits: names longer than a file system stores (414 before any body is read), JSON nested
// too deeply (400), bodies over the size limit (413 that the client really receives, not a reset).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ADMIN_PASSWORD, backends, createPostgresDatabase, expectError, request, startServer, type TestServer } from "../helpers/server.js";
import { TMP_DIR } from "../../src/storage/fs.js";

const LONG = "x".repeat(300);
/** Tests whose requests would wait forever on a server that reads the body before refusing it. */
const WAITS = { timeout: 30_000 };
const MiB = 1024 * 1024;

/** `[`×n `]`×n as a JSON value nested n levels deep (objects when `key` is given). */
const nested = (n: number, key?: string) => (key ? `{"${key}":`.repeat(n) + "1" + "}".repeat(n) : "[".repeat(n) + "]".repeat(n));

/** A body stream of `size` bytes in 64 KiB chunks: fetch sends it chunked (no Content-Length). */
function chunkedBody(size: number, fill = "a"): ReadableStream<Uint8Array> {
  let sent = 0;
  const chunk = new TextEncoder().encode(fill.repeat(64 * 1024));
  return new ReadableStream({
    pull(c) {
      if (sent >= size) return c.close();
      sent += chunk.length;
      c.enqueue(chunk);
    },
  });
}

/** A body stream that sends `first` and then never ends (the server must answer without reading on). */
function endlessBody(first: string): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode(first));
    },
  });
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends only the head of a request (its body never comes) and reads the answer to it. */
function headOnly(url: string, head: string): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(head.replace(/\n/g, "\r\n") + "\r\n"));
    let data = Buffer.alloc(0);
    const done = (res: RawResponse) => {
      socket.destroy();
      resolve(res);
    };
    socket.on("data", (d: Buffer) => {
      data = Buffer.concat([data, d]);
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [statusLine, ...lines] = data.subarray(0, end).toString().split("\r\n");
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      const length = Number(headers["content-length"] ?? 0);
      if (data.length - end - 4 >= length)
        done({ status: Number(statusLine.split(" ")[1]), headers, body: data.subarray(end + 4, end + 4 + length).toString() });
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error(`connection closed without an answer: ${data.toString().slice(0, 200)}`)));
  });
}

/**
 * Sends a request head and then `size` body bytes (chunked, or as declared by the head) before
 * reading anything, as blocking clients (urllib, http.client) do, then reads the answer.
 */
function sendAllThenRead(url: string, head: string, size: number, chunked: boolean): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    socket.pause(); // nothing is read until the whole body is written
    let data = Buffer.alloc(0);
    socket.on("error", (err) => reject(new Error(`${(err as NodeJS.ErrnoException).code} after ${data.length} bytes of answer`)));
    socket.on("data", (d: Buffer) => (data = Buffer.concat([data, d])));
    socket.on("end", () => {
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return reject(new Error(`no answer: ${data.toString().slice(0, 200)}`));
      const [statusLine, ...lines] = data.subarray(0, end).toString().split("\r\n");
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body: data.subarray(end + 4).toString() });
    });
    const send = async () => {
      socket.write(head.replace(/\n/g, "\r\n") + "\r\n");
      const piece = Buffer.alloc(64 * 1024, "a");
      const framed = chunked ? Buffer.concat([Buffer.from(piece.length.toString(16) + "\r\n"), piece, Buffer.from("\r\n")]) : piece;
      try {
        for (let sent = 0; sent < size; sent += piece.length) {
          if (!socket.write(framed)) await new Promise((ok, fail) => socket.once("drain", ok).once("error", fail));
        }
        if (chunked) socket.write("0\r\n\r\n");
      } catch {
        return; // reported by the error listener
      }
      socket.resume();
    };
    socket.on("connect", () => void send());
  });
}

/** The documented error body of a raw answer. */
function assertErrorBody(res: RawResponse, status: number, code: string) {
  assert.equal(res.status, status, res.body);
  assert.deepEqual({ ...JSON.parse(res.body), message: "" }, { error: code, message: "", status });
}

for (const backend of backends()) {
  describe(`input limits [${backend}]`, () => {
    let s: TestServer;
    let basic: string;
    before(async () => {
      s = await startServer({ backend });
      basic = "Basic " + Buffer.from(`admin:${ADMIN_PASSWORD}`).toString("base64");
      const admin = await s.services.auth.authenticateToken(s.adminToken);
      for (const [name, type] of [
        ["m", "maven"],
        ["n", "npm"],
        ["p", "pypi"],
        ["f", "file"],
        ["d", "docker"],
      ] as const) {
        await s.services.repositories.put(admin, name, { type, storage: "default" });
      }
    });
    after(() => s?.close());

    const tmpFiles = () => {
      try {
        return readdirSync(path.join(s.config.dataDir, "storage", TMP_DIR));
      } catch {
        return [];
      }
    };

    it("a path segment over 255 bytes gets 414 on every format, before the body is read", WAITS, async () => {
      const paths = [`/m/com/x/1.0/${LONG}.jar`, `/n/${LONG}`, `/n/pkg/-/${LONG}.tgz`, `/p/simple/${LONG}/`, `/p/packages/${LONG}.whl`, `/f/dir/${LONG}`];
      for (const p of paths) {
        for (const method of ["GET", "HEAD", "DELETE"]) {
          const res = await fetch(s.repoUrl + p, { method, headers: { authorization: basic } });
          assert.equal(res.status, 414, `${method} ${p}: ${res.status}`);
          if (method !== "HEAD") expectError({ status: res.status, headers: res.headers, body: await res.json(), text: "" }, 414, "URI_TOO_LONG");
        }
        // The body never ends: only an answer given before reading it can arrive.
        const res = await fetch(s.repoUrl + p, { method: "PUT", headers: { authorization: basic }, body: endlessBody("data"), duplex: "half" } as RequestInit);
        assert.equal(res.status, 414, `PUT ${p}`);
        assert.equal((await res.json()).error, "URI_TOO_LONG");
      }
      // OCI names are bounded by their own grammar (255 characters), answered in the OCI error shape.
      const oci = await fetch(`${s.repoUrl}/v2/d/${LONG}/manifests/latest`, { headers: { authorization: basic } });
      assert.equal(oci.status, 400);
      assert.equal((await oci.json()).errors[0].code, "NAME_INVALID");
      // Multi-byte names count in UTF-8 bytes: 128 × 'é' is 256 bytes.
      const res = await s.repo("GET", `/f/${encodeURIComponent("é".repeat(128))}`, { basic: ["admin", ADMIN_PASSWORD] });
      expectError(res, 414, "URI_TOO_LONG");
      // 255 bytes is a legal name: stored and served.
      const ok = "y".repeat(255);
      assert.equal((await s.repo("PUT", `/f/${ok}`, { basic: ["admin", ADMIN_PASSWORD], raw: "hello" })).status, 201);
      assert.equal((await s.repo("GET", `/f/${ok}`, { basic: ["admin", ADMIN_PASSWORD] })).text, "hello");
      assert.deepEqual(tmpFiles(), []);
    });

    it("a path over 1024 bytes in total gets 414", WAITS, async () => {
      const deep = Array.from({ length: 12 }, () => "d".repeat(100)).join("/");
      expectError(await s.repo("GET", `/f/${deep}`, { basic: ["admin", ADMIN_PASSWORD] }), 414, "URI_TOO_LONG");
      const res = await headOnly(s.repoUrl, `PUT /f/${deep} HTTP/1.1\nHost: x\nAuthorization: ${basic}\nContent-Length: ${100 * MiB}\n`);
      assertErrorBody(res, 414, "URI_TOO_LONG");
    });

    it("/.import refuses an over-long name before the body", WAITS, async () => {
      const headers = `Authorization: ${basic}\nX-Pantera-Repo-Type: file\nX-Pantera-Idempotency-Key: k-long\nContent-Length: ${100 * MiB}\n`;
      const res = await headOnly(s.repoUrl, `PUT /.import/f/dir/${LONG} HTTP/1.1\nHost: x\n${headers}`);
      assert.equal(res.status, 400, res.body);
      const doc = JSON.parse(res.body); // section 16's own body
      assert.equal(doc.status, "INVALID_METADATA");
      assert.match(doc.message, /255 bytes/);
    });

    it("the management artifact endpoints answer 414 for an over-long path", async () => {
      for (const route of ["/repositories/f/artifact", "/repositories/f/artifact/download", "/repositories/f/tree"]) {
        expectError(await s.api("GET", `${route}?path=dir/${LONG}`, { token: s.adminToken }), 414, "URI_TOO_LONG");
      }
      expectError(await s.api("DELETE", "/repositories/f/artifacts", { token: s.adminToken, body: { path: `dir/${LONG}` } }), 414, "URI_TOO_LONG");
    });

    it("JSON nested deeper than 64 levels gets 400 in repository and storage configs, Indy stores and npm publish", async () => {
      for (const depth of [1_000, 100_000]) {
        const config = `{"type":"file","storage":"default","extra":${nested(depth)}}`;
        let res = await s.api("PUT", "/repositories/deep", { token: s.adminToken, raw: `{"repo":${config}}`, headers: { "content-type": "application/json" } });
        expectError(res, 400, "BAD_REQUEST");
        assert.match(res.body.message, /64 levels/);
        res = await s.api("PUT", "/storages/deep", {
          token: s.adminToken,
          raw: `{"type":"fs","path":"deep","x":${nested(depth, "a")}}`,
          headers: { "content-type": "application/json" },
        });
        expectError(res, 400, "BAD_REQUEST");
        res = await s.repo("PUT", "/api/admin/stores/maven/hosted/deep", {
          basic: ["admin", ADMIN_PASSWORD],
          raw: `{"key":"maven:hosted:deep","x":${nested(depth)}}`,
          headers: { "content-type": "application/json" },
        });
        expectError(res, 400, "BAD_REQUEST");
      }
      // npm publish documents are parsed by their own reader, and their manifests stored as JSON again.
      for (const depth of [1_000, 100_000]) {
        const doc = `{"name":"deep","versions":{"1.0.0":{"name":"deep","version":"1.0.0","x":${nested(depth)}}},"_attachments":{"deep-1.0.0.tgz":{"data":"aGVsbG8="}}}`;
        const res = await s.repo("PUT", "/n/deep", { basic: ["admin", ADMIN_PASSWORD], raw: doc, headers: { "content-type": "application/json" } });
        expectError(res, 400, "BAD_REQUEST");
      }
      // 64 levels are fine (and nothing of the refused ones was stored).
      const res = await s.api("PUT", "/storages/deep", {
        token: s.adminToken,
        raw: `{"type":"fs","path":"deep","x":${nested(63)}}`,
        headers: { "content-type": "application/json" },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal((await s.api("GET", "/repositories/deep", { token: s.adminToken })).status, 404);
    });

    it("GraphQL JSON inputs nested too deeply are a BAD_REQUEST error, as variables and as literals", async () => {
      const mutation = 'mutation($c: JSON!) { putStorageAlias(name: "deepgql", config: $c) }';
      for (const depth of [1_000, 100_000]) {
        const res = await request("POST", `${s.apiUrl}/graphql`, {
          token: s.adminToken,
          headers: { "content-type": "application/json" },
          raw: `{"query":${JSON.stringify(mutation)},"variables":{"c":{"type":"fs","path":"p","x":${nested(depth)}}}}`,
        });
        assert.ok(res.status < 500, `${res.status} ${res.text.slice(0, 200)}`);
        assert.equal(res.body.errors?.[0]?.extensions?.code, "BAD_REQUEST", res.text.slice(0, 300));
        assert.match(res.body.errors[0].message, /64 levels/);
      }
      const literal = `mutation { putStorageAlias(name: "deepgql", config: {type: "fs", path: "p", x: ${"[".repeat(100)}${"]".repeat(100)}}) }`;
      const res = await s.graphql(literal, undefined, s.adminToken);
      assert.equal(res.body.errors?.[0]?.extensions?.code, "BAD_REQUEST", res.text.slice(0, 300));
      assert.match(res.body.errors[0].message, /64 levels/);
      assert.equal(
        (await s.api("GET", "/storages", { token: s.adminToken })).body.some((a: { name: string }) => a.name === "deepgql"),
        false,
      );
    });

    it("an /api/v1 body over 1 MiB gets 413 with Connection: close, chunked or with Content-Length", WAITS, async () => {
      const url = `${s.apiUrl}/api/v1/repositories/big`;
      const headers = { authorization: `Bearer ${s.adminToken}`, "content-type": "application/json" };
      const padded = `{"repo":{"type":"file","storage":"default"},"pad":"${"a".repeat(2 * MiB)}"}`;
      for (const body of [padded, chunkedBody(2 * MiB)]) {
        const res = await fetch(url, { method: "PUT", headers, body, duplex: "half" } as RequestInit);
        assert.equal(res.status, 413);
        assert.equal(res.headers.get("connection"), "close");
        const doc = await res.json();
        assert.equal(doc.error, "PAYLOAD_TOO_LARGE");
        assert.equal(doc.status, 413);
      }
      // A declared length too large is refused at once: the body is never waited for.
      const res = await headOnly(
        s.apiUrl,
        `PUT /api/v1/repositories/big HTTP/1.1\nHost: x\nAuthorization: Bearer ${s.adminToken}\nContent-Type: application/json\nContent-Length: ${2 * MiB}\n`,
      );
      assertErrorBody(res, 413, "PAYLOAD_TOO_LARGE");
      assert.equal(res.headers.connection, "close");
      // The node still answers, and nothing was created.
      assert.equal((await s.api("GET", "/repositories/big", { token: s.adminToken })).status, 404);
    });

    it("a client that writes its whole body before reading still gets the 413", WAITS, async () => {
      const head = `PUT /api/v1/repositories/big HTTP/1.1\nHost: x\nAuthorization: Bearer ${s.adminToken}\nContent-Type: application/json\n`;
      for (const [size, chunked] of [
        [2 * MiB, false],
        [8 * MiB, false],
        [2 * MiB, true],
        [8 * MiB, true],
      ] as const) {
        const res = await sendAllThenRead(s.apiUrl, head + (chunked ? "Transfer-Encoding: chunked\n" : `Content-Length: ${size}\n`), size, chunked);
        assertErrorBody(res, 413, "PAYLOAD_TOO_LARGE");
        assert.equal(res.headers.connection, "close");
      }
    });

    it("npm and OCI bodies over their limits get their 413, not a reset", WAITS, async () => {
      for (const body of ["x".repeat(2 * MiB), chunkedBody(2 * MiB)]) {
        const res = await fetch(`${s.repoUrl}/n/-/user/org.couchdb.user:someone`, {
          method: "PUT",
          headers: { authorization: basic, "content-type": "application/json" },
          body,
          duplex: "half",
        } as RequestInit);
        assert.equal(res.status, 413);
        await res.text();
      }
      const res = await fetch(`${s.repoUrl}/v2/d/img/manifests/1`, {
        method: "PUT",
        headers: { authorization: basic, "content-type": "application/vnd.oci.image.manifest.v1+json" },
        body: chunkedBody(5 * MiB),
        duplex: "half",
      } as RequestInit);
      assert.equal(res.status, 413);
      assert.equal((await res.json()).errors[0].code, "SIZE_INVALID");
    });
  });
}

/** `npm start`'s entry in a child process on `dataDir`; resolves with its ports once it serves. */
function startNode(dataDir: string, databaseUrl: string | undefined): Promise<{ child: ChildProcess; api: number; repo: number }> {
  const env = { ...process.env, PANTERA_DATA_DIR: dataDir, PANTERA_ADMIN_PASSWORD: ADMIN_PASSWORD, PANTERA_HOST: "127.0.0.1", PANTERA_LOG_LEVEL: "info" };
  Object.assign(env, { PANTERA_API_PORT: "0", PANTERA_REPO_PORT: "0", PANTERA_METRICS_PORT: "0", DATABASE_URL: databaseUrl ?? "" });
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], { env, stdio: ["ignore", "ignore", "pipe"] });
  return new Promise((resolve, reject) => {
    let log = "";
    child.stderr!.on("data", (d: Buffer) => {
      log += d.toString();
      const line = log.split("\n").find((l) => l.includes('"pantera started"'));
      if (line) {
        const { api, repository } = JSON.parse(line);
        resolve({ child, api, repo: repository });
      }
    });
    child.on("exit", (code) => reject(new Error(`node exited (${code}): ${log.slice(-500)}`)));
  });
}

describe("a crash mid-upload", () => {
  it("leaves a temp file that a restarted node sweeps once it is stale", { timeout: 180_000 }, async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "pantera-crash-"));
    const db = process.env.TEST_DATABASE_URL ? await createPostgresDatabase() : undefined;
    const tmp = path.join(dataDir, "storage", TMP_DIR);
    let node = await startNode(dataDir, db?.url);
    try {
      const login = await request("POST", `http://127.0.0.1:${node.api}/api/v1/auth/token`, { body: { name: "admin", pass: ADMIN_PASSWORD } });
      const token = login.body.token as string;
      const created = await request("PUT", `http://127.0.0.1:${node.api}/api/v1/repositories/f`, {
        token,
        body: { repo: { type: "file", storage: "default" } },
      });
      assert.ok(created.status < 300, created.text);
      // A large upload in progress: chunks keep coming until the node is killed.
      const upload = http.request({ host: "127.0.0.1", port: node.repo, method: "PUT", path: "/f/big.bin", auth: `admin:${ADMIN_PASSWORD}` });
      upload.on("error", () => {}); // the node dies under it
      const chunk = Buffer.alloc(1024 * 1024, 7);
      const tempSize = () => (existsSync(tmp) ? readdirSync(tmp).reduce((n, f) => n + statSync(path.join(tmp, f)).size, 0) : 0);
      while (tempSize() < 16 * MiB) {
        if (!upload.write(chunk)) await new Promise((r) => upload.once("drain", r));
      }
      node.child.kill("SIGKILL");
      await new Promise((r) => node.child.once("exit", r));
      upload.destroy();
      const [left] = readdirSync(tmp);
      assert.ok(left && statSync(path.join(tmp, left)).size >= 16 * MiB, "the killed upload's temp file is left behind");
      // Restarted at once, the file is too fresh to be sure it is dead: kept.
      node = await startNode(dataDir, db?.url);
      await fetch(`http://127.0.0.1:${node.repo}/f/other`, { headers: { authorization: `Bearer ${token}` } }); // the storage is in use
      assert.deepEqual(readdirSync(tmp), [left]);
      node.child.kill("SIGKILL");
      await new Promise((r) => node.child.once("exit", r));
      // An hour and more later nothing has written to it: the next start sweeps it.
      const old = new Date(Date.now() - 2 * 3600_000);
      utimesSync(path.join(tmp, left), old, old);
      // npm publish staging a crash left behind goes the same way.
      const staging = path.join(dataDir, "tmp");
      mkdirSync(staging, { recursive: true });
      writeFileSync(path.join(staging, "npm-publish-left-over"), "x");
      utimesSync(path.join(staging, "npm-publish-left-over"), old, old);
      node = await startNode(dataDir, db?.url);
      // No request touches the storage: the start itself sweeps (beside serving; a generous bound, only so a failure reads clearly).
      for (let i = 0; i < 1500 && readdirSync(tmp).length + readdirSync(staging).length; i++) await sleep(20);
      assert.deepEqual(readdirSync(tmp), [], "the stale temp file is swept");
      assert.deepEqual(readdirSync(staging), [], "the stale npm staging file is swept");
    } finally {
      node.child.kill("SIGKILL");
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
