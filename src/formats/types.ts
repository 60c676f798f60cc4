// The contract between the repository port's dispatcher and each package format.
// The dispatcher (src/server/repository.ts) resolves the repository, its storage and
// the caller, then hands the request to the module registered for the repository's format.
import type Koa from "koa";
import type { AppContext } from "../context.js";
import type { Principal, RepositoryAction } from "../auth/permissions.js";
import type { RepositoryFormat, RepositoryRecord } from "../repositories/types.js";
import type { Storage } from "../storage/types.js";

export interface RequestScope {
  app: AppContext;
  repo: RepositoryRecord;
  storage: Storage;
  /** The caller; the anonymous principal when no credentials were sent. */
  actor: Principal;
  /** Path below the repository root: URL-decoded, normalised, no leading '/'. */
  path: string;
  /** Absolute URL of the repository root as the client addressed it (prefix included, no trailing '/'). */
  baseUrl: string;
  /** Throws 401 (with a Basic challenge) for anonymous callers or 403 when `action` is not granted on this repository. */
  require(action: RepositoryAction): void;
}

export interface FormatModule {
  format: RepositoryFormat;
  /** Serves one client request below /<repo>/ for hosted, proxy and group repositories of this format. */
  handle(ctx: Koa.Context, scope: RequestScope): Promise<void>;
  /** Client commands for REST GET /repositories/:name/artifact/pull. */
  pullInstructions?(repo: RepositoryRecord, path: string, baseUrl: string): string[];
  /** Search reindex: name/version of the artifact stored at `path`, or null when the file is not an artifact (metadata, checksums). */
  describeArtifact?(repo: RepositoryRecord, path: string): { name: string; version: string } | null;
  /** Runs after the management API deleted a file or folder: refresh the format's metadata (maven-metadata.xml, packuments...). */
  afterDelete?(info: { app: AppContext; repo: RepositoryRecord; storage: Storage; path: string; folder: boolean }): Promise<void>;
  /** Runs after the import API stored a file: bring the format's own indexes up to date when the file is metadata. */
  afterImport?(info: { app: AppContext; repo: RepositoryRecord; storage: Storage; path: string }): Promise<void>;
  /** Search reindex: rebuild the format's own indexes of a (non-group) repository from its storage. */
  reindex?(info: { app: AppContext; repo: RepositoryRecord; storage: Storage }): Promise<void>;
}
