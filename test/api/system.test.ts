import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { backends, request, startServer, type TestServer } from "../helpers/server.js";

for (const backend of backends()) {
  describe(`health, version, metrics, CORS [${backend}]`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer({ backend });
    });
    after(() => s.close());

    it("GET /.health on the repository port answers ok", async () => {
      const res = await s.repo("GET", "/.health");
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { status: "ok" });
    });

    it("GET /.version answers a list with the version; other methods are refused", async () => {
      const res = await s.repo("GET", "/.version");
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, [{ version: s.config.version }]);
      const post = await s.repo("POST", "/.version");
      assert.equal(post.status, 405);
    });

    it("GET /api/v1/health needs no credentials", async () => {
      const res = await s.api("GET", "/health");
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { status: "ok" });
    });

    it("answers CORS preflight and sets Allow-Origin on /api/v1", async () => {
      const pre = await s.api("OPTIONS", "/users", { headers: { origin: "http://ui.example", "access-control-request-method": "GET" } });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get("access-control-allow-origin"), "*");
      const res = await s.api("GET", "/users");
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
    });

    it("unknown /api/v1 routes give a documented 404", async () => {
      const res = await s.api("GET", "/no/such/thing", { token: s.adminToken });
      assert.equal(res.status, 404);
      assert.equal(res.body.error, "NOT_FOUND");
      assert.equal(res.body.status, 404);
    });

    it("exposes Prometheus metrics with per-route counters and latency histograms", async () => {
      await s.api("GET", "/users", { token: s.adminToken });
      const res = await request("GET", `${s.metricsUrl}/metrics/vertx`);
      assert.equal(res.status, 200);
      assert.match(res.text, /http_server_requests_total\{app="api",method="GET",route="\/api\/v1\/users",status="200"\} \d+/);
      assert.match(
        res.text,
        /http_server_request_duration_seconds_bucket\{le="[^"]+",app="repository"|http_server_request_duration_seconds_bucket\{.*app="api"/,
      );
      assert.match(res.text, /pantera_process_cpu_user_seconds_total/);
    });

    it("serves the GraphiQL explorer and answers GraphQL queries", async () => {
      const page = await request("GET", `${s.apiUrl}/graphql`, { headers: { accept: "text/html" } });
      assert.equal(page.status, 200);
      assert.match(page.text, /GraphiQL|graphiql/);
      const res = await s.graphql("{ health version me { name } }", {}, s.adminToken);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.data, { health: "ok", version: s.config.version, me: { name: "admin" } });
    });

    it("GraphQL reports domain errors with an extensions.code", async () => {
      const res = await s.graphql("{ users { total } }");
      assert.equal(res.body.errors[0].extensions.code, "UNAUTHORIZED");
    });
  });
}
