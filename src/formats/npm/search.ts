// GET /-/v1/search: hosted repositories answer from their search index (search-index.ts),
// proxies ask their first remote, groups combine their members' results.
import type { RepositoryKind } from "../../repositories/types.js";
import { byKind, type ByKind, type FormatRequest, type Reply } from "../kit/contract.js";
import { forKind } from "../kit/kinds.js";
import { readBody } from "../kit/upstream.js";
import { encodeName, type Json } from "./packument.js";
import type { NpmSearchIndex } from "./search-index.js";

interface SearchHit {
  package: Json;
  score: Json;
  searchScore: number;
}

interface SearchResult {
  hits: SearchHit[];
  /** How many packages match in all (hits holds at most the limit asked for). */
  total: number;
}

const NONE: SearchResult = { hits: [], total: 0 };
const MAX_SEARCH_OFFSET = 5000;

type Finder = (req: FormatRequest, text: string, limit: number) => Promise<SearchResult>;

function finders(index: NpmSearchIndex): Record<RepositoryKind, Finder> {
  const parts: Record<RepositoryKind, Finder> = {
    async hosted(req, text, limit) {
      await index.ensureFilled(req.services, req.repo, req.storage);
      const { hits, total } = await index.search(req.repo.name, text, limit);
      return {
        total,
        hits: hits.map((h) => ({
          package: {
            name: h.name,
            version: h.version,
            description: h.description,
            keywords: h.keywords,
            date: h.publishedAt?.toISOString(),
            links: { npm: `${req.baseUrl}/${encodeName(h.name)}` },
            publisher: h.publisher ?? undefined,
            maintainers: h.maintainers,
          },
          score: { final: h.score, detail: { quality: 1, popularity: 1, maintenance: 1 } },
          searchScore: h.score,
        })),
      };
    },
    async proxy(req, text, limit) {
      const remote = req.repo.remotes[0];
      if (!remote) return NONE;
      const res = await req.services.upstream.fetch(remote, `-/v1/search?text=${encodeURIComponent(text)}&size=${limit}`, {
        headers: { accept: "application/json" },
      });
      if (res.status !== 200) {
        res.body?.destroy();
        return NONE;
      }
      try {
        const doc = JSON.parse((await readBody(res, 16 * 1024 * 1024)).toString("utf8"));
        const hits = (Array.isArray(doc?.objects) ? doc.objects : []) as SearchHit[];
        return { hits, total: typeof doc?.total === "number" ? Math.max(doc.total, hits.length) : hits.length };
      } catch {
        return NONE;
      }
    },
    async group(req, text, limit) {
      // Each member answers as its own kind would; a failing member contributes nothing.
      const results = await Promise.all((await req.members()).map((m) => forKind(m.repo, parts)(m, text, limit).catch(() => NONE)));
      return { hits: results.flatMap((r) => r.hits), total: results.reduce((n, r) => n + r.total, 0) };
    },
  };
  return parts;
}

async function answer(find: Finder, req: FormatRequest): Promise<Reply> {
  req.require("read");
  const q = req.query;
  const text = q.get("text") ?? "";
  const size = Math.min(250, Math.max(1, Math.floor(Number(q.get("size") ?? 20)) || 20));
  const from = Math.max(0, Math.floor(Number(q.get("from") ?? 0)) || 0);
  // Paging deeper than this is not browsing: members are never asked for more, and pages past it are empty.
  const { hits: all, total } = await find(req, text, Math.min(from, MAX_SEARCH_OFFSET) + size);
  const seen = new Set<string>();
  const unique = all.filter((h) => {
    const n = h.package?.name;
    if (typeof n !== "string" || seen.has(n)) return false;
    seen.add(n);
    return true;
  });
  unique.sort((a, b) => (b.searchScore ?? 0) - (a.searchScore ?? 0));
  // A package found in several group members counts once (exact while no member hit the limit).
  const matched = Math.max(unique.length, total - (all.length - unique.length));
  return { status: 200, body: { objects: from > MAX_SEARCH_OFFSET ? [] : unique.slice(from, from + size), total: matched, time: new Date().toUTCString() } };
}

/** The search operation, one part per repository kind. */
export function searchOperation(index: NpmSearchIndex): ByKind {
  const parts = finders(index);
  return byKind({
    hosted: (req) => answer(parts.hosted, req),
    proxy: (req) => answer(parts.proxy, req),
    group: (req) => answer(parts.group, req),
  });
}
