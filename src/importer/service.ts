// Bulk import (REST section 16): PUT|POST /.import/<repo>/<path> on the repository port.
// Idempotency keys, checksum policy (VERIFY / STORE / NONE), metadata-only imports and a
// bounded queue (503 RETRY_LATER when full). Bytes are streamed to storage, never buffered.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Principal } from "../auth/permissions.js";
import type { ArtifactRecords } from "../artifacts/records.js";
import type { Database } from "../db/index.js";
import { DomainError } from "../errors.js";
import type { FormatHooks } from "../formats/kit/hooks.js";
import { requireRepository } from "../formats/kit/request.js";
import { parseRepositoryType, type RepositoryRecord } from "../repositories/types.js";
import { DigestStream } from "../storage/digest.js";
import { normaliseKey, type Digests } from "../storage/types.js";
import type { Storage } from "../storage/types.js";

export type ImportStatus = "CREATED" | "ALREADY_PRESENT" | "CHECKSUM_MISMATCH" | "INVALID_METADATA" | "RETRY_LATER" | "NOT_FOUND";

export interface ImportResult {
  httpStatus: number;
  body: { status: ImportStatus; message: string; size: number; digests: Partial<Digests> };
}

export interface ImportRequest {
  actor: Principal;
  repo: string;
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  body: Readable;
}

const result = (httpStatus: number, status: ImportStatus, message: string, size = 0, digests: Partial<Digests> = {}): ImportResult => ({
  httpStatus,
  body: { status, message, size, digests },
});

const ALG_NAMES: Record<keyof Digests, string> = { md5: "MD5", sha1: "SHA-1", sha256: "SHA-256", sha512: "SHA-512" };

function timestamp(raw: string | undefined, header: string): Date | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d{1,15}$/.test(raw.trim())) throw new InvalidMetadata(`${header} must be milliseconds since the epoch`);
  return new Date(Number(raw.trim()));
}

class InvalidMetadata extends Error {}

async function drain(body: Readable): Promise<void> {
  for await (const _ of body); // discard
}

export interface ImportServiceDeps {
  db: Database;
  /** The `import` section: concurrency and queue size. */
  settings: { getRaw(section: string): Promise<Record<string, unknown>> };
  repositories: { find(name: string): Promise<RepositoryRecord | null> };
  storages: { forRepository(repo: RepositoryRecord): Promise<Storage> };
  artifacts: Pick<ArtifactRecords, "record">;
  /** What the format says a file is, and its afterImport hook. */
  hooks: Pick<FormatHooks, "describe" | "afterImport">;
}

/** The import service of one node (its queue is per node). */
export class ImportService {
  active = 0;
  private waiting: Array<() => void> = [];

  constructor(private deps: ImportServiceDeps) {}

  private async limits(): Promise<{ concurrency: number; queue: number }> {
    const cfg = await this.deps.settings.getRaw("import");
    const n = (v: unknown, d: number) => (typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : d);
    return { concurrency: Math.max(1, n(cfg.concurrency, 8)), queue: n(cfg.queue_size, 256) };
  }

  /** Takes a slot in the bounded queue, or null when the queue is full. */
  private async acquire(): Promise<(() => void) | null> {
    const { concurrency, queue } = await this.limits();
    if (this.active >= concurrency) {
      if (this.waiting.length >= queue) return null;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.waiting.shift()?.();
    };
  }

  async import(req: ImportRequest): Promise<ImportResult> {
    const release = await this.acquire();
    if (!release) {
      req.body.resume(); // let the client finish sending; the answer is already decided
      return result(503, "RETRY_LATER", "Import queue is full, retry after 5 seconds");
    }
    try {
      return await this.run(req);
    } catch (err) {
      if (err instanceof InvalidMetadata) {
        req.body.resume();
        return result(400, "INVALID_METADATA", err.message);
      }
      throw err;
    } finally {
      release();
    }
  }

  private async run(req: ImportRequest): Promise<ImportResult> {
    const h = req.headers;
    const repoType = h["x-pantera-repo-type"]?.trim();
    if (!repoType) throw new InvalidMetadata("Missing required header X-Pantera-Repo-Type");
    const key = h["x-pantera-idempotency-key"]?.trim();
    if (!key) throw new InvalidMetadata("Missing required header X-Pantera-Idempotency-Key");
    if (key.length > 512) throw new InvalidMetadata("X-Pantera-Idempotency-Key must be at most 512 characters");
    const repo = await this.deps.repositories.find(req.repo);
    if (!repo) {
      req.body.resume();
      return result(404, "NOT_FOUND", `Repository '${req.repo}' not found`);
    }
    requireRepository(req.actor, repo.name, "write");
    const wanted = parseRepositoryType(repoType)?.format ?? repoType.toLowerCase();
    if (wanted !== repo.format) throw new InvalidMetadata(`X-Pantera-Repo-Type '${repoType}' does not match repository '${repo.name}' of type ${repo.type}`);
    let path: string;
    try {
      path = normaliseKey(req.path);
    } catch (err) {
      throw new InvalidMetadata(err instanceof DomainError ? err.message : "Invalid path");
    }
    if (!path) throw new InvalidMetadata("An artifact path is required after the repository name");
    const mode = (h["x-pantera-checksum-mode"]?.trim().toUpperCase() || "VERIFY") as "VERIFY" | "STORE" | "NONE";
    if (!["VERIFY", "STORE", "NONE"].includes(mode)) throw new InvalidMetadata("X-Pantera-Checksum-Mode must be VERIFY, STORE or NONE");
    const expected: Partial<Digests> = {};
    for (const [alg, header] of [
      ["sha1", "x-pantera-checksum-sha1"],
      ["sha256", "x-pantera-checksum-sha256"],
      ["md5", "x-pantera-checksum-md5"],
    ] as const) {
      const v = h[header]?.trim().toLowerCase();
      if (!v) continue;
      if (!/^[0-9a-f]+$/.test(v) || v.length !== { sha1: 40, sha256: 64, md5: 32 }[alg])
        throw new InvalidMetadata(`X-Pantera-Checksum-${alg[0].toUpperCase() + alg.slice(1)} is not a valid ${ALG_NAMES[alg]} hex digest`);
      expected[alg] = v;
    }
    const sizeHeader = h["x-pantera-artifact-size"] ?? h["content-length"];
    if (sizeHeader !== undefined && sizeHeader !== "" && !/^\d{1,18}$/.test(sizeHeader.trim()))
      throw new InvalidMetadata("X-Pantera-Artifact-Size must be a non-negative integer");
    const declaredSize = sizeHeader ? Number(sizeHeader) : undefined;
    const created = timestamp(h["x-pantera-artifact-created"], "X-Pantera-Artifact-Created");
    const released = timestamp(h["x-pantera-artifact-release"], "X-Pantera-Artifact-Release");
    const metadataOnly = /^(true|1|yes)$/i.test(h["x-pantera-metadata-only"]?.trim() ?? "");

    const prisma = this.deps.db.prisma;
    const previous = await prisma.importKey.findUnique({ where: { key } });
    if (previous) {
      const digests = previous.digests as Partial<Digests>;
      const size = Number(previous.size);
      if (previous.repoName !== repo.name || previous.path !== path) {
        req.body.resume();
        return result(409, "CHECKSUM_MISMATCH", `Idempotency key '${key}' was already used for ${previous.repoName}/${previous.path}`, size, digests);
      }
      // Replay: compare what was declared (or, failing that, the bytes) with what was imported.
      let actual: Partial<Digests> = expected;
      if (!metadataOnly && !Object.keys(expected).length) {
        const d = new DigestStream();
        // Drained as it is hashed: only the digests are kept.
        await pipeline(req.body, d, async (src: AsyncIterable<unknown>) => {
          for await (const _ of src);
        });
        actual = d.digests();
      } else req.body.resume();
      for (const alg of ["sha256", "sha1", "md5"] as const) {
        if (actual[alg] && digests[alg] && actual[alg] !== digests[alg]) {
          return result(409, "CHECKSUM_MISMATCH", `${ALG_NAMES[alg]} mismatch: expected ${digests[alg]} got ${actual[alg]}`, size, digests);
        }
      }
      return result(200, "ALREADY_PRESENT", "Artifact already exists with matching checksum", size, digests);
    }

    let size: number;
    let digests: Partial<Digests>;
    let stored: Storage | null = null;
    if (metadataOnly) {
      await drain(req.body);
      size = declaredSize ?? 0;
      digests = expected;
    } else {
      const storage = (stored = await this.deps.storages.forRepository(repo));
      const hasher = new DigestStream();
      const counted = req.body.pipe(hasher);
      req.body.once("error", (err) => hasher.destroy(err));
      try {
        const put = await storage.put(path, counted, mode === "VERIFY" && Object.keys(expected).length ? { expect: expected } : {});
        size = put.size;
        digests = put.digests;
      } catch (err) {
        if (err instanceof DomainError && err.code === "BAD_REQUEST" && /checksum mismatch/i.test(err.message)) {
          const got = hasher.digests();
          const alg = (["sha256", "sha1", "md5"] as const).find((a) => expected[a] && expected[a] !== got[a]) ?? "sha256";
          return result(409, "CHECKSUM_MISMATCH", `${ALG_NAMES[alg]} mismatch: expected ${expected[alg]} got ${got[alg]}`, hasher.size, got);
        }
        throw err;
      }
      if (mode === "STORE") digests = { ...digests, ...expected }; // keep what the source registry declared
    }
    const describe = this.deps.hooks.describe(repo, path) ?? null;
    await this.deps.artifacts.record({
      repo,
      path,
      name: h["x-pantera-artifact-name"]?.trim() || describe?.name || path.slice(path.lastIndexOf("/") + 1),
      version: h["x-pantera-artifact-version"]?.trim() || describe?.version || "",
      size,
      checksums: digests,
      owner: h["x-pantera-artifact-owner"]?.trim() || req.actor.name,
      createdAt: created,
      releasedAt: released ?? null,
    });
    if (stored) await this.deps.hooks.afterImport(repo, stored, path);
    try {
      await prisma.importKey.create({ data: { key, repoName: repo.name, path, size: BigInt(size), digests: digests as object } });
    } catch (err) {
      if ((err as { code?: string }).code !== "P2002") throw err; // a concurrent replay recorded it first
    }
    return result(201, "CREATED", "Artifact imported successfully", size, digests);
  }
}

/** Request headers as a lower-case map of single values. */
export function headerMap(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = Array.isArray(v) ? v[0] : v;
  return out;
}
