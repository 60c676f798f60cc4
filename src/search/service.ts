// Search over the artifacts index (REST section 9): query language compiled to parameterised
// SQL with the caller's read permission inside the WHERE clause, locate, stats and an
// asynchronous reindex that rebuilds the index from storage while uploads continue.
import type { Database } from "../db/index.js";
import type { Logger } from "../log.js";
import type { FormatHooks } from "../formats/kit/hooks.js";
import type { RepositoryRecord, RepositoryTypes } from "../repositories/types.js";
import type { Storage } from "../storage/types.js";
import { normaliseKey } from "../storage/types.js";
import { badRequest } from "../errors.js";
import { requireApi, type Principal } from "../auth/permissions.js";
import { pageRequest, toPage, type Page } from "../pagination.js";
import { compileQuery, lexemes, parseQuery, SqlParams } from "./query.js";
import { describeGeneric } from "./describe.js";

export const MAX_OFFSET = 10_000;

export interface SearchHit {
  repoType: string;
  repoName: string;
  artifactPath: string;
  artifactName: string;
  version: string;
  size: number;
  createdAt: Date;
  owner: string;
}

export interface ReindexState {
  status: "idle" | "running" | "completed" | "failed";
  startedAt: Date | null;
  finishedAt: Date | null;
  repositories: number;
  documents: number;
  error: string | null;
}

const BATCH = 500;

export interface SearchServiceDeps {
  db: Database;
  log: Logger;
  /** `types`: the supported repository types, which `type:` prefixes expand to (without it, the exact format's three types). */
  repositories: { all(): Promise<RepositoryRecord[]>; types?: Pick<RepositoryTypes, "types"> };
  storages: { forRepository(repo: RepositoryRecord): Promise<Storage> };
  /** The format's layout (what a stored file is) and its reindex hook. */
  hooks: Pick<FormatHooks, "describe" | "reindex">;
}

export class SearchService {
  private state: ReindexState = { status: "idle", startedAt: null, finishedAt: null, repositories: 0, documents: 0, error: null };
  private running: Promise<void> | null = null;

  private db: Database;
  private log: Logger;

  constructor(private deps: SearchServiceDeps) {
    this.db = deps.db;
    this.log = deps.log;
  }

  // ------------------------------------------------------------ queries

  async search(actor: Principal | null, args: { q?: string | null; page?: number | null; size?: number | null }): Promise<Page<SearchHit>> {
    const me = requireApi(actor, "api_search_permissions", "read");
    const q = args.q?.trim();
    if (!q) throw badRequest("Missing 'q' parameter");
    const req = pageRequest(args.page, args.size, 20);
    const offset = req.page * req.size;
    if (offset > MAX_OFFSET)
      throw badRequest(`Offset ${offset} (page * size) exceeds the maximum of ${MAX_OFFSET}; narrow the query with field filters instead`);
    const ast = parseQuery(q);
    const params = new SqlParams();
    const compiled = compileQuery(ast, params, this.deps.repositories.types?.types());
    const conditions = [compiled.where];
    const readable = me.permissions.repositoryNamesWith("read");
    if (!readable.all) {
      if (!readable.names.length) return toPage([], 0, req);
      conditions.push(`"repo_name" = ANY(${params.add(readable.names)}::text[])`);
    }
    const where = conditions.join(" AND ");
    const countParams = [...params.values];
    let order = `"name" ASC, "version" DESC, "repo_name" ASC, "path" ASC`;
    if (compiled.textTerms.length) {
      const words = [...new Set(compiled.textTerms.flatMap(lexemes))];
      const exact = params.add(compiled.textTerms.map((t) => t.toLowerCase()));
      const rank = words.length ? `ts_rank("search_tsv", to_tsquery('simple', ${params.add(words.map((w) => w + ":*").join(" | "))})) DESC, ` : "";
      order = `(lower("name") = ANY(${exact}::text[])) DESC, ${rank}${order}`;
    }
    const sql =
      `SELECT "repo_type", "repo_name", "path", "name", "version", "size"::float8 AS "size", "created_at", "owner", count(*) OVER () AS "total" ` +
      `FROM "artifacts" WHERE ${where} ORDER BY ${order} LIMIT ${params.add(req.size)} OFFSET ${params.add(offset)}`;
    // One pass: the window count is taken over every match before LIMIT applies.
    const rows = await this.db.sql.query<Row & { total: number | string }>(sql, params.values);
    let total = rows.length ? Number(rows[0].total) : 0;
    if (!rows.length && offset > 0) {
      const [c] = await this.db.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM "artifacts" WHERE ${where}`, countParams);
      total = Number(c?.n ?? 0);
    }
    return toPage(rows.map(toHit), total, req);
  }

  async locate(actor: Principal | null, rawPath: string | null | undefined): Promise<{ repositories: string[]; count: number }> {
    const me = requireApi(actor, "api_search_permissions", "read");
    if (!rawPath?.trim()) throw badRequest("Missing 'path' parameter");
    const path = normaliseKey(rawPath.trim());
    if (!path) throw badRequest("'path' must name an artifact");
    const params = new SqlParams();
    let sql = `SELECT DISTINCT "repo_name" FROM "artifacts" WHERE "path" = ${params.add(path)}`;
    const readable = me.permissions.repositoryNamesWith("read");
    if (!readable.all) {
      if (!readable.names.length) return { repositories: [], count: 0 };
      sql += ` AND "repo_name" = ANY(${params.add(readable.names)}::text[])`;
    }
    const rows = await this.db.sql.query<{ repo_name: string }>(sql + ` ORDER BY "repo_name"`, params.values);
    const repositories = rows.map((r) => r.repo_name);
    return { repositories, count: repositories.length };
  }

  async stats(actor: Principal | null) {
    requireApi(actor, "api_search_permissions", "read");
    const [row] = await this.db.sql.query<{ docs: number; idx: number; last: Date | null }>(
      `SELECT (SELECT count(*) FROM "artifacts")::float8 AS docs, pg_indexes_size('"artifacts"')::float8 AS idx, (SELECT max("indexed_at") FROM "artifacts") AS last`,
    );
    return {
      totalDocuments: Number(row.docs),
      indexSizeBytes: Number(row.idx),
      lastIndexed: row.last ? new Date(row.last) : null,
      reindex: { ...this.state },
    };
  }

  private describe(repo: RepositoryRecord, key: string): { name: string; version: string } | null {
    const described = this.deps.hooks.describe(repo, key);
    return described === undefined ? describeGeneric(key) : described;
  }

  // ------------------------------------------------------------ reindex

  /** Starts a full rebuild from storage in the background (one at a time per node). */
  async reindex(actor: Principal | null): Promise<{ status: string; message: string }> {
    requireApi(actor, "api_search_permissions", "write");
    if (this.running) return { status: "started", message: "Full reindex already in progress" };
    this.state = { status: "running", startedAt: new Date(), finishedAt: null, repositories: 0, documents: 0, error: null };
    this.running = this.rebuild()
      .then(() => {
        this.state = { ...this.state, status: "completed", finishedAt: new Date() };
      })
      .catch((err) => {
        this.log.error("search reindex failed", { err: String(err) });
        this.state = { ...this.state, status: "failed", finishedAt: new Date(), error: String(err) };
      })
      .finally(() => {
        this.running = null;
      });
    return { status: "started", message: "Full reindex initiated" };
  }

  /** Resolves when the current reindex (if any) has finished. */
  async waitForReindex(): Promise<ReindexState> {
    await this.running;
    return { ...this.state };
  }

  /**
   * Walks every hosted and proxy repository's storage and upserts one row per artifact file.
   * Rows keep their richer metadata (name from the format's own metadata, owner, release date);
   * only rows of a repository not seen since the walk of that repository began are deleted, so
   * uploads and deletes that happen during the walk stay correct.
   */
  private async rebuild(): Promise<void> {
    const [{ now: runStart }] = await this.db.sql.query<{ now: Date }>("SELECT now() AS now");
    const repos = await this.deps.repositories.all();
    for (const repo of repos) {
      if (repo.kind === "group") continue;
      const [{ now: repoStart }] = await this.db.sql.query<{ now: Date }>("SELECT now() AS now");
      const storage = await this.deps.storages.forRepository(repo);
      await this.walk(repo, storage);
      await this.deps.hooks.reindex(repo, storage);
      await this.db.sql.query(`DELETE FROM "artifacts" WHERE "repo_name" = $1 AND "indexed_at" < $2::timestamptz`, [
        repo.name,
        new Date(repoStart).toISOString(),
      ]);
      this.state.repositories++;
    }
    // Rows of repositories that no longer exist (created before the run began).
    await this.db.sql.query(`DELETE FROM "artifacts" WHERE NOT ("repo_name" = ANY($1::text[])) AND "indexed_at" < $2::timestamptz`, [
      repos.map((r) => r.name),
      new Date(runStart).toISOString(),
    ]);
  }

  private async walk(repo: RepositoryRecord, storage: Storage): Promise<void> {
    // One listing per repository (drivers sort and filter a full walk for every paged call).
    const entries = await storage.list("");
    for (let i = 0; i < entries.length; i += BATCH) {
      const rows: { path: string; name: string; version: string; size: number; modified: string }[] = [];
      for (const e of entries.slice(i, i + BATCH)) {
        if (e.kind !== "file") continue;
        const d = this.describe(repo, e.key);
        if (!d) continue;
        rows.push({ path: e.key, name: d.name, version: d.version, size: e.size ?? 0, modified: (e.modified ?? new Date()).toISOString() });
      }
      if (rows.length) await this.upsertBatch(repo, rows);
      this.state.documents += rows.length;
    }
  }

  private async upsertBatch(repo: RepositoryRecord, rows: { path: string; name: string; version: string; size: number; modified: string }[]) {
    await this.db.sql.query(
      `INSERT INTO "artifacts" ("repo_name", "repo_type", "path", "name", "version", "size", "created_at", "indexed_at")
       SELECT $1, $2, u.path, u.name, u.version, u.size, u.modified, now()
       FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], $7::timestamptz[]) AS u(path, name, version, size, modified)
       ON CONFLICT ("repo_name", "path") DO UPDATE SET "repo_type" = EXCLUDED."repo_type", "size" = EXCLUDED."size",
         "name" = CASE WHEN "artifacts"."name" = '' THEN EXCLUDED."name" ELSE "artifacts"."name" END,
         "version" = CASE WHEN "artifacts"."version" = '' THEN EXCLUDED."version" ELSE "artifacts"."version" END,
         "indexed_at" = now()`,
      [
        repo.name,
        repo.type,
        rows.map((r) => r.path),
        rows.map((r) => r.name),
        rows.map((r) => r.version),
        rows.map((r) => String(r.size)),
        rows.map((r) => r.modified),
      ],
    );
  }
}

interface Row {
  repo_type: string;
  repo_name: string;
  path: string;
  name: string;
  version: string;
  size: number;
  created_at: Date | string;
  owner: string;
}

function toHit(r: Row): SearchHit {
  return {
    repoType: r.repo_type,
    repoName: r.repo_name,
    artifactPath: r.path,
    artifactName: r.name,
    version: r.version,
    size: Number(r.size),
    createdAt: new Date(r.created_at),
    owner: r.owner,
  };
}
