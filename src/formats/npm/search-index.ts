// The search index of hosted npm repositories (table npm_packages, migration 0003): one row per
// package with its latest version's summary, so GET /-/v1/search is one indexed query instead of
// reading every packument of the repository.
//
// Rows are written by whoever writes a packument (publish, metadata updates, dist-tags, deletes,
// imports) while holding that package's lock, so a row never goes back to an older document.
// Walks over storage (the first-search fill, the search reindex) take the same lock per package.
// Repositories that held packuments before the index existed, or moved to another storage alias,
// are filled from storage on their next search; POST /api/v1/search/reindex rebuilds them too.
import type { SqlRunner } from "../../db/migrate.js";
import type { RepositoryRecord } from "../../repositories/types.js";
import type { Storage } from "../../storage/types.js";
import { readStoredJson } from "../../storage/types.js";
import type { FormatServices } from "../kit/contract.js";
import { withPackageLock } from "../kit/body.js";
import { highestVersion, packageOfPackumentKey, packumentKey, type Json, type Packument } from "./packument.js";

export interface PackageSummary {
  name: string;
  version: string;
  description: string;
  keywords: string[];
  publishedAt: Date | null;
  publisher: { username: string; email: string } | null;
  maintainers: { username: string; email: string }[];
}

export interface IndexedPackage extends PackageSummary {
  score: number;
}

/** Text as PostgreSQL stores it: no NUL characters (text and jsonb refuse them). */
const clean = (v: unknown): string => {
  const text =
    typeof v === "string" ? v : v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v as number | boolean | bigint);
  return text.split("\u0000").join("");
};

/** A date PostgreSQL's timestamptz can hold (years 1 to 9999 are plenty), else null. */
function storableDate(value: unknown): Date | null {
  if (typeof value !== "string" && typeof value !== "number") return null;
  const d = new Date(value);
  const year = d.getUTCFullYear();
  return Number.isNaN(d.getTime()) || year < 1 || year > 9999 ? null : d;
}

/**
 * What search shows of a packument: its latest version, or the highest version when no
 * `latest` tag exists (a first publish with --tag); null when it has no versions left.
 */
export function summarise(p: Packument): PackageSummary | null {
  const versions = p.versions && typeof p.versions === "object" ? p.versions : {};
  const tagged = p["dist-tags"]?.latest;
  const version = typeof tagged === "string" && versions[tagged] ? tagged : highestVersion(Object.keys(versions));
  const latest: Json | undefined = version ? versions[version] : undefined;
  if (!version || !latest || typeof latest !== "object") return null;
  const person = (m: Json) => ({ username: clean(m?.name ?? m?.username), email: clean(m?.email) });
  const keywords = Array.isArray(latest.keywords) ? latest.keywords.filter((k: unknown): k is string => typeof k === "string").map(clean) : [];
  const maintainers = (Array.isArray(p.maintainers) ? p.maintainers : Array.isArray(latest.maintainers) ? latest.maintainers : []) as Json[];
  return {
    name: clean(p.name),
    version: clean(version),
    description: clean(latest.description ?? p.description),
    keywords,
    publishedAt: storableDate(p.time?.[version] ?? p.time?.modified),
    publisher: latest._npmUser && typeof latest._npmUser === "object" ? person(latest._npmUser) : null,
    maintainers: maintainers.filter((m) => m && typeof m === "object").map(person),
  };
}

const searchText = (s: PackageSummary) => [s.name, s.description, ...s.keywords].join(" ").toLowerCase();

const COLUMNS = `"repo_name", "name", "version", "description", "keywords", "published_at", "publisher", "maintainers", "search_text", "indexed_at"`;

function rowValues(repoName: string, s: PackageSummary): unknown[] {
  return [
    repoName,
    s.name,
    s.version,
    s.description,
    s.keywords,
    s.publishedAt?.toISOString() ?? null,
    s.publisher ? JSON.stringify(s.publisher) : null,
    JSON.stringify(s.maintainers),
    searchText(s),
  ];
}

const INSERT = `INSERT INTO "npm_packages" (${COLUMNS})
  VALUES ($1, $2, $3, $4, $5::text[], $6::timestamptz, $7::jsonb, $8::jsonb, $9, now())`;

const MAX_TERMS = 16;
const likePattern = (t: string) => "%" + t.replace(/[\\%_]/g, (c) => "\\" + c) + "%";

/** The npm_packages index of one node: the SQL it runs on and the repositories known to be filled. */
export class NpmSearchIndex {
  /**
   * Repository records known to have a complete index. Records are replaced whenever a repository
   * changes (rename, storage change, re-creation under the same name), so a new record is checked again.
   */
  private readonly knownReady = new WeakSet<RepositoryRecord>();

  constructor(private readonly sql: Pick<SqlRunner, "query">) {}

  /**
   * Brings the row of `name` in line with its packument as just written (`p`), or removes it
   * (`p` null or without versions). Call it under the package's lock, after the storage write.
   * Never fails the request that wrote the packument: a failure is logged and fixed by a reindex.
   */
  async indexPackument(services: FormatServices, repo: RepositoryRecord, name: string, p: Packument | null): Promise<void> {
    try {
      // A document under another package's key (a hand-made import) describes nothing searchable.
      const s = p && p.name === name ? summarise(p) : null;
      if (!s) {
        await this.sql.query(`DELETE FROM "npm_packages" WHERE "repo_name" = $1 AND "name" = $2`, [repo.name, name]);
        return;
      }
      await this.sql.query(
        `${INSERT} ON CONFLICT ("repo_name", "name") DO UPDATE SET "version" = EXCLUDED."version", "description" = EXCLUDED."description",
         "keywords" = EXCLUDED."keywords", "published_at" = EXCLUDED."published_at", "publisher" = EXCLUDED."publisher",
         "maintainers" = EXCLUDED."maintainers", "search_text" = EXCLUDED."search_text", "indexed_at" = now()`,
        rowValues(repo.name, s),
      );
    } catch (err) {
      services.log.warn("npm search index update failed", { repo: repo.name, name, err: String(err) });
    }
  }

  /**
   * Re-reads the packument of `name` from storage and brings its row in line, under the package's
   * lock: for changes made to stored files directly (management-API deletes, imports, walks).
   */
  async reindexPackage(services: FormatServices, repo: RepositoryRecord, storage: Storage, name: string): Promise<void> {
    await withPackageLock({ services }, { repo }, name, async () => {
      const p = await readStoredJson<Packument>(storage, packumentKey(name)).catch(() => null);
      await this.indexPackument(services, repo, name, p);
    });
  }

  /** A folder was deleted through the management API: the packages under it are re-read ('' = all). */
  async reindexPackagesUnder(services: FormatServices, repo: RepositoryRecord, storage: Storage, folder: string): Promise<void> {
    const prefix = folder.replace(/\/+$/, "");
    try {
      const rows = await this.sql.query<{ name: string }>(
        prefix
          ? `SELECT "name" FROM "npm_packages" WHERE "repo_name" = $1 AND ("name" = $2 OR starts_with("name", $3))`
          : `SELECT "name" FROM "npm_packages" WHERE "repo_name" = $1`,
        prefix ? [repo.name, prefix, prefix + "/"] : [repo.name],
      );
      for (const { name } of rows) await this.reindexPackage(services, repo, storage, name);
    } catch (err) {
      services.log.warn("npm search index update failed", { repo: repo.name, folder, err: String(err) });
    }
  }

  /**
   * Indexes every packument in the repository's storage, each under its package's lock (so a
   * concurrent publish or unpublish is never undone), then drops rows of packages that are no
   * longer stored: rows neither re-read by this walk nor written since it began. The search
   * reindex runs it for every repository holding packuments; ensureFilled for one never filled.
   */
  async rebuild(services: FormatServices, repo: RepositoryRecord, storage: Storage): Promise<void> {
    const [{ now: start }] = await this.sql.query<{ now: Date }>("SELECT now() AS now");
    for (const e of await storage.list("")) {
      // Folder entries never end in /package.json.
      const name = packageOfPackumentKey(e.key);
      if (name) await this.reindexPackage(services, repo, storage, name);
    }
    await this.sql.query(`DELETE FROM "npm_packages" WHERE "repo_name" = $1 AND "indexed_at" < $2::timestamptz`, [repo.name, new Date(start).toISOString()]);
    await this.sql.query(
      `INSERT INTO "npm_search_ready" ("repo_name", "storage") VALUES ($1, $2) ON CONFLICT ("repo_name") DO UPDATE SET "storage" = EXCLUDED."storage"`,
      [repo.name, repo.storage],
    );
  }

  /** Fills the index of a repository never searched (or searched on another storage alias) before. */
  async ensureFilled(services: FormatServices, repo: RepositoryRecord, storage: Storage): Promise<void> {
    if (this.knownReady.has(repo)) return;
    const [row] = await this.sql.query<{ storage: string }>(`SELECT "storage" FROM "npm_search_ready" WHERE "repo_name" = $1`, [repo.name]);
    // Two nodes filling at once only repeat each other's work: every row is written under its package's lock.
    if (row?.storage !== repo.storage) await this.rebuild(services, repo, storage);
    this.knownReady.add(repo);
  }

  /**
   * Packages whose name, description or keywords contain every term, best first: a term equal to
   * the name scores 10, one inside the name 3, elsewhere 1 (summed over the terms), then by name.
   */
  async search(repoName: string, text: string, limit: number): Promise<{ hits: IndexedPackage[]; total: number }> {
    const terms = [...new Set(clean(text).toLowerCase().split(/\s+/).filter(Boolean))].slice(0, MAX_TERMS);
    const params: unknown[] = [repoName, Math.max(1, Math.floor(limit))];
    const filters: string[] = [];
    const scores: string[] = [];
    for (const t of terms) {
      params.push(t, likePattern(t));
      const term = `$${params.length - 1}`;
      const pattern = `$${params.length}`;
      filters.push(`"search_text" LIKE ${pattern}`);
      scores.push(`CASE WHEN lower("name") = ${term} THEN 10 WHEN strpos(lower("name"), ${term}) > 0 THEN 3 ELSE 1 END`);
    }
    const rows = await this.sql.query<{
      name: string;
      version: string;
      description: string;
      keywords: string[];
      published_at: Date | string | null;
      publisher: PackageSummary["publisher"] | string | null;
      maintainers: PackageSummary["maintainers"] | string;
      score: number | string;
      total: number | string;
    }>(
      `SELECT "name", "version", "description", "keywords", "published_at", "publisher", "maintainers",
            ${scores.length ? scores.join(" + ") : "1"} AS score, count(*) OVER () AS total
     FROM "npm_packages" WHERE "repo_name" = $1 ${filters.map((f) => `AND ${f}`).join(" ")}
     ORDER BY score DESC, "name" ASC LIMIT $2`,
      params,
    );
    const json = <T>(v: T | string): T => (typeof v === "string" ? (JSON.parse(v) as T) : v);
    return {
      total: rows.length ? Number(rows[0].total) : 0,
      hits: rows.map((r) => ({
        name: r.name,
        version: r.version,
        description: r.description,
        keywords: r.keywords ?? [],
        publishedAt: r.published_at ? new Date(r.published_at) : null,
        publisher: r.publisher === null ? null : json(r.publisher),
        maintainers: json(r.maintainers) ?? [],
        score: Number(r.score),
      })),
    };
  }
}
