// Per-repository read on the management API, and secrets in repository and storage configs.
// Every artifact endpoint (section 8) and every single-repository read (section 4) is run, over
// REST and GraphQL, for a table of callers: a repository the caller may not read answers exactly
// as a missing one (404, so names cannot be probed); deletes need the repository's own delete
// grant, as on the repository port. Proxy passwords and storage secrets come back masked, and a
// masked value sent back in a PUT keeps the stored secret.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { ADMIN_PASSWORD, backends, expectError, listenLocal, userWithPermissions, startServer, type Response, type TestServer } from "../helpers/server.js";

const REPO = "acc-files";
const OTHER = "acc-other";
const MISSING_BODY = { error: "NOT_FOUND", message: `Repository '${REPO}' not found`, status: 404 };
const basic: [string, string] = ["admin", ADMIN_PASSWORD];

type Outcome = "ok" | 403 | 404;
type Surface = "rest" | "graphql";

interface Caller {
  name: string;
  /** Repository grants on top of the API grant; null means the admin. */
  grants: Record<string, string[]> | null;
  read: Outcome;
  delete: Outcome;
}

// Every caller but the admin holds api_repository_permissions read and delete: only the repository grant varies.
const CALLERS: Caller[] = [
  { name: "no-grant", grants: {}, read: 404, delete: 404 },
  { name: "grant-on-repo", grants: { [REPO]: ["read", "delete"] }, read: "ok", delete: "ok" },
  { name: "grant-on-other", grants: { [OTHER]: ["read", "delete"] }, read: 404, delete: 404 },
  { name: "grant-on-star", grants: { "*": ["read", "delete"] }, read: "ok", delete: "ok" },
  { name: "admin", grants: null, read: "ok", delete: "ok" },
  // Visible but not deletable: the delete is refused as forbidden, like on the repository port.
  { name: "read-only-grant", grants: { [REPO]: ["read"] }, read: "ok", delete: 403 },
  // The repository port lets a delete grant delete without read; the management API agrees.
  { name: "delete-only-grant", grants: { [REPO]: ["delete"] }, read: 404, delete: "ok" },
];

interface ArtifactOp {
  name: string;
  action: "read" | "delete";
  /** Stores what the call works on and returns the path to pass (deletes need a fresh file per call). */
  prepare(s: TestServer, tag: string): Promise<string>;
  rest(s: TestServer, token: string, path: string): Promise<Response>;
  gql: string;
  /** A check on a file the refused call must have left in place. */
  stillThere?(s: TestServer, path: string): Promise<boolean>;
}

const q = (p: string) => encodeURIComponent(p);
const readPath = async () => "docs/readme.txt";
const put = async (s: TestServer, path: string) => {
  const res = await s.repo("PUT", `/${REPO}/${path}`, { raw: "to delete", basic });
  assert.equal(res.status, 201, `${path}: ${res.text}`);
};
const stored = async (s: TestServer, key: string) => !!(await (await s.services.storages.forRepository((await s.services.repositories.find(REPO))!)).stat(key));

const ARTIFACT_OPS: ArtifactOp[] = [
  {
    name: "tree",
    action: "read",
    prepare: async () => "docs",
    rest: (s, token, path) => s.api("GET", `/repositories/${REPO}/tree?path=${q(path)}`, { token }),
    gql: `query($n: String!, $p: String!) { repositoryTree(name: $n, path: $p) { items { name } } }`,
  },
  {
    name: "artifact",
    action: "read",
    prepare: readPath,
    rest: (s, token, path) => s.api("GET", `/repositories/${REPO}/artifact?path=${q(path)}`, { token }),
    gql: `query($n: String!, $p: String!) { artifact(name: $n, path: $p) { path } }`,
  },
  {
    name: "pull",
    action: "read",
    prepare: readPath,
    rest: (s, token, path) => s.api("GET", `/repositories/${REPO}/artifact/pull?path=${q(path)}`, { token }),
    gql: `query($n: String!, $p: String!) { artifactPull(name: $n, path: $p) { type } }`,
  },
  {
    name: "download",
    action: "read",
    prepare: readPath,
    rest: (s, token, path) => s.api("GET", `/repositories/${REPO}/artifact/download?path=${q(path)}`, { token }),
    gql: `query($n: String!, $p: String!) { artifactDownload(name: $n, path: $p) { path } }`,
  },
  {
    name: "download-token",
    action: "read",
    prepare: readPath,
    rest: (s, token, path) => s.api("POST", `/repositories/${REPO}/artifact/download-token?path=${q(path)}`, { token }),
    gql: `mutation($n: String!, $p: String!) { artifactDownloadToken(name: $n, path: $p) }`,
  },
  {
    name: "delete artifact",
    action: "delete",
    prepare: async (s, tag) => {
      await put(s, `del/${tag}.txt`);
      return `del/${tag}.txt`;
    },
    rest: (s, token, path) => s.api("DELETE", `/repositories/${REPO}/artifacts`, { token, body: { path } }),
    gql: `mutation($n: String!, $p: String!) { deleteArtifact(name: $n, path: $p) }`,
    stillThere: stored,
  },
  {
    name: "delete package",
    action: "delete",
    prepare: async (s, tag) => {
      await put(s, `pkg/${tag}/file.txt`);
      return `pkg/${tag}`;
    },
    rest: (s, token, path) => s.api("DELETE", `/repositories/${REPO}/packages`, { token, body: { path } }),
    gql: `mutation($n: String!, $p: String!) { deletePackage(name: $n, path: $p) }`,
    stillThere: (s, path) => stored(s, `${path}/file.txt`),
  },
];

/** The outcome of one call on either surface: "ok", or the error status. */
function outcomeOf(surface: Surface, res: Response, field?: string): "ok" | number {
  if (surface === "rest") {
    if (res.status < 300) return "ok";
    expectError(res, res.status, res.body?.error);
    return res.status;
  }
  const err = res.body?.errors?.[0];
  if (!err) {
    assert.notEqual(res.body?.data?.[field!], null, `${field}: ${res.text}`);
    return "ok";
  }
  return err.extensions.status;
}

for (const backend of backends()) {
  describe(`per-repository read on single repositories and artifact endpoints [${backend}]`, () => {
    let s: TestServer;
    const tokens = new Map<string, string>();

    before(async () => {
      s = await startServer({ backend });
      for (const name of [REPO, OTHER]) {
        const res = await s.api("PUT", `/repositories/${name}`, { token: s.adminToken, body: { repo: { type: "file", storage: "default" } } });
        assert.equal(res.status, 200, res.text);
      }
      assert.equal((await s.repo("PUT", `/${REPO}/docs/readme.txt`, { raw: "hello", basic })).status, 201);
      for (const c of CALLERS) {
        const perms = { api_repository_permissions: ["read", "delete"], ...c.grants };
        tokens.set(c.name, c.grants === null ? s.adminToken : await userWithPermissions(s, c.name, perms));
      }
    });
    after(() => s.close());

    for (const op of ARTIFACT_OPS) {
      for (const surface of ["rest", "graphql"] as Surface[]) {
        it(`${op.name} over ${surface}: refused unless the caller may ${op.action} the repository`, async () => {
          for (const c of CALLERS) {
            const want = c[op.action];
            const path = await op.prepare(s, `${surface}-${c.name}`);
            const token = tokens.get(c.name)!;
            const res = surface === "rest" ? await op.rest(s, token, path) : await s.graphql(op.gql, { n: REPO, p: path }, token);
            const field = op.gql.match(/\{\s*(\w+)\(/)![1];
            assert.equal(outcomeOf(surface, res, field), want, `${c.name}: ${res.status} ${res.text}`);
            if (want === 404 && surface === "rest") assert.deepEqual(res.body, MISSING_BODY, `${c.name}: same answer as a missing repository`);
            if (want !== "ok" && op.stillThere) assert.equal(await op.stillThere(s, path), true, `${c.name}: refused delete left the file`);
            if (want === "ok" && op.stillThere) assert.equal(await op.stillThere(s, path), false, `${c.name}: allowed delete removed it`);
          }
        });
      }
    }

    it("download-token and download stream the bytes to a caller with a grant", async () => {
      const token = tokens.get("grant-on-repo")!;
      const dl = await s.api("GET", `/repositories/${REPO}/artifact/download?path=docs/readme.txt`, { token });
      assert.equal(dl.text, "hello");
      const tok = await s.api("POST", `/repositories/${REPO}/artifact/download-token?path=docs/readme.txt`, { token });
      const direct = await s.api("GET", `/repositories/${REPO}/artifact/download-direct?token=${q(tok.body.token)}`);
      assert.equal(direct.text, "hello");
    });

    // Single-repository reads need only the API read and the repository's read grant.
    // `refusedGql`: what GraphQL answers instead of an error (existence is false, as for a missing repository).
    const REPO_READS: { method: string; path: string; gql: string; refusedGql?: unknown }[] = [
      { method: "GET", path: `/repositories/${REPO}`, gql: `query($n: String!) { repository(name: $n) { name } }` },
      { method: "HEAD", path: `/repositories/${REPO}`, gql: `query($n: String!) { repositoryExists(name: $n) }`, refusedGql: false },
      { method: "GET", path: `/repositories/${REPO}/members`, gql: `query($n: String!) { repositoryMembers(name: $n) { type } }` },
    ];
    for (const op of REPO_READS) {
      it(`${op.method} ${op.path} (REST and GraphQL): a repository the caller may not read is not found`, async () => {
        for (const c of CALLERS) {
          const token = tokens.get(c.name)!;
          const rest = await s.api(op.method, op.path, { token });
          const gql = await s.graphql(op.gql, { n: REPO }, token);
          const field = op.gql.match(/\{\s*(\w+)\(/)![1];
          if (c.read === "ok") {
            assert.equal(rest.status, 200, `${c.name}: ${rest.text}`);
            assert.equal(gql.body.errors, undefined, `${c.name}: ${gql.text}`);
            assert.notEqual(gql.body.data[field], op.refusedGql ?? null, `${c.name}: ${gql.text}`);
          } else if (op.refusedGql !== undefined) {
            // HEAD has no body; existence answers false, as for a missing repository.
            assert.equal(rest.status, 404, c.name);
            assert.equal(rest.text, "");
            assert.deepEqual(gql.body.data, { [field]: false }, c.name);
          } else {
            assert.deepEqual(rest.body, MISSING_BODY, `${c.name}: ${rest.text}`);
            assert.equal(gql.body.errors?.[0]?.extensions?.code, "NOT_FOUND", `${c.name}: ${gql.text}`);
            assert.equal(gql.body.errors[0].message, MISSING_BODY.message);
          }
        }
      });
    }
    it("Indy store reads and scoped storage aliases: a repository the caller may not read is not found", async () => {
      const token = s.adminToken;
      assert.equal((await s.api("PUT", "/repositories/acc-maven", { token, body: { repo: { type: "maven", storage: "default" } } })).status, 200);
      assert.equal((await s.api("PUT", "/repositories/acc-maven/storages/acc-fs", { token, body: { type: "fs", path: "/tmp/acc-fs" } })).status, 200);
      const perms = { api_repository_permissions: ["read"], api_alias_permissions: ["read", "create", "delete"] };
      await userWithPermissions(s, "indy-none", perms, "pw-indy-none");
      await userWithPermissions(s, "indy-granted", { ...perms, "acc-maven": ["read"] }, "pw-indy-granted");
      const cases: [string, [string, string], boolean][] = [
        ["no grant", ["indy-none", "pw-indy-none"], false],
        ["grant", ["indy-granted", "pw-indy-granted"], true],
      ];
      for (const [label, creds, visible] of cases) {
        const get = await s.repo("GET", "/api/admin/hosted/acc-maven", { basic: creds });
        const head = await s.repo("HEAD", "/api/admin/hosted/acc-maven", { basic: creds });
        assert.equal(get.status, visible ? 200 : 404, `${label}: ${get.text}`);
        assert.equal(head.status, visible ? 200 : 404, label);
        const bearer = await s.login(creds[0], creds[1]);
        const missing = { error: "NOT_FOUND", message: "Repository 'acc-maven' not found", status: 404 };
        const list = await s.api("GET", "/repositories/acc-maven/storages", { token: bearer });
        const putAlias = await s.api("PUT", "/repositories/acc-maven/storages/acc-two", { token: bearer, body: { type: "fs", path: "/tmp/acc-two" } });
        const delAlias = await s.api("DELETE", "/repositories/acc-maven/storages/acc-fs", { token: bearer });
        if (visible) {
          assert.equal(list.status, 200, list.text);
          assert.deepEqual(
            list.body.map((a: { name: string }) => a.name),
            ["acc-fs"],
          );
        } else {
          for (const res of [list, putAlias, delAlias]) assert.deepEqual(res.body, missing, `${label}: ${res.text}`);
          const row = await s.services.db.prisma.storageAlias.findUnique({ where: { repository_name: { repository: "acc-maven", name: "acc-fs" } } });
          assert.ok(row, "a refused delete left the alias");
        }
      }
    });
  });

  describe(`secrets in repository and storage configs are masked and survive a round trip [${backend}]`, () => {
    let s: TestServer;
    let upstream: Awaited<ReturnType<typeof listenLocal>>;
    let expected = "s3cret-pass";
    const seen: string[] = [];
    const row = async (name: string) => (await s.services.db.prisma.repository.findUnique({ where: { name } }))!.config as any;
    const alias = async (repository: string, name: string) =>
      (await s.services.db.prisma.storageAlias.findUnique({ where: { repository_name: { repository, name } } }))!.config as any;
    const fetched = async (file: string) => (await s.repo("GET", `/acc-proxy/${file}`, { basic })).status;

    before(async () => {
      s = await startServer({ backend });
      // An upstream that serves files only to the expected password.
      upstream = await listenLocal(
        http.createServer((req, res) => {
          const auth = req.headers.authorization ?? "";
          seen.push(auth);
          if (auth !== "Basic " + Buffer.from(`remote-user:${expected}`).toString("base64")) {
            res.writeHead(401, { "www-authenticate": 'Basic realm="up"' });
            return res.end();
          }
          res.end(`upstream ${req.url}`);
        }),
      );
      const res = await s.api("PUT", "/repositories/acc-proxy", {
        token: s.adminToken,
        body: {
          repo: { type: "file-proxy", storage: "default", remotes: [{ url: upstream.url + "/files", username: "remote-user", password: "s3cret-pass" }] },
        },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(await fetched("zero.txt"), 200);
    });
    after(async () => {
      await s.close();
      await upstream.close();
    });

    it("GET and GraphQL show the proxy password masked, to every reader", async () => {
      const reader = await userWithPermissions(s, "proxy-reader", { api_repository_permissions: ["read"], "acc-proxy": ["read"] });
      for (const token of [s.adminToken, reader]) {
        const rest = await s.api("GET", "/repositories/acc-proxy", { token });
        assert.equal(rest.status, 200);
        assert.deepEqual(rest.body.repo.remotes, [{ url: upstream.url + "/files", username: "remote-user", password: "s3***ss" }]);
        const gql = await s.graphql(`{ repository(name: "acc-proxy") { config remotes } }`, {}, token);
        assert.equal(gql.body.data.repository.config.remotes[0].password, "s3***ss");
        assert.equal(gql.body.data.repository.remotes[0].password, "s3***ss");
        assert.doesNotMatch(rest.text + gql.text, /s3cret-pass/);
      }
    });

    it("a PUT of the masked config keeps the password; a new one replaces it", async () => {
      // What a GET shows (the masked literal, not the GET's answer: before masking that held the password).
      const masked = { type: "file-proxy", storage: "default", remotes: [{ url: upstream.url + "/files", username: "remote-user", password: "s3***ss" }] };
      let res = await s.api("PUT", "/repositories/acc-proxy", { token: s.adminToken, body: { repo: masked } });
      assert.equal(res.status, 200, res.text);
      assert.equal((await row("acc-proxy")).remotes[0].password, "s3cret-pass");
      assert.equal(await fetched("one.txt"), 200, "the proxy still authenticates upstream");

      // GraphQL takes the same path.
      const gql = await s.graphql(`mutation($r: JSON!) { putRepository(name: "acc-proxy", repo: $r) { created } }`, { r: masked }, s.adminToken);
      assert.deepEqual(gql.body.data, { putRepository: { created: false } });
      assert.equal((await row("acc-proxy")).remotes[0].password, "s3cret-pass");

      const remote = { url: upstream.url + "/files", username: "remote-user", password: "n3w-pass" };
      res = await s.api("PUT", "/repositories/acc-proxy", { token: s.adminToken, body: { repo: { ...masked, remotes: [remote] } } });
      assert.equal(res.status, 200, res.text);
      assert.equal((await row("acc-proxy")).remotes[0].password, "n3w-pass");
      expected = "n3w-pass";
      assert.equal(await fetched("two.txt"), 200);
      assert.equal(seen.at(-1), "Basic " + Buffer.from("remote-user:n3w-pass").toString("base64"));
    });

    it("masked passwords follow their remote's url, and never move to another url", async () => {
      const a = { url: upstream.url + "/a", username: "ua", password: "password-a" };
      const b = { url: upstream.url + "/b", username: "ub", password: "password-b" };
      assert.equal(
        (await s.api("PUT", "/repositories/acc-two", { token: s.adminToken, body: { repo: { type: "file-proxy", storage: "default", remotes: [a, b] } } }))
          .status,
        200,
      );
      const got = await s.api("GET", "/repositories/acc-two", { token: s.adminToken });
      const [ma, mb] = got.body.repo.remotes;
      assert.deepEqual([ma.password, mb.password], ["pa***-a", "pa***-b"]);
      // Reordered: each masked value is matched by url.
      let res = await s.api("PUT", "/repositories/acc-two", { token: s.adminToken, body: { repo: { ...got.body.repo, remotes: [mb, ma] } } });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(
        (await row("acc-two")).remotes.map((r: any) => [r.url, r.password]),
        [
          [b.url, "password-b"],
          [a.url, "password-a"],
        ],
      );
      // The masked secret sent with another url would hand it to that host: refused, nothing saved.
      res = await s.api("PUT", "/repositories/acc-two", {
        token: s.adminToken,
        body: { repo: { ...got.body.repo, remotes: [{ ...ma, url: "http://evil.example/" }] } },
      });
      expectError(res, 400, "BAD_REQUEST");
      assert.match(res.body.message, /repo\.remotes\[0\]\.password/);
      assert.equal((await row("acc-two")).remotes.length, 2);
      // A new repository has nothing to restore from.
      expectError(
        await s.api("PUT", "/repositories/acc-three", { token: s.adminToken, body: { repo: { type: "file-proxy", storage: "default", remotes: [ma] } } }),
        400,
        "BAD_REQUEST",
      );
    });

    it("storage aliases (global and scoped): a masked secret sent back keeps the stored one", async () => {
      const cfg = {
        type: "s3",
        bucket: "acc-bucket",
        region: "eu-west-1",
        credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI-K7MDENG" },
      };
      const cases = [
        { repository: "", base: "/storages", list: "/storages" },
        { repository: "acc-proxy", base: "/repositories/acc-proxy/storages", list: "/repositories/acc-proxy/storages" },
      ];
      for (const c of cases) {
        assert.equal((await s.api("PUT", `${c.base}/acc-s3`, { token: s.adminToken, body: cfg })).status, 200);
        const listed = await s.api("GET", c.list, { token: s.adminToken });
        const masked = listed.body.find((x: { name: string }) => x.name === "acc-s3").config;
        assert.deepEqual(masked.credentials, { accessKeyId: "AK***LE", secretAccessKey: "wJ***NG" });
        let res = await s.api("PUT", `${c.base}/acc-s3`, { token: s.adminToken, body: { ...masked, region: "us-east-1" } });
        assert.equal(res.status, 200, res.text);
        let saved = await alias(c.repository, "acc-s3");
        assert.deepEqual(saved.credentials, cfg.credentials, c.base);
        assert.equal(saved.region, "us-east-1");
        res = await s.api("PUT", `${c.base}/acc-s3`, {
          token: s.adminToken,
          body: { ...masked, credentials: { ...masked.credentials, secretAccessKey: "rotated-secret" } },
        });
        assert.equal(res.status, 200, res.text);
        saved = await alias(c.repository, "acc-s3");
        assert.deepEqual(saved.credentials, { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "rotated-secret" }, c.base);
        // A masked value for an alias that has none stored is refused rather than saved as the secret.
        expectError(await s.api("PUT", `${c.base}/acc-s3-new`, { token: s.adminToken, body: masked }), 400, "BAD_REQUEST");
      }
    });
  });
}
