// Folder listings of repositories that are browsable (file, maven): HTML for people and
// `Accept: application/json` for scripts.
import { badRequest } from "../../errors.js";
import type { ListEntry } from "../../storage/types.js";
import type { FormatRequest, Reply } from "./contract.js";

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** Whether the client asked for JSON rather than HTML (an Accept naming json and not html). */
function wantsJson(accept: string | undefined): boolean {
  return !!accept && /json/i.test(accept) && !/html/i.test(accept);
}

/** HTML (default) or JSON listing of folder `dir`. */
export function listingReply(req: Pick<FormatRequest, "baseUrl" | "header">, dir: string, entries: ListEntry[]): Reply {
  const items = entries
    .map((e) => {
      const full = e.key.replace(/\/+$/, "");
      const name = full.slice(full.lastIndexOf("/") + 1);
      return { name, path: full, type: e.kind, size: e.size, modified: e.modified };
    })
    .filter((i) => i.name && !i.name.startsWith(".pantera"))
    .sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name) : a.type === "directory" ? -1 : 1));
  if (wantsJson(req.header("accept"))) return { status: 200, body: { path: dir, items } };
  const self = `${req.baseUrl}/${dir ? dir + "/" : ""}`;
  const rows = items
    .map((i) => {
      const href = self + encodeURIComponent(i.name) + (i.type === "directory" ? "/" : "");
      return `<li><a href="${escapeHtml(href)}">${escapeHtml(i.name)}${i.type === "directory" ? "/" : ""}</a>${i.size !== undefined ? ` ${i.size}` : ""}</li>`;
    })
    .join("\n");
  const title = `Index of /${escapeHtml(dir)}`;
  const parent = dir ? `<li><a href="../">../</a></li>\n` : "";
  return {
    status: 200,
    type: "text/html; charset=utf-8",
    body: `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><h1>${title}</h1>\n<ul>\n${parent}${rows}\n</ul></body></html>\n`,
  };
}

/** Paths that must name a file, not the repository root or a folder. */
export function requireFilePath(path: string): string {
  if (!path || path.endsWith("/")) throw badRequest("A file path is required");
  return path;
}

/** The files of a storage listing (not its folders). */
export const filesOf = (entries: ListEntry[]): ListEntry[] => entries.filter((e) => e.kind === "file");

/** The folders of a storage listing made with the '/' delimiter. */
export const foldersOf = (entries: ListEntry[]): ListEntry[] => entries.filter((e) => e.kind === "directory");
