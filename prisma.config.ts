// Prisma CLI configuration: JS engine with a driver adapter, because native engines
// cannot be downloaded here. PGlite under the data dir unless DATABASE_URL names PostgreSQL.
import path from "node:path";
import { defineConfig } from "prisma/config";

// Without DATABASE_URL the CLI works on the embedded PGlite database; the schema still
// needs a syntactically valid PostgreSQL URL, so a placeholder is set.
const pgliteDir = process.env.DATABASE_URL ? undefined : path.resolve(process.env.PANTERA_DATA_DIR ?? "./data", "pglite");
if (!process.env.DATABASE_URL) process.env.DATABASE_URL = "postgresql://pglite.invalid/pantera";

export default defineConfig({
  schema: path.join("prisma", "schema.prisma"),
  migrations: { path: path.join("prisma", "migrations") },
  engine: "js",
  experimental: { adapter: true },
  async adapter() {
    if (!pgliteDir) {
      const { PrismaPg } = await import("@prisma/adapter-pg");
      return new PrismaPg({ connectionString: process.env.DATABASE_URL! });
    }
    const { mkdirSync } = await import("node:fs");
    mkdirSync(pgliteDir, { recursive: true });
    const { PGlite } = await import("@electric-sql/pglite");
    const { PrismaPGlite } = await import("pglite-prisma-adapter");
    // pglite-prisma-adapter bundles its own copy of the adapter interface types.
    const { pg_trgm } = await import("@electric-sql/pglite/contrib/pg_trgm");
    return new PrismaPGlite(new PGlite(pgliteDir, { extensions: { pg_trgm } })) as never;
  },
});
