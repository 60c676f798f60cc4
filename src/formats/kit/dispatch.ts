// The kit's dispatcher: one request below /<repo>/ → the plugin of the repository's format, the
// route its table declares, the operation (or the part of it for this repository kind), and the
// reply written back. 404 for paths no route has, 405 + Allow for other methods, 405 for writes to
// read-only repositories; errors in the plugin's client shape when it has one.
import type Koa from "koa";
import type { Principal } from "../../auth/permissions.js";
import { DomainError, methodNotAllowed, notFound } from "../../errors.js";
import type { RepositoryRecord } from "../../repositories/types.js";
import type { Storage } from "../../storage/types.js";
import type { FormatPlugin, FormatServices, Method, Operation, OperationResult } from "./contract.js";
import { KitRequest, type Incoming, type KitEnv } from "./request.js";
import type { ProxyCache } from "./proxy-cache.js";
import type { FormatRegistry } from "./registry.js";
import { EntityTags, renderResult } from "./reply.js";

/** A request the repository port resolved: repository, storage, caller, path below the root. */
export interface ResolvedRequest {
  repo: RepositoryRecord;
  storage: Storage;
  actor: Principal;
  path: string;
  baseUrl: string;
}

export interface FormatKitDeps {
  registry: FormatRegistry;
  services: FormatServices;
  proxyCache: ProxyCache;
  findRepository(name: string): Promise<RepositoryRecord | null>;
  storageFor(repo: RepositoryRecord): Promise<Storage>;
}

const METHODS = new Set<string>(["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"]);

export class FormatKit {
  readonly tags: EntityTags;
  private readonly env: KitEnv;
  /** Root mounts by the path segment they claim. */
  private readonly mounts = new Map<string, FormatPlugin>();

  constructor(private readonly deps: FormatKitDeps) {
    this.tags = new EntityTags(deps.services.artifacts);
    for (const plugin of deps.registry.rootMounts()) {
      if (this.mounts.has(plugin.root!.prefix)) throw new Error(`Root path '/${plugin.root!.prefix}' is mounted twice`);
      this.mounts.set(plugin.root!.prefix, plugin);
    }
    this.env = {
      services: deps.services,
      proxyCache: deps.proxyCache,
      findRepository: (name) => deps.findRepository(name),
      storageFor: (repo) => deps.storageFor(repo),
      pluginOf: (format) => deps.registry.plugin(format),
    };
  }

  get registry(): FormatRegistry {
    return this.deps.registry;
  }

  get services(): FormatServices {
    return this.deps.services;
  }

  /** A request of the kit for `plugin` (hooks and tests build them without Koa). */
  request(plugin: FormatPlugin, incoming: Incoming, repo: RepositoryRecord, storage: Storage): KitRequest {
    return new KitRequest(this.env, plugin, incoming, repo, storage);
  }

  /**
   * Serves a request below a plugin's root mount (/<prefix>, /<prefix>/...); false when no mount
   * claims the path, or when <prefix> is also a configured global prefix and the path goes on to
   * name a repository of another format (`/<prefix>/<name>/...`): the per-repository dispatcher
   * serves that one.
   */
  serveRoot(ctx: Koa.Context, globalPrefixes: () => Promise<readonly string[]>): Promise<boolean> | false {
    const raw = ctx.path;
    const end = raw.indexOf("/", 1);
    const prefix = end < 0 ? raw.slice(1) : raw.slice(1, end);
    const plugin = this.mounts.get(prefix);
    // (Synchronous when no mount claims the path: the common case costs no promise.)
    if (!plugin) return false;
    return this.serveMount(ctx, plugin, prefix, end < 0 ? "" : raw.slice(end), globalPrefixes);
  }

  private async serveMount(
    ctx: Koa.Context,
    plugin: FormatPlugin,
    prefix: string,
    path: string,
    globalPrefixes: () => Promise<readonly string[]>,
  ): Promise<boolean> {
    // The repository the path names, looked up once: the mount resolves it again through `repository`.
    const named = /^\/([^/]+)\//.exec(path);
    let name: string | undefined;
    let repo: Promise<RepositoryRecord | null> | undefined;
    if (named) {
      try {
        name = decodeURIComponent(named[1]);
      } catch {
        name = undefined; // the mount answers malformed names in its own shape
      }
      if (name !== undefined) {
        repo = this.deps.findRepository(name);
        // A failed lookup (database down) is the mount's to answer, in its shape, when it asks for the repository.
        const found = await repo.catch(() => null);
        if (found && this.deps.registry.plugin(found.format) !== plugin && (await globalPrefixes()).includes(prefix)) return false;
      }
    }
    const mount = plugin.root!;
    for (const [k, v] of Object.entries(mount.headers ?? {})) ctx.set(k, v);
    ctx.state.route = path ? `/${prefix}/{*rest}` : `/${prefix}`;
    const reply = await mount.handle({
      method: ctx.method,
      path,
      query: new URLSearchParams(ctx.querystring),
      header: (h) => {
        const v = ctx.req.headers[h.toLowerCase()];
        return Array.isArray(v) ? v.join(", ") : v;
      },
      body: ctx.req,
      ip: ctx.ip,
      origin: `${ctx.protocol}://${ctx.host}`,
      repository: (n) => (repo && n === name ? repo : this.deps.findRepository(n)),
    });
    await renderResult(ctx, reply, this.tags);
    return true;
  }

  /** Serves one client request below /<repo>/; the plugin of `r.repo.format` must be registered. */
  async serve(ctx: Koa.Context, r: ResolvedRequest): Promise<void> {
    const plugin = this.deps.registry.plugin(r.repo.format);
    if (!plugin) throw new DomainError("NOT_IMPLEMENTED", `Format '${r.repo.format}' is not served by this node`);
    // Errors go to the repository port's one mapping of the error table ({error, message, status});
    // a format whose clients need another shape answers below its own root mount (OCI).
    const result = await this.run(ctx, plugin, r);
    if (!(await renderResult(ctx, result, this.tags))) throw notFound(`'${r.path}' not found in repository '${r.repo.name}'`);
  }

  /** The operation's result (synchronous throws for 404/405: the caller awaits it either way). */
  private run(ctx: Koa.Context, plugin: FormatPlugin, r: ResolvedRequest): Promise<OperationResult> | OperationResult {
    const method = ctx.method;
    const table = this.deps.registry.routes(plugin);
    const path = "/" + r.path;
    const match = METHODS.has(method) ? table.resolve(method, path) : table.resolve("", path);
    if ("allowed" in match) {
      if (!match.allowed.length) throw notFound(`No ${plugin.format} endpoint at '${path}' in repository '${r.repo.name}'`);
      ctx.set("Allow", match.allowed.join(", "));
      throw methodNotAllowed(`${method} is not supported at '${path}'`);
    }
    const { route, params } = match;
    const writable = r.repo.kind === "hosted" || (r.repo.kind === "group" && plugin.groupWrites);
    if (route.write && !writable) {
      const reads = table.resolve("", path);
      if ("allowed" in reads) ctx.set("Allow", reads.allowed.filter((m) => m === "GET" || m === "HEAD").join(", "));
      throw methodNotAllowed(`Repository '${r.repo.name}' (${r.repo.type}) is read-only`);
    }
    const declared = plugin.operations[route.op];
    if (!declared) throw new Error(`Format '${plugin.format}' routes to an operation it does not declare: '${route.op}'`);
    const op: Operation | undefined = "byKind" in declared ? declared.byKind[r.repo.kind] : declared;
    if (!op) throw methodNotAllowed(`${method} is not supported on ${r.repo.type} repository '${r.repo.name}'`);
    const req = this.request(plugin, this.incoming(ctx, r), r.repo, r.storage);
    req.params = params;
    return op(req);
  }

  private incoming(ctx: Koa.Context, r: ResolvedRequest): Incoming {
    return new KoaIncoming(ctx, r);
  }
}

/** The transport parts of a Koa request, read when asked for (the hot path reads few of them). */
class KoaIncoming implements Incoming {
  readonly method: Method;
  readonly path: string;
  readonly actor: Principal;
  readonly baseUrl: string;
  private parsedQuery: URLSearchParams | undefined;

  constructor(
    private readonly ctx: Koa.Context,
    r: ResolvedRequest,
  ) {
    this.method = ctx.method as Method;
    this.path = r.path;
    this.actor = r.actor;
    this.baseUrl = r.baseUrl;
  }

  get trailingSlash(): boolean {
    return this.ctx.path.endsWith("/");
  }
  get query(): URLSearchParams {
    return (this.parsedQuery ??= new URLSearchParams(this.ctx.querystring));
  }
  get body() {
    return this.ctx.req;
  }
  get ip(): string {
    return this.ctx.ip;
  }
  header(name: string): string | undefined {
    const v = this.ctx.req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(", ") : v;
  }
}
