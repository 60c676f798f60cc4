// Page/size rules shared by every list operation (REST section 18).
import { badRequest } from "./errors.js";

export const MAX_PAGE_SIZE = 100;

export interface PageRequest {
  page: number;
  size: number;
}

export interface Page<T> {
  items: T[];
  page: number;
  size: number;
  total: number;
  hasMore: boolean;
}

export function pageRequest(page: number | null | undefined, size: number | null | undefined, defaultSize = 20): PageRequest {
  const p = page ?? 0;
  const s = size ?? defaultSize;
  if (!Number.isInteger(p) || p < 0) throw badRequest("'page' must be a non-negative integer");
  if (!Number.isInteger(s) || s < 1) throw badRequest("'size' must be a positive integer");
  return { page: p, size: Math.min(s, MAX_PAGE_SIZE) };
}

export function toPage<T>(items: T[], total: number, req: PageRequest): Page<T> {
  return { items, total, page: req.page, size: req.size, hasMore: (req.page + 1) * req.size < total };
}

export type SortDir = "asc" | "desc";

export function sortDirection(dir: string | null | undefined): SortDir {
  const d = (dir ?? "asc").toLowerCase();
  if (d !== "asc" && d !== "desc") throw badRequest("'sort_dir' must be 'asc' or 'desc'");
  return d;
}
