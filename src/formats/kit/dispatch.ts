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

  constructor(private readonly deps: FormatKitDeps) {
    this.tags = new EntityTags(deps.services.artifacts);
    this.env = {
      services: deps.services,
      proxyCache: deps.proxyCache,
      findRepository: deps.findRepository,
      storageFor: deps.storageFor,
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

  /** Serves one client request below /<repo>/; the plugin of `r.repo.format` must be registered. */
  async serve(ctx: Koa.Context, r: ResolvedRequest): Promise<void> {
    const plugin = this.deps.registry.plugin(r.repo.format);
    if (!plugin) throw new DomainError("NOT_IMPLEMENTED", `Format '${r.repo.format}' is not served by this node`);
    try {
      const result = await this.run(ctx, plugin, r);
      if (!(await renderResult(ctx, result, this.tags))) throw notFound(`'${r.path}' not found in repository '${r.repo.name}'`);
    } catch (err) {
      if (!plugin.renderError || !(err instanceof DomainError)) throw err;
      if (err.retryAfter !== undefined) ctx.set("Retry-After", String(err.retryAfter));
      await renderResult(ctx, plugin.renderError(err.code, err.message, err.status), this.tags);
    }
  }

  private async run(ctx: Koa.Context, plugin: FormatPlugin, r: ResolvedRequest): Promise<OperationResult> {
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
    const q = ctx.querystring;
    return {
      method: ctx.method as Method,
      path: r.path,
      trailingSlash: ctx.path.endsWith("/"),
      query: new URLSearchParams(q),
      header: (name) => {
        const v = ctx.req.headers[name.toLowerCase()];
        return Array.isArray(v) ? v.join(", ") : v;
      },
      body: ctx.req,
      ip: ctx.ip,
      actor: r.actor,
      baseUrl: r.baseUrl,
    };
  }
}
