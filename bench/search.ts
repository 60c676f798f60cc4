// Search benchmark: loads N artifact rows (default 1,000,000) into a fresh database and
// measures p50/p99 latency of plain, prefix and structured queries through SearchService
// (the same code the API runs: parser -> parameterised SQL -> count + page).
//
//   npx tsx bench/search.ts pglite   [rows]
//   npx tsx bench/search.ts postgres [rows]   (BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/test)
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { openDatabase, type Database } from "../src/db/index.js";
import { createLogger } from "../src/log.js";
import { Permissions, type Principal } from "../src/auth/permissions.js";
import { SearchService } from "../src/search/service.js";
import { createPostgresDatabase } from "../test/helpers/server.js";

const backend = (process.argv[2] ?? "pglite") as "pglite" | "postgres";
const ROWS = Number(process.argv[3] ?? 1_000_000);
const ITER = Number(process.env.BENCH_ITER ?? 40);
const CHUNK = 100_000;

const WORDS = [
  "spring",
  "boot",
  "starter",
  "web",
  "guava",
  "jackson",
  "core",
  "databind",
  "annotations",
  "commons",
  "lang",
  "io",
  "netty",
  "handler",
  "codec",
  "http",
  "client",
  "server",
  "logging",
  "slf4j",
  "api",
  "log4j",
  "junit",
  "jupiter",
  "engine",
  "mockito",
  "kotlin",
  "stdlib",
  "reactor",
  "rxjava",
  "okhttp",
  "retrofit",
  "gson",
  "protobuf",
  "grpc",
  "hibernate",
  "validator",
  "jakarta",
  "servlet",
  "tomcat",
  "embed",
  "jetty",
  "security",
  "oauth",
  "jwt",
  "crypto",
  "pydantic",
  "requests",
  "urllib",
  "numpy",
  "pandas",
  "django",
  "flask",
  "react",
  "lodash",
  "express",
  "axios",
  "left",
  "pad",
];

function principal(grants: Record<string, unknown>): Principal {
  return {
    userId: "bench",
    name: "bench",
    email: null,
    context: "local",
    authType: "plain",
    groups: [],
    roles: [],
    permissions: new Permissions([grants]),
    via: "access",
  };
}

async function open(): Promise<{ db: Database; cleanup: () => Promise<void> }> {
  if (backend === "pglite") {
    const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-bench-search-"));
    const db = await openDatabase({ dataDir: dir });
    return {
      db,
      cleanup: async () => {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const created = await createPostgresDatabase(process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/test", "pantera_bench_search_");
  const db = await openDatabase({ url: created.url, dataDir: os.tmpdir() });
  return {
    db,
    cleanup: async () => {
      await db.close();
      await created.drop();
    },
  };
}

// Bulk load: the search indexes of migration 0002 are dropped during the load and rebuilt after.
const INDEXES = [
  `CREATE INDEX "artifacts_search_tsv_idx" ON "artifacts" USING GIN ("search_tsv")`,
  `CREATE INDEX "artifacts_name_trgm_idx" ON "artifacts" USING GIN ("name" gin_trgm_ops)`,
  `CREATE INDEX "artifacts_version_trgm_idx" ON "artifacts" USING GIN ("version" gin_trgm_ops)`,
  `CREATE INDEX "artifacts_repo_type_idx" ON "artifacts" ("repo_type")`,
];

async function load(db: Database): Promise<number> {
  const t0 = performance.now();
  for (const ddl of INDEXES) await db.sql.exec(`DROP INDEX IF EXISTS "${/INDEX "([^"]+)"/.exec(ddl)![1]}"`);
  const words = `(ARRAY[${WORDS.map((w) => `'${w}'`).join(",")}])`;
  const nw = WORDS.length;
  for (let start = 0; start < ROWS; start += CHUNK) {
    const end = Math.min(ROWS, start + CHUNK) - 1;
    // Names: word-word[-word] with ~30k distinct names; versions major.minor.patch; 20 repositories of 5 types.
    await db.sql.exec(`
      INSERT INTO "artifacts" ("repo_name", "repo_type", "path", "name", "version", "size", "owner")
      SELECT 'repo-' || (i % 20),
             (ARRAY['maven-proxy','npm-proxy','pypi-proxy','maven','npm'])[1 + (i % 20) % 5],
             replace(n, '-', '/') || '/' || v || '/' || n || '-' || v || '-b' || i || '.jar',
             n, v, ((i % 1000) * 7919) % 10000000, 'admin'
      FROM (
        SELECT i,
               ${words}[1 + (i * 7) % ${nw}] || '-' || ${words}[1 + (i / 7) % ${nw}] ||
                 CASE WHEN i % 3 = 0 THEN '-' || ${words}[1 + (i / 97) % ${nw}] ELSE '' END AS n,
               ((i / 13) % 9) || '.' || ((i / 5) % 20) || '.' || (i % 11) AS v
        FROM generate_series(${start}, ${end}) AS i
      ) s`);
    process.stderr.write(`  loaded ${end + 1} rows\n`);
  }
  for (const ddl of INDEXES) {
    await db.sql.exec(ddl);
    process.stderr.write(`  ${ddl.slice(0, 60)}...\n`);
  }
  await db.sql.exec(`VACUUM ANALYZE "artifacts"`);
  return performance.now() - t0;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const QUERIES: { kind: string; q: string }[] = [
  { kind: "plain", q: "guava" },
  { kind: "plain", q: "jackson databind" },
  { kind: "prefix", q: "spring-boot-star" },
  { kind: "prefix", q: "datab" },
  { kind: "structured", q: "name:guava AND (version:1.2 OR version:3.4)" },
  { kind: "structured", q: "repo:repo-3 AND type:maven AND name:core" },
  { kind: "structured", q: "type:npm AND name:lodash AND version:2." },
];

async function main() {
  const { db, cleanup } = await open();
  try {
    console.error(`[${backend}] loading ${ROWS} rows...`);
    const loadMs = await load(db);
    const unused = (): never => {
      throw new Error("not used");
    };
    // Queries only: the reindex side (repositories, storages, format hooks) is never reached.
    const search = new SearchService({
      db,
      log: createLogger("error"),
      repositories: { all: unused },
      storages: { forRepository: unused },
      hooks: { describe: unused, reindex: unused },
    });
    const admin = principal({ "*": ["*"] });
    const limited = principal({ api_search_permissions: ["read"], "repo-1": ["read"], "repo-3": ["read"], "repo-7": ["read"], "repo-11": ["read"] });
    const stats = await search.stats(admin);
    const lines: string[] = [];
    lines.push(
      `### ${backend} — ${ROWS.toLocaleString("en-US")} rows (load ${(loadMs / 1000).toFixed(1)} s, index size ${(stats.indexSizeBytes / 1048576).toFixed(0)} MiB)`,
    );
    lines.push("");
    lines.push("| kind | query | caller | total hits | p50 ms | p99 ms |");
    lines.push("|---|---|---|---:|---:|---:|");
    for (const { kind, q } of QUERIES) {
      for (const [who, actor] of [
        ["admin", admin],
        ["4 repos", limited],
      ] as const) {
        let total = 0;
        for (let i = 0; i < 3; i++) total = (await search.search(actor, { q, page: 0, size: 20 })).total; // warm-up
        const times: number[] = [];
        for (let i = 0; i < ITER; i++) {
          const t = performance.now();
          await search.search(actor, { q, page: i % 5, size: 20 });
          times.push(performance.now() - t);
        }
        times.sort((a, b) => a - b);
        lines.push(`| ${kind} | \`${q}\` | ${who} | ${total} | ${pct(times, 50).toFixed(1)} | ${pct(times, 99).toFixed(1)} |`);
        console.error(lines[lines.length - 1]);
      }
    }
    console.log(lines.join("\n"));
  } finally {
    await cleanup();
  }
}

await main();
