// The format kit's contract: what a package format declares, and what the kit hands it.
//
// A format says what its files are (layout, routes, operations, metadata merging); the kit
// (dispatch.ts, sources.ts) decides where they come from: hosted storage, a proxy's cache filled
// from its remotes, or a group's members. Nothing under src/formats/<format>/ branches on the
// repository kind: kind-specific behaviour is declared (`byKind`, `write` routes) and chosen here.
import type { Readable } from "node:stream";
import type { Principal, RepositoryAction } from "../../auth/permissions.js";
import type { Logger } from "../../log.js";
import type { RemoteConfig, RepositoryKind, RepositoryRecord } from "../../repositories/types.js";
import type { Digests, GetResult, ListEntry, Storage, StoredObject } from "../../storage/types.js";
import type { ConfigSchema } from "./config.js";
import type { UpstreamRequest, UpstreamResponse } from "./upstream.js";

export type Method = "GET" | "HEAD" | "PUT" | "POST" | "DELETE" | "PATCH";

// ---- routes --------------------------------------------------------------------------------

/**
 * One entry of a format's route table. `path` is matched against the path below the repository
 * root with a leading '/': literal segments, `:name` (one segment) and `*name` (one or more
 * segments, the rest of the path); or a RegExp whose named groups become params.
 * HEAD is served wherever GET is. A path that matches with another method answers 405 with an
 * `Allow` header listing the methods of every route matching it.
 */
export interface Route {
  method: Method | Method[];
  path: string | RegExp;
  /** Key into the plugin's `operations`. */
  op: string;
  /**
   * A write: proxies answer 405 (read-only); groups answer 405 too, unless the plugin sets
   * `groupWrites`, in which case `req.writeTarget()` is the group's first hosted member.
   */
  write?: boolean;
  /** Optional guard on the matched params (return false: the route does not match). */
  when?(params: Record<string, string>): boolean;
}

// ---- replies -------------------------------------------------------------------------------

/** A JSON value, sent with application/json unless `type` says otherwise. */
export type JsonBody = { [key: string]: unknown } | unknown[];

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** Content-Type (default: application/json for objects, text/plain for strings, octet-stream otherwise). */
  type?: string;
  body?: Buffer | string | Readable | JsonBody | null;
  /**
   * Bytes known to be the whole, unchanging content of this reply: the kit adds an ETag from them
   * and answers If-None-Match with 304.
   */
  cacheable?: boolean;
  /** Content-Length when the body does not give it (a stream; HEAD answers with no body). */
  length?: number;
}

/**
 * A stored file to send: the kit streams it (single-range requests, HEAD), with Last-Modified and
 * an ETag from its digest, and answers conditional requests with 304.
 */
export interface FileReply {
  file: FileHit;
  status?: number;
  type?: string;
  headers?: Record<string, string>;
}

export type OperationResult = Reply | FileReply;

export const isFileReply = (r: OperationResult): r is FileReply => "file" in r;

// ---- files the kit resolves ------------------------------------------------------------------

/** A file found for a read, wherever it came from. */
export interface FileHit {
  /** The repository holding it (a group member, for a group read). */
  repo: RepositoryRecord;
  storage: Storage;
  key: string;
  stat: StoredObject;
  /** Bytes made for this read (merged group metadata, cooldown-filtered metadata): served instead of the stored file. */
  bytes?: Buffer;
  /** The kit's own read of the stored file (`FileSource.open`), sent without reading it again. */
  opened?: GetResult;
}

/** Reads through whatever kind of repository the request addresses. */
export interface FileSource {
  /**
   * The file at `key`: hosted, from storage; proxy, from the cache or fetched once from the
   * remotes (the plugin's `proxy.plan` says how), cooldown applied; group, the first member that
   * has it, or the members' documents merged by `mergeMetadata` when the plugin merges this key.
   */
  get(key: string): Promise<FileHit | null>;
  /**
   * `get` for a file the operation sends: on a plain GET of a hosted file the kit's one read of it
   * stays open for the reply. Return the hit as `{ file }` (an unsent hit would hold the file open).
   */
  open(key: string): Promise<FileHit | null>;
  /** The bytes of `get(key)`, or null. */
  read(key: string): Promise<Buffer | null>;
  /** One folder level; a group lists the union of its members (first member holding a name wins). */
  list(dir: string): Promise<ListEntry[]>;
}

/** The hosted repository a write goes to. */
export interface HostedTarget {
  repo: RepositoryRecord;
  storage: Storage;
}

// ---- the request a format operation sees -------------------------------------------------------

export interface FormatRequest {
  readonly method: Method;
  /** Path below the repository root: URL-decoded, normalised, no leading '/'. '' is the root. */
  readonly path: string;
  /** Whether the client's URL ended in '/' (a folder was asked for). */
  readonly trailingSlash: boolean;
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  /** A request header (lower-case name), or undefined. */
  header(name: string): string | undefined;
  /** The request body, streamed. */
  readonly body: Readable;
  readonly ip: string;
  /** The caller; the anonymous principal when no credentials were sent. */
  readonly actor: Principal;
  readonly repo: RepositoryRecord;
  /** The repository's own storage (hosted: its files; proxy: its cache). */
  readonly storage: Storage;
  /** Absolute URL of the repository root as the client addressed it (prefix included, no trailing '/'). */
  readonly baseUrl: string;
  /** Throws 401 (anonymous) or 403 when `action` is not granted on this repository. */
  require(action: RepositoryAction): void;
  readonly files: FileSource;
  readonly services: FormatServices;
  /** The hosted repository writes go to (see Route.write); checks the caller's `write` permission on it. */
  writeTarget(): Promise<HostedTarget>;
  /** A group's members as requests of their own (same path, caller and base URL); [] for others or past the depth limit. */
  members(): Promise<FormatRequest[]>;
}

export type Operation = (req: FormatRequest) => Promise<OperationResult> | OperationResult;

/** An operation whose behaviour depends on the repository kind: the kit calls the matching part. */
export interface ByKind {
  byKind: Partial<Record<RepositoryKind, Operation>>;
}

/** Declares an operation with one part per repository kind (a missing part answers 405). */
export const byKind = (parts: Partial<Record<RepositoryKind, Operation>>): ByKind => ({ byKind: parts });

// ---- the services a format may use (narrow; built by the composition root) -----------------

export interface ArtifactEntry {
  path: string;
  name: string;
  version: string;
  size: number;
  checksums: Partial<Digests>;
  owner: string;
  /** Upstream release date for proxied artifacts (npm `time`, PyPI `upload-time`, Last-Modified). */
  releasedAt?: Date | null;
}

export interface ArtifactIndex {
  /** Records a stored artifact; failures are logged and never fail the request, except a database outage (503). */
  record(repo: RepositoryRecord, entry: ArtifactEntry): Promise<void>;
  /** Forgets one artifact (never fails the request). */
  forget(repo: RepositoryRecord, path: string): Promise<void>;
  /** The indexed row of `path` (its checksums, size), or null. */
  find(repo: string, path: string): Promise<{ size: bigint | number; checksums: unknown } | null>;
}

export type CooldownDecision = { allowed: true } | { allowed: false; message: string };

export interface CooldownGate {
  policy(repoType: string): Promise<{ enabled: boolean; ageMs: number }>;
  evaluate(repo: RepositoryRecord, packageName: string, version: string, releasedAt: Date | null | undefined): Promise<CooldownDecision>;
  isBlocked(repo: RepositoryRecord, packageName: string, version: string): Promise<CooldownDecision>;
  filterVersions(
    repo: RepositoryRecord,
    packageName: string,
    versions: { version: string; releasedAt: Date | null }[],
  ): Promise<{ allowed: Set<string>; blocked: Map<string, unknown> }>;
  activeBlocks(repoNames: string[], packageName: string): Promise<{ version: string; blockedUntil: Date; repoName?: string }[]>;
}

export interface UpstreamClient {
  /** One request to a remote (timeouts, credentials to its own origin, per-host limits); 502/504 as UpstreamError. */
  fetch(remote: RemoteConfig, path: string, req?: UpstreamRequest): Promise<UpstreamResponse>;
}

export interface FormatServices {
  log: Logger;
  artifacts: ArtifactIndex;
  cooldown: CooldownGate;
  upstream: UpstreamClient;
  /** Serialises read-modify-write sections across every node of the cluster. */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** A directory for staging request bodies on local disk. */
  tmpDir: string;
}

// ---- the plugin --------------------------------------------------------------------------------

export interface ArtifactId {
  name: string;
  version: string;
}

/** How a proxy fetches `key` from its remotes. */
export interface FetchPlan {
  /** Path relative to each remote's url (already encoded), or an absolute URL. Default: the encoded key. */
  remotePath?: string;
  /** Re-check the upstream once the cached copy is older than this. Default: metadata TTL for metadata, forever otherwise. */
  maxAgeMs?: number;
  headers?: Record<string, string>;
  /** Validate or rewrite the body before it is stored; throw UpstreamError(502) to reject it. */
  transform?: (body: Readable, res: UpstreamResponse) => Promise<Readable | Buffer | string> | Readable | Buffer | string;
  /**
   * The artifact this file is (recorded in the index once stored, and gated by cooldown before it
   * is fetched). Default: `layout.describe(key)`. null: not an artifact.
   */
  artifact?: ArtifactId | null;
  /**
   * The release date cooldown judges the artifact by, when known before fetching (npm `time`).
   * Undefined: the upstream's Last-Modified (asked with a HEAD on a cache miss when cooldown is on).
   */
  releasedAt?: Date | null;
}

export interface Layout {
  /** The artifact stored at `path` (search index, cooldown identity), or null for metadata, checksums and internal files. */
  describe(path: string): ArtifactId | null;
  /** Index documents that change (re-fetched by proxies after the metadata TTL, merged by groups). */
  isMetadata(path: string): boolean;
  /** The identity cooldown judges a proxied file by, when it differs from `describe` (file: its folder and name). */
  cooldownId?(path: string): ArtifactId | null;
}

export interface HookTarget extends HostedTarget {
  services: FormatServices;
}

export interface FormatPlugin {
  /** The format's name; repository types are `<format>`, `<format>-proxy`, `<format>-group`. */
  format: string;
  /** Further formats served by this same plugin (gradle shares maven's); members of any of them mix in groups. */
  aliases?: string[];
  /** The repository's config: validated on create/update, typed in GraphQL. */
  config?: ConfigSchema;
  routes: Route[];
  operations: Record<string, Operation | ByKind>;
  layout: Layout;
  /** Whether a group accepts writes (into its first hosted member of this format), as npm groups do. */
  groupWrites?: boolean;
  proxy?: {
    /** How to fetch `key` upstream; null when the upstream cannot have it (404 without asking). Default plan otherwise. */
    plan?(key: string, req: FormatRequest): Promise<FetchPlan | null> | FetchPlan | null;
    /** Cooldown on a proxy's metadata document: the bytes with blocked versions removed, or null to serve it unchanged. */
    filterCooldown?(key: string, doc: Buffer, req: FormatRequest): Promise<Buffer | null>;
  };
  /** Merges the members' copies of a metadata document (in member order), or null when this key is not merged (first hit wins). */
  mergeMetadata?(key: string, docs: { repo: RepositoryRecord; bytes: Buffer }[], req: FormatRequest): Promise<Buffer | null> | Buffer | null;
  /** Client commands for REST GET /repositories/:name/artifact/pull. */
  pullInstructions?(repo: RepositoryRecord, path: string, baseUrl: string): string[];
  /** Lifecycle hooks the management API runs on hosted repositories. */
  hooks?: {
    /** After the management API deleted a file or folder: refresh the format's metadata. */
    afterDelete?(t: HookTarget & { path: string; folder: boolean }): Promise<void>;
    /** After /.import stored a file: bring the format's metadata up to date as a deploy does. */
    afterImport?(t: HookTarget & { path: string }): Promise<void>;
    /** Search reindex: rebuild the format's own indexes from storage. */
    reindex?(t: HookTarget): Promise<void>;
  };
  /**
   * Routes mounted at the root of the repository port instead of below /<repo>/ (OCI's /v2/...).
   * The plugin resolves repositories itself (`RootRequest.repository`) and renders its errors in its clients' shape.
   */
  root?: RootMount;
}

export interface RootMount {
  /** The first path segment claimed, e.g. "v2". */
  prefix: string;
  /** Headers of every response below /<prefix> (errors included). */
  headers?: Record<string, string>;
  /**
   * Handles a request for /<prefix> or below. When <prefix> is also a configured global prefix,
   * `/<prefix>/<name>/...` naming a repository of another format is not the mount's: the kit
   * serves it through the per-repository dispatcher instead.
   */
  handle(req: RootRequest): Promise<Reply>;
}

export interface RootRequest {
  readonly method: string;
  /** Raw path after "/<prefix>" ('' or starting with '/'). */
  readonly path: string;
  readonly query: URLSearchParams;
  header(name: string): string | undefined;
  readonly body: Readable;
  readonly ip: string;
  /** Absolute origin the client used (scheme://host). */
  readonly origin: string;
  /** The repository named `name` (the one the path names is looked up once per request), or null. */
  repository(name: string): Promise<RepositoryRecord | null>;
}
