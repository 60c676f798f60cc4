// The Pothos builder: the single domain surface every management operation goes through.
import SchemaBuilder from "@pothos/core";
import PrismaPlugin from "@pothos/plugin-prisma";
import type PrismaTypes from "../db/generated/pothos-types.js";
import { getDatamodel } from "../db/generated/pothos-types.js";
import type { RequestContext } from "./context.js";

export const builder = new SchemaBuilder<{
  Context: RequestContext;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  Scalars: {
    JSON: { Input: unknown; Output: unknown };
    DateTime: { Input: Date; Output: Date | string };
  };
}>({
  plugins: [PrismaPlugin],
  defaultFieldNullability: false,
  prisma: {
    client: (ctx) => ctx.app.db.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
  },
});

builder.queryType({});
builder.mutationType({});

builder.scalarType("JSON", {
  description: "Arbitrary JSON value",
  serialize: (v) => v,
  parseValue: (v) => v,
});

builder.scalarType("DateTime", {
  description: "ISO-8601 timestamp",
  serialize: (v) => (v instanceof Date ? v.toISOString() : new Date(v).toISOString()),
  parseValue: (v) => {
    const d = new Date(String(v));
    if (Number.isNaN(d.getTime())) throw new TypeError("Invalid DateTime");
    return d;
  },
});

/** Page envelope type for a list of `item` objects (REST section 18). */
export function pageType<T extends object>(name: string, item: Parameters<typeof builder.objectRef<T>>[0] | any) {
  return builder.objectRef<{ items: T[]; page: number; size: number; total: number; hasMore: boolean }>(name).implement({
    fields: (t) => ({
      items: t.field({ type: [item], resolve: (p) => p.items as never }),
      page: t.exposeInt("page"),
      size: t.exposeInt("size"),
      total: t.exposeInt("total"),
      hasMore: t.exposeBoolean("hasMore"),
    }),
  });
}

export const StatusRef = builder.objectRef<{ status: string }>("Status").implement({
  description: "Outcome of a write operation",
  fields: (t) => ({ status: t.exposeString("status") }),
});
