// The operator's run of docs/cluster.md, end to end: three nodes on one PostgreSQL (behind a TCP proxy the
// test cuts), a private redis-server the test kills, an S3 storage alias on s3rver used by a file
// repository, and a real nginx running the documented configuration block (extracted from the doc, hosts and
// ports substituted). Under a steady load of uploads and downloads through nginx: Redis killed, nothing
// fails and changes still reach every node (change feed); PostgreSQL cut, cached reads keep working, writes
// answer 503 + Retry-After, nothing answers 500, every node is unready; PostgreSQL restored, everything
// recovers within seconds and every uploaded file reads back with its digest.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
// @ts-expect-error s3rver ships no types
import S3rver from "s3rver";
import { createPostgresDatabase, postgresUrl, request, startServer, type Response, type TestServer } from "../helpers/server.js";
import { freePort, hasRedisServer, PrivateRedis, REDIS_SERVER, TcpProxy } from "../helpers/redis.js";
import { startNginx, waitForHttp } from "../helpers/nginx.js";

const pg = postgresUrl();
const hasNginx = spawnSync("nginx", ["-v"]).status === 0;
const missing = !pg ? "TEST_DATABASE_URL is needed" : !hasRedisServer() ? `${REDIS_SERVER} is needed` : !hasNginx ? "nginx is needed" : "";
if (missing && process.env.REQUIRE_SERVICES === "1") throw new Error(`REQUIRE_SERVICES=1 but ${missing}`);

const docPath = path.join(import.meta.dirname, "../../docs/cluster.md");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** The fenced nginx block under the doc's "tested:" marker, with the example's hosts and ports replaced. */
function documentedNginxConfig(repoPorts: number[], apiPorts: number[], listen: number): string {
  const doc = readFileSync(docPath, "utf8");
  const m = /<!-- tested: test\/cluster\/operator\.test\.ts[^>]*-->\s*```nginx\n([\s\S]*?)\n```/.exec(doc);
  assert.ok(m, "docs/cluster.md has the tested nginx block");
  let conf = m[1];
  for (let i = 0; i < 3; i++) {
    conf = conf.replaceAll(`node${i + 1}:8080`, `127.0.0.1:${repoPorts[i]}`).replaceAll(`node${i + 1}:8086`, `127.0.0.1:${apiPorts[i]}`);
  }
  assert.match(conf, /listen 443 ssl;/);
  conf = conf.replace("listen 443 ssl;", `listen 127.0.0.1:${listen};`); // TLS is not what this test is about
  assert.doesNotMatch(conf, /node\d:/, "every node address was substituted");
  return conf;
}

/** Polls `probe` until `ok` holds; returns the last answer. */
async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > deadline) return v;
    await sleep(100);
  }
}

interface Outcome {
  op: "PUT" | "GET";
  path: string;
  status: number;
  retryAfter: string | null;
  detail: string;
  /** When the request was sent (ms since the epoch). */
  startedAt: number;
}

/** A few workers uploading and reading back files through nginx until stopped; every answer is recorded. */
class Load {
  readonly uploaded = new Map<string, string>(); // path -> sha256 of what a 2xx PUT stored
  readonly outcomes: Outcome[] = [];
  private stopped = false;
  private workers: Promise<void>[] = [];
  private seq = 0;
  constructor(
    private base: string,
    private token: string,
    /** Paths whose GETs the workers repeat: known good and already read on every node. */
    private readable: () => string[],
  ) {}

  start(concurrency: number): void {
    for (let w = 0; w < concurrency; w++) this.workers.push(this.worker());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers);
  }

  /** Outcomes recorded since `mark` (an index into `outcomes`). */
  since(mark: number): Outcome[] {
    return this.outcomes.slice(mark);
  }

  private async worker(): Promise<void> {
    while (!this.stopped) {
      const p = `/files/load/${this.seq++}-${randomBytes(3).toString("hex")}.bin`;
      const content = randomBytes(1024 + Math.floor(Math.random() * 8192));
      const put = await this.send("PUT", p, content);
      if (put.status >= 200 && put.status < 300) this.uploaded.set(p, sha256(content));
      const known = this.readable();
      const target = known[Math.floor(Math.random() * known.length)];
      const get = await this.send("GET", target);
      if (get.status === 200 && get.digest !== this.expected(target)) {
        this.outcomes.push({ op: "GET", path: target, status: -1, retryAfter: null, detail: `digest mismatch ${get.digest}`, startedAt: Date.now() });
      }
      await sleep(20);
    }
  }

  expected(p: string): string | undefined {
    return this.uploaded.get(p) ?? this.seeded.get(p);
  }
  readonly seeded = new Map<string, string>();

  private async send(op: "PUT" | "GET", p: string, body?: Buffer): Promise<{ status: number; digest?: string }> {
    const startedAt = Date.now();
    try {
      const res = await fetch(this.base + p, {
        method: op,
        headers: { authorization: `Bearer ${this.token}`, ...(body ? { "content-type": "application/octet-stream" } : {}) },
        body: body ? new Uint8Array(body) : undefined,
      });
      const bytes = Buffer.from(await res.arrayBuffer());
      const detail = res.status >= 300 ? bytes.toString("utf8").slice(0, 200) : "";
      this.outcomes.push({ op, path: p, status: res.status, retryAfter: res.headers.get("retry-after"), detail, startedAt });
      return { status: res.status, digest: sha256(bytes) };
    } catch (err) {
      this.outcomes.push({ op, path: p, status: 0, retryAfter: null, detail: String(err), startedAt });
      return { status: 0 };
    }
  }
}

const summary = (outcomes: Outcome[]) => {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[`${o.op} ${o.status}`] = (counts[`${o.op} ${o.status}`] ?? 0) + 1;
  return JSON.stringify(counts);
};

describe("cluster: the operator's run of docs/cluster.md (3 nodes, nginx, Redis and PostgreSQL outages)", { skip: missing || false }, () => {
  const nodes: TestServer[] = [];
  let dropDb: (() => Promise<void>) | undefined;
  let dbProxy: TcpProxy;
  let redis: PrivateRedis;
  let s3: { run(): Promise<AddressInfo>; close(): Promise<void> } | undefined;
  let s3dir: string;
  let nginxDir: string;
  let nginx: ChildProcess | undefined;
  let lb: string; // nginx's base URL
  let token: string;
  let load: Load;

  before(async () => {
    const db = await createPostgresDatabase();
    dropDb = db.drop;
    const url = new URL(db.url);
    dbProxy = await TcpProxy.create(Number(url.port || 5432));
    url.host = `127.0.0.1:${dbProxy.port}`;
    redis = await PrivateRedis.create();
    for (let i = 0; i < 3; i++) {
      nodes.push(await startServer({ backend: "postgres", databaseUrl: url.toString(), redisUrl: redis.url, config: { trustedProxies: 1 } }));
    }

    s3dir = mkdtempSync(path.join(os.tmpdir(), "pantera-s3rver-"));
    const s3server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: s3dir, configureBuckets: [{ name: "pantera-artifacts" }] });
    s3 = s3server;
    const endpoint = `http://127.0.0.1:${(await s3server.run()).port}`;

    nginxDir = mkdtempSync(path.join(os.tmpdir(), "pantera-nginx-"));
    const listen = await freePort();
    const port = (u: string) => Number(new URL(u).port);
    const block = documentedNginxConfig(
      nodes.map((n) => port(n.repoUrl)),
      nodes.map((n) => port(n.apiUrl)),
      listen,
    );
    nginx = startNginx(
      nginxDir,
      `  log_format upstreams '$request_method $uri $status "$upstream_status"';\n  access_log ${nginxDir}/logs/access.log upstreams;\n${block}`,
    );
    lb = `http://127.0.0.1:${listen}`;
    await waitForHttp(`${lb}/.health`);

    // The doc's storage steps, through nginx: the S3 alias, then a file repository on it.
    token = nodes[0].adminToken;
    let res = await request("PUT", `${lb}/api/v1/storages/s3`, {
      token,
      body: {
        type: "s3",
        bucket: "pantera-artifacts",
        region: "us-east-1",
        endpoint,
        "path-style": true,
        credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      },
    });
    assert.ok(res.status < 300, res.text);
    res = await request("PUT", `${lb}/api/v1/repositories/files`, { token, body: { repo: { type: "file", storage: "s3" } } });
    assert.ok(res.status < 300, res.text);
  });

  after(async () => {
    await load?.stop();
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx!.once("exit", r));
      nginx.kill("SIGTERM");
      await exited;
    }
    if (dbProxy && !dbProxy.running) await dbProxy.start().catch(() => undefined); // nodes close cleanly on a live database
    for (const n of nodes) await n.close();
    await redis?.stop();
    await dbProxy?.close();
    await s3?.close();
    await dropDb?.();
    for (const d of [s3dir, nginxDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it("serves through nginx: a file PUT on one node is readable on every node, and every node is ready", async () => {
    for (const n of nodes) {
      const ready = await n.repo("GET", "/.ready");
      assert.equal(ready.status, 200, ready.text);
    }
    const content = "hello from the doc";
    const put = await request("PUT", `${lb}/files/hello.txt`, { token, raw: content, headers: { "content-type": "text/plain" } });
    assert.ok(put.status < 300, put.text);
    for (const n of nodes) {
      const got = await n.repo("GET", "/files/hello.txt", { token });
      assert.equal(got.status, 200, got.text);
      assert.equal(got.text, content);
    }
  });

  it("Redis killed under load: no request fails, a change on one node reaches the others by the change feed", async () => {
    // Seed files the load reads back; each is read on every node so its repository and the caller are cached.
    const seeded = new Map<string, string>();
    for (let i = 0; i < 6; i++) {
      const p = `/files/seed/${i}.bin`;
      const content = randomBytes(2048).toString("hex");
      const res = await request("PUT", `${lb}${p}`, { token, raw: content, headers: { "content-type": "application/octet-stream" } });
      assert.ok(res.status < 300, res.text);
      seeded.set(p, sha256(content));
      for (const n of nodes) assert.equal((await n.repo("GET", p, { token })).status, 200);
    }
    load = new Load(lb, token, () => [...seeded.keys()]);
    for (const [p, d] of seeded) load.seeded.set(p, d);
    load.start(4);
    await sleep(1_500);
    const mark = load.outcomes.length;

    // A repository every node has cached (cached repositories live 60 s), to be deleted while Redis is down.
    let res = await nodes[0].api("PUT", "/repositories/feed-check", { token, body: { repo: { type: "file", storage: "s3" } } });
    assert.ok(res.status < 300, res.text);
    res = await nodes[0].repo("PUT", "/feed-check/a.txt", { token, raw: "feed", headers: { "content-type": "text/plain" } });
    assert.ok(res.status < 300, res.text);
    for (const n of nodes) assert.equal((await n.repo("GET", "/feed-check/a.txt", { token })).text, "feed");

    await redis.stop();
    await sleep(1_000);
    // Moved on node 1 to the `default` storage (a directory of each node's own, without a.txt) with no Redis
    // to tell the others: only the change feed can drop nodes 2 and 3's cached entry, which still says s3.
    const changed = Date.now();
    res = await nodes[0].api("PUT", "/repositories/feed-check", { token, body: { repo: { type: "file", storage: "default" } } });
    assert.ok(res.status < 300, res.text);
    assert.equal((await nodes[0].repo("GET", "/feed-check/a.txt", { token })).status, 404, "node 1 reads its own default storage");
    for (const n of nodes.slice(1)) {
      const got = await until(
        () => n.repo("GET", "/feed-check/a.txt", { token }),
        (r) => r.status === 404,
        nodes[0].config.changePollMs + 3_000,
      );
      assert.equal(got.status, 404, got.text);
    }
    const converged = Date.now() - changed;
    await sleep(1_500);

    const during = load.since(mark);
    const failed = during.filter((o) => o.status < 200 || o.status >= 300);
    assert.deepEqual(failed, [], `requests failed while Redis was down: ${summary(during)}`);
    assert.ok(during.some((o) => o.op === "PUT") && during.some((o) => o.op === "GET"), summary(during));
    console.log(`# Redis down: ${summary(during)}; a repository moved to another storage on node 1 followed by nodes 2-3 after ${converged} ms (change feed)`);

    await redis.start();
    await sleep(1_000);
    // Back to propagation by pub/sub: the repository moved back to s3 on node 2 is followed by node 3 (which
    // cached it on `default`) well inside the poll interval.
    for (const n of nodes) assert.equal((await n.repo("GET", "/feed-check/a.txt", { token })).status, 404);
    const again = Date.now();
    res = await nodes[1].api("PUT", "/repositories/feed-check", { token, body: { repo: { type: "file", storage: "s3" } } });
    assert.ok(res.status < 300, res.text);
    const up = await until(
      () => nodes[2].repo("GET", "/feed-check/a.txt", { token }),
      (r: Response) => r.status === 200,
      3_000,
    );
    const propagated = Date.now() - again;
    assert.equal(up.status, 200, up.text);
    assert.ok(propagated < nodes[0].config.changePollMs / 2, `propagation with Redis back took ${propagated} ms`);
    console.log(`# Redis back: a repository moved on node 2 followed by node 3 after ${propagated} ms (pub/sub)`);
  });

  it("PostgreSQL cut under load: cached reads served, writes 503 + Retry-After, no 500, no node ready; recovery", async () => {
    await sleep(500);
    // The cut falls in the middle of uploads: one whose database connection is cut after its body was read
    // is answered 503 like the rest (not 400 "Request aborted by the client").
    const mark = load.outcomes.length;
    await dbProxy.stop();
    const cutAt = Date.now();

    // Readiness answers 503 + Retry-After on every node, liveness 200.
    for (const n of nodes) {
      const ready = await until(
        () => n.repo("GET", "/.ready"),
        (r) => r.status === 503,
        5_000,
      );
      assert.equal(ready.status, 503, ready.text);
      assert.ok(Number(ready.headers.get("retry-after")) >= 1, ready.text);
      assert.match(ready.body.checks.database, /^down: /);
      assert.equal((await n.repo("GET", "/.health")).status, 200);
    }
    await sleep(Math.max(0, 6_000 - (Date.now() - cutAt))); // past the caller cache's 5 s age
    const during = load.since(mark);
    const puts = during.filter((o) => o.op === "PUT");
    const gets = during.filter((o) => o.op === "GET");
    console.log(`# PostgreSQL cut: ${summary(during)}`);
    // Nothing answers 500 (or breaks the connection).
    assert.deepEqual(
      during.filter((o) => o.status >= 500 && o.status !== 502 && o.status !== 503),
      [],
    );
    assert.deepEqual(
      during.filter((o) => o.status <= 0),
      [],
    );
    // Reads of data every node had served keep working: the documented behaviour.
    assert.ok(gets.length > 0);
    assert.deepEqual(
      gets.filter((o) => o.status !== 200),
      [],
      `cached reads: ${summary(gets)}`,
    );
    // Writes: 503 + Retry-After in the documented body, from the last node nginx tried.
    assert.ok(puts.length > 0);
    // An upload in flight at the cut may have committed just before it (its file is checked with the rest below).
    const written = puts.filter((o) => o.status < 300 && o.startedAt >= cutAt);
    assert.deepEqual(written, [], `no upload sent after the cut succeeds: ${summary(puts)}`);
    assert.deepEqual(
      puts.filter((o) => o.status >= 300 && o.status !== 503),
      [],
      `writes: ${summary(puts)}`,
    );
    for (const o of puts.filter((o) => o.status === 503)) {
      assert.ok(Number(o.retryAfter) >= 1, `503 without Retry-After: ${JSON.stringify(o)}`);
      assert.match(o.detail, /UNAVAILABLE/);
    }
    const directWrite = await nodes[1].repo("PUT", "/files/direct.txt", { token, raw: "x", headers: { "content-type": "text/plain" } });
    assert.equal(directWrite.status, 503, directWrite.text);
    assert.equal(directWrite.body.error, "UNAVAILABLE");
    assert.ok(Number(directWrite.headers.get("retry-after")) >= 1);
    // nginx passed each write 503 on only after all three nodes answered 503 (proxy_next_upstream http_503,
    // proxy_next_upstream_tries 3), and no node was rested (max_fails=0): no 502 of nginx's own above.
    const access = readFileSync(path.join(nginxDir, "logs/access.log"), "utf8").split("\n");
    const put503 = access.filter((l) => /^PUT \/files\/load\/\S+ 503 /.test(l));
    assert.ok(put503.length > 0, "nginx logged the write 503s");
    for (const l of put503) assert.match(l, /"503, 503, 503"$/, `a write 503 not tried on every node: ${l}`);
    console.log(`# nginx while cut: ${put503.length} write 503s, each after trying all 3 nodes ("503, 503, 503")`);

    // Restore: readiness back on every node, and uploads through nginx succeed again, within seconds.
    const restoredMark = load.outcomes.length;
    await dbProxy.start();
    const restoredAt = Date.now();
    for (const n of nodes) {
      const ready = await until(
        () => n.repo("GET", "/.ready"),
        (r) => r.status === 200,
        5_000,
      );
      assert.equal(ready.status, 200, ready.text);
    }
    const recovered = await until(
      async () => load.since(restoredMark).some((o) => o.op === "PUT" && o.status < 300 && o.status >= 200),
      (v) => v,
      10_000,
    );
    assert.ok(recovered, `no upload succeeded after the restore: ${summary(load.since(restoredMark))}`);
    const recoveredMs = Date.now() - restoredAt;
    // No node is resting (max_fails=0): from here on every answer is good again.
    const steady = load.outcomes.length;
    await sleep(1_500);
    const after = load.since(steady);
    assert.deepEqual(
      after.filter((o) => o.status < 200 || o.status >= 300),
      [],
      `after recovery: ${summary(after)}`,
    );
    const replaced = readFileSync(path.join(nginxDir, "logs/access.log"), "utf8")
      .split("\n")
      .filter((l) => /^PUT \/files\/load\/\S+ 200 /.test(l));
    if (replaced.length) console.log(`# uploads of new paths answered 200 (already stored): ${replaced.join(" | ")}`);
    console.log(`# restored: every node ready and uploads through nginx within ${recoveredMs} ms; then ${summary(after)}`);
  });

  it("loses and corrupts no uploaded file", async () => {
    await load.stop();
    const all = [...load.seeded, ...load.uploaded];
    assert.ok(all.length > 20, `uploaded ${all.length}`);
    const bad: string[] = [];
    for (const [p, digest] of all) {
      for (const n of nodes) {
        const res = await fetch(n.repoUrl + p, { headers: { authorization: `Bearer ${token}` } });
        const body = Buffer.from(await res.arrayBuffer());
        if (res.status !== 200 || sha256(body) !== digest) bad.push(`${p} on ${n.repoUrl}: ${res.status}`);
      }
    }
    assert.deepEqual(bad, []);
    console.log(`# ${all.length} files read back with their digest on all 3 nodes`);
  });
});
