// Indy store API on the repository port: /api/admin/{group|hosted|remote}[/{name}] (maven) and
// /api/admin/stores/{maven|npm}/{type}[/{name}]. Authenticated like the rest of port 8080.
import type Router from "@koa/router";
import type Koa from "koa";
import type { Principal } from "../auth/permissions.js";
import { badRequest, notFound } from "../errors.js";
import { readJsonBody } from "../server/body.js";
import { type IndyService, isPackageType, isStoreType, type PackageType, type StoreType } from "./service.js";

async function readJson(ctx: Koa.Context): Promise<unknown> {
  const body = await readJsonBody(ctx);
  if (body === undefined) throw badRequest("Body must be a JSON store definition");
  return body;
}

export interface IndyRouteDeps {
  indy: IndyService;
  /** The repository port's caller resolution (anonymous principal when no credentials were sent). */
  authenticate: (header: string | undefined, opts: { ip?: string }) => Promise<Principal>;
}

export function registerIndyRoutes(router: Router, { indy, authenticate }: IndyRouteDeps): void {
  const actor = (ctx: Koa.Context) => authenticate(ctx.get("Authorization"), { ip: ctx.ip });

  /** Resolves (pkg, type) from either URL form; null when the path is not an Indy store path. */
  const target = (ctx: Koa.Context): { pkg: PackageType; type: StoreType; threePart: boolean; prefix: string } => {
    const p = ctx.params as Record<string, string>;
    if (p.pkg !== undefined) {
      if (!isPackageType(p.pkg)) throw notFound(`Unknown package type '${p.pkg}'; known: maven, npm`);
      if (!isStoreType(p.type)) throw notFound(`Unknown store type '${p.type}'; known: hosted, remote, group`);
      return { pkg: p.pkg, type: p.type, threePart: true, prefix: `/api/admin/stores/${p.pkg}/${p.type}` };
    }
    if (!isStoreType(p.type)) throw notFound(`Unknown store type '${p.type}'; known: hosted, remote, group`);
    return { pkg: "maven", type: p.type, threePart: false, prefix: `/api/admin/${p.type}` };
  };

  for (const base of ["/api/admin/stores/:pkg/:type", "/api/admin/:type"]) {
    router.get(base, async (ctx) => {
      const t = target(ctx);
      ctx.body = await indy.list(await actor(ctx), t.pkg, t.type, t.threePart);
    });
    router.post(base, async (ctx) => {
      const t = target(ctx);
      const body = await readJson(ctx);
      const { name, store } = await indy.create(await actor(ctx), t.pkg, t.type, body, t.threePart);
      ctx.status = 201;
      ctx.set("Location", `${ctx.protocol}://${ctx.host}${t.prefix}/${encodeURIComponent(name)}`);
      ctx.body = store;
    });
    router.head(`${base}/:name`, async (ctx) => {
      const t = target(ctx);
      const ok = await indy.exists(await actor(ctx), t.pkg, t.type, ctx.params.name);
      ctx.status = ok ? 200 : 404;
      ctx.body = "";
    });
    router.get(`${base}/:name`, async (ctx) => {
      const t = target(ctx);
      ctx.body = await indy.get(await actor(ctx), t.pkg, t.type, ctx.params.name, t.threePart);
    });
    router.put(`${base}/:name`, async (ctx) => {
      const t = target(ctx);
      const body = await readJson(ctx);
      const { store } = await indy.update(await actor(ctx), t.pkg, t.type, ctx.params.name, body, t.threePart);
      ctx.status = 200;
      ctx.body = store;
    });
    router.delete(`${base}/:name`, async (ctx) => {
      const t = target(ctx);
      await indy.delete(await actor(ctx), t.pkg, t.type, ctx.params.name);
      ctx.status = 204;
      ctx.body = null;
    });
  }
}
