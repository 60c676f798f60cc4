// A format's route table, compiled once: method + path pattern → operation, and the Allow
// header of a path (405) derived from the same table.
import type { Method, Route } from "./contract.js";

interface CompiledRoute {
  route: Route;
  methods: Set<string>;
  /** Params of `path` (its segments given too, split once per request), or null. */
  match(path: string, segs: string[]): Record<string, string> | null;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

/** `/a/:b/*c` → a matcher over '/'-joined paths; RegExp patterns use their named groups. */
function compilePattern(pattern: string | RegExp): (path: string, segs: string[]) => Record<string, string> | null {
  if (pattern instanceof RegExp) {
    return (path) => {
      const m = pattern.exec(path);
      return m ? { ...(m.groups ?? {}) } : null;
    };
  }
  const parts = pattern.split("/").filter(Boolean);
  return (_path, segs) => {
    const params: Record<string, string> = {};
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (p.startsWith("*")) {
        if (i !== parts.length - 1) throw new Error(`'${pattern}': a rest parameter must come last`);
        if (segs.length <= i) return null;
        params[p.slice(1)] = segs.slice(i).join("/");
        return params;
      }
      const seg = segs[i];
      if (seg === undefined) return null;
      if (p.startsWith(":")) params[p.slice(1)] = seg;
      else if (p !== seg) return null;
    }
    return segs.length === parts.length ? params : null;
  };
}

export class RouteTable {
  private readonly compiled: CompiledRoute[];
  constructor(routes: Route[]) {
    this.compiled = routes.map((route) => {
      const methods = new Set<string>(Array.isArray(route.method) ? route.method : [route.method]);
      if (methods.has("GET")) methods.add("HEAD");
      const match = compilePattern(route.path);
      return { route, methods, match };
    });
  }

  /**
   * The first route matching `method` and `path` ('/'-prefixed); otherwise the methods allowed on
   * the path (empty: no route has the path at all).
   */
  resolve(method: string, path: string): RouteMatch | { allowed: Method[] } {
    const segs = path.split("/").filter(Boolean);
    let allowed: Set<string> | undefined;
    for (const c of this.compiled) {
      const params = c.match(path, segs);
      if (!params || (c.route.when && !c.route.when(params))) continue;
      if (c.methods.has(method)) return { route: c.route, params };
      allowed ??= new Set();
      for (const m of c.methods) allowed.add(m);
    }
    return { allowed: ORDER.filter((m) => allowed?.has(m)) };
  }
}

const ORDER: Method[] = ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"];
