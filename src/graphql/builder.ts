// The Pothos builder: the single domain surface every management operation goes through.
import SchemaBuilder, { type ObjectRef } from "@pothos/core";
import PrismaPlugin from "@pothos/plugin-prisma";
import type PrismaTypes from "../db/generated/pothos-types.js";
import { getDatamodel } from "../db/generated/pothos-types.js";
import { Kind, valueFromASTUntyped, type ValueNode } from "graphql";
import { badRequest } from "../errors.js";
import { jsonDepthExceeds, MAX_JSON_DEPTH } from "../json.js";
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

/** A JSON input as is; 400 when it nests deeper than MAX_JSON_DEPTH (whatever walks it next would overflow the stack). */
function checkedJson(v: unknown): unknown {
  if (jsonDepthExceeds(v)) throw badRequest(`JSON value nests deeper than ${MAX_JSON_DEPTH} levels`);
  return v;
}

/** Whether a literal nests lists and objects deeper than MAX_JSON_DEPTH; iterative, like jsonDepthExceeds. */
function literalTooDeep(node: ValueNode): boolean {
  const pending: [ValueNode, number][] = [[node, 0]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [n, depth] = next;
    if (n.kind !== Kind.LIST && n.kind !== Kind.OBJECT) continue;
    if (depth + 1 > MAX_JSON_DEPTH) return true;
    for (const child of n.kind === Kind.LIST ? n.values : n.fields.map((f) => f.value)) pending.push([child, depth + 1]);
  }
  return false;
}

builder.scalarType("JSON", {
  description: "Arbitrary JSON value",
  serialize: (v) => v,
  parseValue: checkedJson,
  parseLiteral: (node, variables) => {
    if (literalTooDeep(node)) throw badRequest(`JSON value nests deeper than ${MAX_JSON_DEPTH} levels`);
    return checkedJson(valueFromASTUntyped(node, variables));
  },
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
export function pageType<T extends object>(name: string, item: ObjectRef<any, T>) {
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
