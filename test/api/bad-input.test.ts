// Bad input never gets a 500: a sweep of malformed paths, parameters and bodies over every
// documented /api/v1 route and over the package formats on the repository port. Management
// errors must have the documented {error, message, status} body (GET /search without q has its
// own documented {code, message}); only proxies may answer 502/504, when their upstream is down.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, startServer, type TestServer } from "../helpers/server.js";

const ROUTES = `DELETE /auth/tokens/:id
DELETE /repositories/:name
DELETE /repositories/:name/artifacts
DELETE /repositories/:name/packages
DELETE /repositories/:name/storages/:alias
DELETE /roles/:name
DELETE /storages/:name
DELETE /users/:name
GET /auth/providers/:name/redirect
GET /cooldown/blocked
GET /repositories
GET /repositories/:name
GET /repositories/:name/artifact
GET /repositories/:name/artifact/download
GET /repositories/:name/artifact/download-direct
GET /repositories/:name/artifact/pull
GET /repositories/:name/members
GET /repositories/:name/storages
GET /repositories/:name/tree
GET /roles/:name
GET /search
GET /search/locate
GET /users
GET /users/:name
POST /admin/revoke-user/:name
POST /auth/callback
POST /auth/refresh
POST /auth/token
POST /auth/token/generate
POST /repositories/:name/artifact/download-token
POST /repositories/:name/cooldown/unblock
POST /users/:name/password
PUT /admin/auth-settings
PUT /auth-providers/:id/config
PUT /auth-providers/:id/toggle
PUT /cooldown/config
PUT /repositories/:name
PUT /repositories/:name/move
PUT /repositories/:name/storages/:alias
PUT /roles/:name
PUT /settings/:section
PUT /settings/prefixes
PUT /storages/:name
PUT /users/:name`
  .split("\n")
  .map((l) => l.split(" ") as [string, string]);

const NAMES = ["no-such", "%ZZ", "a%2Fb", "..", "x".repeat(300), "99999999999999999999", "bad%00name"];
// Queries go with GET routes, bodies with the others.
const QUERIES = [
  "",
  "?page=-1&size=abc&path=../../etc",
  "?page=1e99&size=0&path=%00",
  "?q=(((",
  "?q=name:",
  "?token=" + "a".repeat(300),
  "?marker=zz&limit=-3",
];
/** JSON nested `n` levels deep inside the fields configs are read from (deep enough to overflow a recursive walk). */
const deepJson = (n: number) =>
  `{"repo":{"type":"file","storage":"default","x":${"[".repeat(n)}${"]".repeat(n)}},"type":"fs","path":"p","permissions":${"[".repeat(n)}${"]".repeat(n)}}`;
const BODIES = [
  undefined,
  "{",
  "null",
  "[]",
  '"s"',
  '{"path":1,"name":[],"pass":{},"permissions":"x","new_name":"","expiry_days":-1}',
  '{"path":"../x","repo":{"type":1},"enabled":"yes","minimum_allowed_age":5,"prefixes":[1],"repo_types":[]}',
  deepJson(20_000),
  `{"path":"${"x".repeat(300)}"}`,
  '{"path":"a\\u0000b","pass":"p\\u0000","repo":{"type":"file","storage":"default","x":"\\u0000"},"permissions":{"r\\u0000":["read"]}}',
];

describe("bad input gets a 4xx in the documented format, never a 500", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
    const admin = await s.services.auth.authenticateToken(s.adminToken);
    for (const [name, type] of [
      ["m", "maven"],
      ["n", "npm"],
      ["p", "pypi"],
      ["f", "file"],
    ] as const) {
      await s.services.repositories.put(admin, name, { type, storage: "default" });
      // Upstream on a port nothing listens on: proxies may say 502, nothing else may fail.
      await s.services.repositories.put(admin, name + "x", { type: `${type}-proxy`, storage: "default", remotes: [{ url: "http://127.0.0.1:9/" }] });
      await s.services.repositories.put(admin, name + "g", { type: `${type}-group`, storage: "default", members: [name, name + "x"] });
    }
  });
  after(() => s?.close());

  it("management API (/api/v1)", async () => {
    const problems: string[] = [];
    for (const [method, route] of ROUTES) {
      for (const name of NAMES) {
        const path = route.replace(/:[a-z]+/g, name);
        for (const q of method === "GET" ? QUERIES : [""]) {
          for (const body of method === "GET" ? [undefined] : BODIES) {
            const res = await fetch(`${s.apiUrl}/api/v1${path}${q}`, {
              method,
              headers: { authorization: `Bearer ${s.adminToken}`, "content-type": "application/json" },
              body,
            });
            const text = await res.text();
            const where = `${method} ${path.slice(0, 60)}${q.slice(0, 40)} ${body ?? ""}`;
            if (res.status >= 500 && res.status !== 503) problems.push(`${res.status} ${where}: ${text.slice(0, 120)}`);
            else if (res.status >= 400) {
              let doc: Record<string, unknown> | null = null;
              try {
                doc = JSON.parse(text);
              } catch {
                /* reported below */
              }
              const general = typeof doc?.error === "string" && typeof doc?.message === "string" && doc?.status === res.status;
              const missingQ = route === "/search" && doc?.code === 400 && doc?.message === "Missing 'q' parameter";
              const documented = general || missingQ;
              if (!documented) problems.push(`body of ${res.status} ${where}: ${text.slice(0, 120)}`);
            }
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it("package formats on the repository port (hosted, proxy with its upstream down, group)", async () => {
    const basic = "Basic " + Buffer.from(`admin:${ADMIN_PASSWORD}`).toString("base64");
    const paths = [
      "/",
      "/%ZZ",
      "/../etc/passwd",
      "/-/v1/search?text=%25&size=abc&from=-5",
      "/-/v1/search?text=a%00b&size=2.5",
      "/-/user/org.couchdb.user:x",
      "/@scope%2fpkg",
      "/pkg/-/pkg-1.0.0.tgz",
      "/pkg/-rev/1",
      "/-/package/%40x/dist-tags/latest",
      "/simple/Foo_Bar/",
      "/com/x/1.0/x-1.0.jar.sha1",
      "/" + "x".repeat(300),
      "/com/x/1.0/" + "é".repeat(200) + ".jar",
      "/" + Array.from({ length: 12 }, () => "d".repeat(100)).join("/"),
    ];
    const bodies = [
      undefined,
      "{",
      Buffer.from([0xff, 0xfe, 0x00]),
      '{"name":"x","versions":{"1.0.0":{}},"_attachments":{"x-1.0.0.tgz":{"data":"!!"}}}',
      '{"versions":null}',
      "a".repeat(70_000),
      `{"name":"x","versions":{"1.0.0":{"name":"x","version":"1.0.0","x":${"[".repeat(20_000)}${"]".repeat(20_000)}}},"_attachments":{"x-1.0.0.tgz":{"data":"AAAA"}}}`,
    ];
    const types = ["application/json", "multipart/form-data; boundary=xx"];
    const problems: string[] = [];
    for (const repo of ["m", "n", "p", "f", "mx", "nx", "px", "fx", "mg", "ng", "pg", "fg"]) {
      for (const p of paths) {
        for (const method of ["GET", "HEAD", "PUT", "POST", "DELETE"]) {
          for (const body of method === "GET" || method === "HEAD" ? [undefined] : bodies) {
            for (const type of body === undefined ? types.slice(0, 1) : types) {
              const res = await fetch(`${s.repoUrl}/${repo}${p}`, { method, headers: { authorization: basic, "content-type": type }, body });
              const text = await res.text();
              const upstreamDown = repo.endsWith("x") || repo.endsWith("g") ? [502, 504].includes(res.status) : false;
              if (res.status >= 500 && !upstreamDown) problems.push(`${res.status} ${method} /${repo}${p} ${type}: ${text.slice(0, 120)}`);
            }
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });
});
