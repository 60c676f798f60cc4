// Repository types come from the registered format plugins: the types PUT /repositories (REST,
// GraphQL, Indy) accepts, GET /repository-types, the dashboard; each format's config schema
// validates the `repo` JSON, and its typed GraphQL config types round-trip.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { backends, expectError, startServer, type TestServer } from "../helpers/server.js";
import { IndyService } from "../../src/indy/service.js";
import { RepositoryService } from "../../src/repositories/service.js";
import type { RepositoryTypes } from "../../src/repositories/types.js";
import { formatConfigs } from "../../src/formats/plugins.js";

const BUILT = ["maven", "gradle", "npm", "pypi", "docker", "file"];
const UNBUILT = ["helm", "go-proxy", "conda-group", "gem", "php-proxy", "nuget", "deb", "rpm-group", "cobol"];

for (const backend of backends()) {
  describe(`repository types from the format registry [${backend}]`, () => {
    let s: TestServer;
    let admin: string;
    let supported: string[];
    const put = (name: string, repo: unknown) => s.api("PUT", `/repositories/${name}`, { token: admin, body: { repo } });
    const gql = (query: string, variables?: Record<string, unknown>) => s.graphql(query, variables, admin);

    before(async () => {
      s = await startServer({ backend });
      admin = s.adminToken;
      supported = s.services.formats.types();
      // Formats still served by the FormatModule map are supported meanwhile (src/formats/legacy-types.ts).
      for (const t of s.services.repositories.types.types()) if (!supported.includes(t)) supported.push(t);
    });
    after(() => s.close());

    it("the supported types are hosted, proxy and group of each built format, and nothing else", async () => {
      assert.deepEqual([...supported].sort(), BUILT.flatMap((f) => [f, `${f}-proxy`, `${f}-group`]).sort());
      const res = await s.api("GET", "/repository-types", { token: admin });
      assert.equal(res.status, 200);
      assert.deepEqual(
        res.body.types.map((t: { type: string }) => t.type),
        s.services.repositories.types.types(),
      );
      assert.deepEqual(
        res.body.types.find((t: { type: string }) => t.type === "gradle-group"),
        { type: "gradle-group", format: "gradle", kind: "group" },
      );
      expectError(await s.api("GET", "/repository-types"), 401, "UNAUTHORIZED");
    });

    it("REST: a type of an unbuilt format answers 400 listing the supported types; nothing is created", async () => {
      for (const type of UNBUILT) {
        const repo = { type, storage: "default", ...(type.endsWith("-proxy") ? { remotes: [{ url: "https://up.example/" }] } : {}) };
        const res = await put(`u-${type}`, repo);
        expectError(res, 400, "BAD_REQUEST");
        assert.equal(res.body.message, `Unknown repository type '${type}'; supported types: ${s.services.repositories.types.types().join(", ")}`);
        assert.equal((await s.api("HEAD", `/repositories/u-${type}`, { token: admin })).status, 404);
      }
      const missing = await put("u-none", { storage: "default" });
      expectError(missing, 400, "BAD_REQUEST");
      assert.equal(missing.body.message, `'repo.type' is required: one of ${s.services.repositories.types.types().join(", ")}`);
    });

    it("GraphQL: putRepository with an unbuilt type is a BAD_REQUEST listing the supported types", async () => {
      const res = await gql(`mutation($repo: JSON!) { putRepository(name: "g-helm", repo: $repo) { created } }`, {
        repo: { type: "helm", storage: "default" },
      });
      assert.equal(res.body.errors[0].extensions.code, "BAD_REQUEST");
      assert.equal(res.body.errors[0].message, `Unknown repository type 'helm'; supported types: ${s.services.repositories.types.types().join(", ")}`);
      assert.match(res.body.errors[0].message, /maven-proxy/);
      const types = await gql(`{ repositoryTypes { type format kind } }`);
      assert.deepEqual(
        types.body.data.repositoryTypes.map((t: { type: string }) => t.type),
        s.services.repositories.types.types(),
      );
      assert.equal(
        types.body.data.repositoryTypes.some((t: { type: string }) => t.type === "helm"),
        false,
      );
    });

    it("Indy: a store of a package type no registered format serves answers 400 listing the supported types", async () => {
      // Indy's package types (maven, npm) are both built; a registry without npm stands for an unbuilt one.
      const all = s.services.repositories.types;
      const withoutNpm: RepositoryTypes = {
        types: () => all.types().filter((t) => !t.startsWith("npm")),
        parseType: (t) => (t.startsWith("npm") ? null : all.parseType(t)),
        plugin: (f) => (f === "npm" ? undefined : all.plugin(f)),
      };
      const { prisma } = s.services.db;
      const repositories = new RepositoryService(prisma, s.services.bus, s.services.storages, withoutNpm);
      const indy = new IndyService({ repositories });
      const actor = await s.services.auth.authenticateToken(admin);
      await assert.rejects(indy.create(actor, "npm", "hosted", { name: "indy-npm" }, true), (err: Error & { code?: string }) => {
        assert.equal(err.code, "BAD_REQUEST");
        assert.equal(err.message, `Unknown repository type 'npm'; supported types: ${withoutNpm.types().join(", ")}`);
        return true;
      });
      assert.equal(await prisma.repository.count({ where: { name: "indy-npm" } }), 0);
      // Over HTTP, the store's config goes through the format's schema like any PUT /repositories.
      const basic: [string, string] = ["admin", "admin-test-password"];
      const bad = await s.repo("POST", "/api/admin/remote", { basic, body: { key: "remote:indy-bad", url: "ftp://mirror.example/maven2" } });
      expectError(bad, 400, "BAD_REQUEST");
      assert.equal(bad.body.message, "'repo.remotes[0].url' must be an absolute http(s) URL");
      const ok = await s.repo("POST", "/api/admin/remote", {
        basic,
        body: { key: "remote:indy-ok", url: "https://mirror.example/maven2", timeout_seconds: 30, odd: { kept: true } },
      });
      assert.equal(ok.status, 201, ok.text);
      assert.deepEqual(
        (await s.api("GET", "/repositories/indy-ok", { token: admin })).body.repo.indy,
        { timeout_seconds: 30, odd: { kept: true } },
        "Indy extras stored as-is",
      );
    });

    it("cooldown: per-type policies take the registry's types and formats as keys", async () => {
      const keys = [...new Set(s.services.repositories.types.types().map((t) => s.services.repositories.types.parseType(t)!.format))];
      const all = [...keys, ...s.services.repositories.types.types().filter((t) => !keys.includes(t))];
      for (const type of ["helm-proxy", "go", "cobol"]) {
        const res = await s.api("PUT", "/cooldown/config", { token: admin, body: { repo_types: { [type]: { enabled: true } } } });
        expectError(res, 400, "BAD_REQUEST");
        assert.equal(res.body.message, `Unknown repository type '${type}' in 'repo_types'; supported: ${all.join(", ")}`);
      }
      const ok = await s.api("PUT", "/cooldown/config", {
        token: admin,
        body: { repo_types: { gradle: { enabled: true }, "pypi-proxy": { minimum_allowed_age: "2d" } } },
      });
      assert.equal(ok.status, 200, ok.text);
      const cfg = await s.api("GET", "/cooldown/config", { token: admin });
      assert.deepEqual(Object.keys(cfg.body.repo_types), ["gradle", "pypi-proxy"]);
      assert.equal((await s.api("PUT", "/cooldown/config", { token: admin, body: { repo_types: {} } })).status, 200);
    });

    it("each schema error is a 400 naming the field", async () => {
      const proxy = (extra: Record<string, unknown>) => ({ type: "maven-proxy", storage: "default", remotes: [{ url: "https://up.example/m2" }], ...extra });
      const cases: [unknown, string][] = [
        [proxy({ remotes: [{ url: "https://up.example", username: 42 }] }), "'repo.remotes[0].username' must be a string"],
        [proxy({ remotes: [{ url: "https://up.example", password: ["x"] }] }), "'repo.remotes[0].password' must be a string"],
        [proxy({ remotes: [{ url: "https://up.example", token: 1 }] }), "'repo.remotes[0].token' must be a string"],
        [proxy({ remotes: [null] }), "'repo.remotes[0]' must be an object with 'url'"],
        [proxy({ remotes: [{ url: "https://a.example" }, { username: "u" }] }), "'repo.remotes[1].url' is required for a maven-proxy repository"],
        [proxy({ remotes: [{ url: "mailto:x@example.org" }] }), "'repo.remotes[0].url' must be an absolute http(s) URL"],
        [proxy({ remotes: [{ url: "//no-scheme" }] }), "'repo.remotes[0].url' is not a valid URL: //no-scheme"],
      ];
      for (const [repo, message] of cases) {
        const res = await put("schema-bad", repo);
        expectError(res, 400, "BAD_REQUEST");
        assert.equal(res.body.message, message);
      }
      const prefixed: [unknown, RegExp][] = [
        [
          proxy({ remotes: [{ url: "https://up.example", timeout: "a minute" }] }),
          /^'repo\.remotes\[0\]\.timeout' must be a duration: a number of milliseconds/,
        ],
        [proxy({ negative_cache_ttl: "often" }), /^'repo\.negative_cache_ttl' must be a duration: a number of seconds/],
        [proxy({ metadata_ttl: { h: 1 } }), /^'repo\.metadata_ttl' must be a duration/],
        [proxy({ cache: { negative_ttl: true } }), /^'repo\.cache\.negative_ttl' must be a duration/],
        [{ type: "maven", storage: "default", allow_redeploy: "no" }, /^'repo\.allow_redeploy' must be true or false$/],
        [{ type: "npm-group", storage: "default", members: ["a", "a"] }, /^'repo\.members' lists 'a' twice$/],
        [{ type: "npm-group", storage: "default", members: [""] }, /^'repo\.members\[0\]' must not be empty$/],
        [{ type: "pypi", storage: 7 }, /^'repo\.storage' must be a string$/],
        [{ type: "docker-proxy", storage: "default" }, /^'repo\.remotes' is required for a docker-proxy repository/],
        [{ type: "file-proxy", storage: "default", remotes: [] }, /^A file-proxy repository needs at least one remote in 'repo\.remotes'$/],
      ];
      for (const [repo, message] of prefixed) {
        const res = await put("schema-bad", repo);
        expectError(res, 400, "BAD_REQUEST");
        assert.match(res.body.message, message);
      }
      assert.equal((await s.api("HEAD", "/repositories/schema-bad", { token: admin })).status, 404, "nothing was created");
      // What was valid before stays valid: nulls, extras, every duration form.
      const fine = await put(
        "schema-ok",
        proxy({
          remotes: [{ url: "https://up.example", username: null, timeout: 30000, idle_timeout: "PT1M", x: 1 }],
          metadata_ttl: 0,
          cache: null,
          extra: { any: "thing" },
        }),
      );
      assert.equal(fine.status, 200, fine.text);
    });

    it("stored rows of unbuilt types are listed, readable, counted by the dashboard and served 501", async () => {
      const { prisma } = s.services.db;
      await prisma.repository.createMany({
        data: [
          {
            name: "old-helm",
            type: "helm-proxy",
            storage: "default",
            config: { type: "helm-proxy", storage: "default", remotes: [{ url: "https://charts.example" }] },
          },
          { name: "old-odd", type: "Odd Type", storage: "default", config: { type: "Odd Type", storage: "default" } },
        ],
      });
      const list = await s.api("GET", "/repositories?q=old-", { token: admin });
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.items, [
        { name: "old-helm", type: "helm-proxy" },
        { name: "old-odd", type: "Odd Type" },
      ]);
      assert.equal((await s.api("GET", "/repositories/old-helm", { token: admin })).body.repo.type, "helm-proxy");
      const one = await gql(`{ repository(name: "old-helm") { format kind settings { __typename } } }`);
      assert.deepEqual(one.body, { data: { repository: { format: "helm", kind: "proxy", settings: null } } });
      for (const name of ["old-helm", "old-odd"]) {
        const res = await s.repo("GET", `/${name}/some/file.txt`, { basic: ["admin", "admin-test-password"] });
        assert.equal(res.status, 501, `${name}: ${res.status} ${res.text}`);
        assert.equal(res.body.error, "NOT_IMPLEMENTED");
      }
      // Saving one again needs a supported type; changing it to one works.
      expectError(await put("old-helm", { type: "helm-proxy", storage: "default", remotes: [{ url: "https://charts.example" }] }), 400, "BAD_REQUEST");
      assert.equal((await put("old-odd", { type: "file", storage: "default" })).status, 200);

      const counts = await gql(`{ repositoryTypeCounts { type format kind count supported } }`);
      const rows = counts.body.data.repositoryTypeCounts as { type: string; format: string; kind: string; count: number; supported: boolean }[];
      assert.deepEqual(
        rows.filter((r) => r.supported).map((r) => r.type),
        s.services.repositories.types.types(),
        "every supported type, in registry order",
      );
      assert.ok(rows.some((r) => r.type === "npm-group" && r.count === 0 && r.supported));
      assert.deepEqual(
        rows.find((r) => r.type === "helm-proxy"),
        { type: "helm-proxy", format: "helm", kind: "proxy", count: 1, supported: false },
      );
    });

    it("GraphQL typed config: one input and output type per format, round-tripping through putRepository(settings:)", async () => {
      const introspect = await gql(`{ __type(name: "RepositorySettings") { possibleTypes { name } } }`);
      assert.deepEqual(introspect.body.data.__type.possibleTypes.map((t: { name: string }) => t.name).sort(), [
        "DockerRepositoryConfig",
        "FileRepositoryConfig",
        "MavenRepositoryConfig",
        "NpmRepositoryConfig",
        "PypiRepositoryConfig",
      ]);
      const input = await gql(`{ __type(name: "RepositorySettingsInput") { inputFields { name type { name } } } }`);
      assert.deepEqual(
        input.body.data.__type.inputFields.map((f: { name: string; type: { name: string } }) => [f.name, f.type.name]),
        Object.entries(formatConfigs)
          .map(([format, schema]) => [format, `${schema.name}RepositoryConfigInput`])
          .sort(([a], [b]) => a.localeCompare(b)),
      );

      const mutation = `mutation($name: String!, $settings: RepositorySettingsInput) { putRepository(name: $name, settings: $settings) { created } }`;
      const settings = {
        maven: {
          kind: "proxy",
          storage: "default",
          remotes: [{ url: "https://repo.example/maven2", username: "bot", password: "s3cret-value", timeout: "30s" }],
          negativeCacheTtl: "600",
          metadataTtl: "5m",
          allowRedeploy: false,
        },
      };
      let res = await gql(mutation, { name: "typed-central", settings });
      assert.deepEqual(res.body, { data: { putRepository: { created: true } } });
      // The JSON view holds the config keys as PUT /repositories takes them.
      const json = (await s.api("GET", "/repositories/typed-central", { token: admin })).body.repo;
      assert.equal(json.type, "maven-proxy");
      assert.equal(json.negative_cache_ttl, 600);
      assert.equal(json.metadata_ttl, "5m");
      assert.equal(json.allow_redeploy, false);
      assert.deepEqual(
        { ...json.remotes[0], password: undefined },
        { url: "https://repo.example/maven2", username: "bot", password: undefined, timeout: "30s" },
      );

      const read = `query($name: String!) { repository(name: $name) { type settings { __typename ... on MavenRepositoryConfig { type kind storage allowRedeploy negativeCacheTtl metadataTtl members
        remotes { url username password timeout idleTimeout } } ... on NpmRepositoryConfig { type kind members } } } }`;
      res = await gql(read, { name: "typed-central" });
      const typed = res.body.data.repository.settings;
      assert.equal(typed.__typename, "MavenRepositoryConfig");
      assert.equal(typed.remotes[0].password === "s3cret-value", false, "secrets are masked as in `config`");
      assert.deepEqual(
        { ...typed, remotes: [{ ...typed.remotes[0], password: null }] },
        {
          __typename: "MavenRepositoryConfig",
          type: "maven-proxy",
          kind: "proxy",
          storage: "default",
          allowRedeploy: false,
          negativeCacheTtl: "600",
          metadataTtl: "5m",
          members: null,
          remotes: [{ url: "https://repo.example/maven2", username: "bot", password: null, timeout: "30s", idleTimeout: null }],
        },
      );
      // Writing back what was read (masked password included) keeps the stored secret.
      res = await gql(mutation, {
        name: "typed-central",
        settings: {
          maven: { ...settings.maven, remotes: [{ url: typed.remotes[0].url, username: "bot", password: typed.remotes[0].password, timeout: "30s" }] },
        },
      });
      assert.deepEqual(res.body, { data: { putRepository: { created: false } } });
      const stored = await s.services.db.prisma.repository.findUnique({ where: { name: "typed-central" } });
      assert.equal((stored!.config as any).remotes[0].password, "s3cret-value");

      // An alias format (gradle) takes its plugin's type; a group's members.
      await gql(mutation, { name: "typed-npm-a", settings: { npm: { kind: "hosted", storage: "default" } } });
      res = await gql(mutation, { name: "typed-npm-group", settings: { npm: { kind: "group", storage: "default", members: ["typed-npm-a"] } } });
      assert.deepEqual(res.body, { data: { putRepository: { created: true } } });
      assert.deepEqual((await gql(read, { name: "typed-npm-group" })).body.data.repository.settings, {
        __typename: "NpmRepositoryConfig",
        type: "npm-group",
        kind: "group",
        members: ["typed-npm-a"],
      });
      res = await gql(mutation, { name: "typed-gradle", settings: { gradle: { kind: "hosted", storage: "default" } } });
      assert.deepEqual(res.body, { data: { putRepository: { created: true } } });
      assert.equal((await gql(read, { name: "typed-gradle" })).body.data.repository.settings.__typename, "MavenRepositoryConfig");
      assert.equal((await gql(read, { name: "typed-gradle" })).body.data.repository.type, "gradle");

      // Typed input is validated as the JSON form is; exactly one of repo/settings, one format.
      const errors: [Record<string, unknown>, RegExp][] = [
        [
          { name: "typed-bad", settings: { file: { kind: "proxy", storage: "default", remotes: [{ url: "ftp://x.example" }] } } },
          /^'repo\.remotes\[0\]\.url' must be an absolute http\(s\) URL$/,
        ],
        [
          { name: "typed-bad", settings: { file: { kind: "proxy", storage: "default", remotes: [{ url: "https://x.example", timeout: "soon" }] } } },
          /^'repo\.remotes\[0\]\.timeout' must be a duration/,
        ],
        [{ name: "typed-bad", settings: { file: { kind: "proxy", storage: "default" } } }, /^'repo\.remotes' is required for a file-proxy repository/],
        [
          { name: "typed-bad", settings: { file: { kind: "hosted", storage: "default" }, npm: { kind: "hosted", storage: "default" } } },
          /exactly one format field/,
        ],
        [{ name: "typed-bad", settings: {} }, /exactly one format field/],
        [{ name: "typed-bad" }, /exactly one of 'repo' \(JSON\) and 'settings' \(typed\)/],
      ];
      for (const [variables, message] of errors) {
        res = await gql(mutation, variables);
        assert.equal(res.body.errors?.[0]?.extensions?.code, "BAD_REQUEST", JSON.stringify(res.body));
        assert.match(res.body.errors[0].message, message);
      }
      res = await gql(
        `mutation { putRepository(name: "typed-bad", repo: {type: "file", storage: "default"}, settings: {file: {kind: hosted, storage: "default"}}) { created } }`,
      );
      assert.match(res.body.errors[0].message, /exactly one of 'repo'/);
      assert.equal((await s.api("HEAD", "/repositories/typed-bad", { token: admin })).status, 404);
    });

    it("every registered plugin carries the schema the GraphQL types are printed from", () => {
      for (const format of s.services.formats.formats()) {
        const plugin = s.services.formats.plugin(format)!;
        assert.ok(formatConfigs[format], `${format} has a config schema`);
        if (plugin.config) assert.equal(plugin.config, formatConfigs[format], `${format}: plugin.config is the listed schema`);
      }
    });
  });
}
