// Bounds on one /graphql request, checked before any resolver runs: parser tokens, depth, aliases and a static
// cost estimate, anonymous introspection, and an execution time budget. The three apps of a node share one event
// loop, so an unbounded query would stall artifact serving on the repository port too.
import {
  BREAK,
  GraphQLError,
  Kind,
  OperationTypeNode,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  isObjectType,
  isInterfaceType,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValueNode,
  visit,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { GraphqlLimits } from "../config.js";
import { ERROR_STATUS, type ErrorCode } from "../errors.js";
import { MAX_PAGE_SIZE } from "../pagination.js";
import { containsNul, NUL_MESSAGE } from "../json.js";
import type { RequestContext } from "./context.js";

/** Arguments that set how many items a list field returns (page size, tree listing limit). */
const PAGE_ARGS = ["size", "limit", "first", "last"];
/** Items assumed for a list without a page argument, or with one left out (the services' default page). */
export const DEFAULT_LIST_SIZE = 20;

/**
 * A GraphQL error with the domain code and status in `extensions` (as DomainError), and the HTTP status Yoga
 * should answer with (`extensions.http`, which Yoga removes from the body).
 */
export function requestError(code: ErrorCode, message: string, retryAfter?: number): GraphQLError {
  const status = ERROR_STATUS[code];
  const headers: Record<string, string> = {};
  if (retryAfter !== undefined) headers["Retry-After"] = String(retryAfter);
  if (code === "UNAUTHORIZED") headers["WWW-Authenticate"] = 'Bearer realm="pantera"'; // as the REST error handler
  const error = new GraphQLError(message, {
    extensions: { code, status, ...(retryAfter === undefined ? {} : { retryAfter }), http: { status, headers } },
  });
  refusals.set(error, { status, headers });
  return error;
}

/** Errors made by requestError, with the HTTP answer they call for. */
const refusals = new WeakMap<GraphQLError, { status: number; headers: Record<string, string> }>();

export interface DocumentMeasure {
  /** Deepest field nesting of any operation (fragments expanded). */
  depth: number;
  /** Aliased fields as written (a fragment's once per operation and page size it is spread under, not per spread). */
  aliases: number;
  /** Estimated cost summed over the document's operations (fragments expanded). */
  cost: number;
  /** Whether an operation selects `__schema` or `__type`. */
  introspection: boolean;
  /** `__schema` selections (fragments expanded): each one answers the whole schema. */
  schemaSelections: number;
}

type Measure = { depth: number; cost: number; schemas: number };

/**
 * Measures a parsed document against the schema without validating it: unknown fields count one each and have
 * no multiplier, fragment cycles are cut (validation reports them later). Each fragment is measured once per
 * page context, so nested spreads cannot make this walk exponential.
 */
export function measureDocument(schema: GraphQLSchema, doc: DocumentNode, variables: Record<string, unknown> = {}): DocumentMeasure {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of doc.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const memo = new Map<string, Measure>();
  const visiting = new Set<string>();
  let aliases = 0;
  let introspection = false;
  /** The walked operation's variable values, with its declared defaults for those not sent. */
  let values: Record<string, unknown> = {};

  const pageSize = (field: GraphQLField<unknown, unknown>, node: FieldNode): number | undefined => {
    const arg = field.args.find((a) => PAGE_ARGS.includes(a.name));
    if (!arg) return undefined;
    const given = node.arguments?.find((a) => a.name.value === arg.name)?.value;
    let n = given ? intValue(given, values) : undefined;
    if (n === undefined && typeof arg.defaultValue === "number") n = arg.defaultValue;
    n = n === undefined || n < 1 ? DEFAULT_LIST_SIZE : n;
    return arg.name === "size" ? Math.min(n, MAX_PAGE_SIZE) : n; // pageRequest caps `size`
  };

  const fieldDef = (parent: GraphQLCompositeType | undefined, name: string) => {
    if (name === "__typename") return TypeNameMetaFieldDef;
    if (parent === schema.getQueryType() && name === "__schema") return SchemaMetaFieldDef;
    if (parent === schema.getQueryType() && name === "__type") return TypeMetaFieldDef;
    return parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;
  };

  // `page` is the size a paged parent passes to the list fields directly inside it (`items` of a page type).
  const selection = (set: SelectionSetNode, parent: GraphQLCompositeType | undefined, page: number | undefined): Measure => {
    let depth = 0;
    let cost = 0;
    let schemas = 0;
    for (const sel of set.selections) {
      let m: Measure;
      if (sel.kind === Kind.FIELD) m = field(sel, parent, page);
      else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const type = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent;
        m = selection(sel.selectionSet, isCompositeType(type) ? type : undefined, page);
      } else m = spread(sel.name.value, page);
      depth = Math.max(depth, m.depth);
      cost += m.cost;
      schemas += m.schemas;
    }
    return { depth, cost, schemas };
  };

  const spread = (name: string, page: number | undefined): Measure => {
    const key = `${name}\0${page ?? ""}`;
    const known = memo.get(key);
    if (known) return known;
    const def = fragments.get(name);
    if (!def || visiting.has(key)) return { depth: 0, cost: 0, schemas: 0 };
    visiting.add(key);
    const type = schema.getType(def.typeCondition.name.value);
    const m = selection(def.selectionSet, isCompositeType(type) ? type : undefined, page);
    visiting.delete(key);
    memo.set(key, m);
    return m;
  };

  const field = (node: FieldNode, parent: GraphQLCompositeType | undefined, inheritedPage: number | undefined): Measure => {
    if (node.alias) aliases++;
    const def = fieldDef(parent, node.name.value);
    if (def === SchemaMetaFieldDef || def === TypeMetaFieldDef) introspection = true;
    const schemas = def === SchemaMetaFieldDef ? 1 : 0;
    if (!node.selectionSet) return { depth: 1, cost: 1, schemas };
    const type = def ? getNullableType(def.type) : undefined;
    const named = type ? getNamedType(type) : undefined;
    const own = def ? pageSize(def, node) : undefined;
    const list = type !== undefined && isListType(type);
    // A paged list multiplies by its own size; a paged object (a page type) hands its size to the lists inside it.
    // Lists of the introspection types count once: `__schema` selections are capped by number instead.
    const introspective = parent !== undefined && parent.name.startsWith("__");
    const multiplier = list && !introspective ? (own ?? inheritedPage ?? DEFAULT_LIST_SIZE) : 1;
    const inner = selection(node.selectionSet, isCompositeType(named) ? named : undefined, list ? undefined : own);
    return { depth: 1 + inner.depth, cost: 1 + multiplier * inner.cost, schemas: schemas + inner.schemas };
  };

  let depth = 0;
  let cost = 0;
  let schemaSelections = 0;
  for (const def of doc.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION) continue;
    values = { ...variables };
    for (const v of def.variableDefinitions ?? []) {
      if (values[v.variable.name.value] === undefined && v.defaultValue) values[v.variable.name.value] = intValue(v.defaultValue, {});
    }
    memo.clear(); // fragments may read this operation's variables
    const root =
      def.operation === OperationTypeNode.QUERY
        ? schema.getQueryType()
        : def.operation === OperationTypeNode.MUTATION
          ? schema.getMutationType()
          : schema.getSubscriptionType();
    const m = selection(def.selectionSet, root ?? undefined, undefined);
    depth = Math.max(depth, m.depth);
    cost += m.cost;
    schemaSelections += m.schemas;
  }
  return { depth, aliases, cost, introspection, schemaSelections };
}

function intValue(value: ValueNode, variables: Record<string, unknown>): number | undefined {
  if (value.kind === Kind.INT) return Number(value.value);
  if (value.kind === Kind.VARIABLE) {
    const v = variables[value.name.value];
    return typeof v === "number" && Number.isFinite(v) ? v : undefined;
  }
  return undefined;
}

/** The first limit a document breaks, as a 400 error, or undefined. */
export function checkDocument(measure: DocumentMeasure, limits: GraphqlLimits, anonymous: boolean): GraphQLError | undefined {
  if (measure.depth > limits.maxDepth) return requestError("BAD_REQUEST", `Query depth ${measure.depth} exceeds the limit of ${limits.maxDepth}`);
  if (measure.aliases > limits.maxAliases) return requestError("BAD_REQUEST", `Query has ${measure.aliases} aliases; the limit is ${limits.maxAliases}`);
  if (measure.cost > limits.maxCost) return requestError("BAD_REQUEST", `Query cost ${measure.cost} exceeds the limit of ${limits.maxCost}`);
  // One `__schema` answers everything (about 90 KB here, milliseconds of synchronous work); more only repeat it.
  if (measure.schemaSelections > 1) return requestError("BAD_REQUEST", `Query selects __schema ${measure.schemaSelections} times; once is enough`);
  if (measure.introspection && limits.introspection === "off") return requestError("FORBIDDEN", "GraphQL introspection is disabled");
  if (measure.introspection && limits.introspection === "authenticated" && anonymous) {
    return requestError("UNAUTHORIZED", "GraphQL introspection is available to signed-in callers only");
  }
  return undefined;
}

/** Whether a string literal of the document holds a NUL character. */
function hasNulLiteral(doc: DocumentNode): boolean {
  let found = false;
  visit(doc, {
    StringValue(node) {
      if (!node.value.includes("\0")) return undefined;
      found = true;
      return BREAK;
    },
  });
  return found;
}

/** What the plugin reads from Yoga's initial context: the request's variables and the Koa state. */
interface LimitsContext {
  params?: { variables?: Record<string, unknown> | null };
  koa?: { state: { gql?: RequestContext } };
}

/**
 * The Yoga plugin enforcing `limits`. Yoga's validation cache must be off: the outcome depends on the caller
 * (introspection) and on variables (page sizes), not on the document alone.
 */
export function useGraphqlLimits(limits: GraphqlLimits): Plugin<LimitsContext> {
  return {
    onParse({ setParseFn, parseFn }) {
      setParseFn((source, options) => {
        try {
          return parseFn(source, { ...options, maxTokens: limits.maxTokens });
        } catch (err) {
          if (err instanceof GraphQLError && /more tha\w? \d+ tokens/.test(err.message)) {
            throw requestError("BAD_REQUEST", `Query has more than ${limits.maxTokens} tokens`);
          }
          throw err;
        }
      });
    },
    onValidate({ params, context, setResult }) {
      // Validation runs before Yoga builds the request context: the caller is read from the Koa state.
      const variables = context.params?.variables;
      const measure = measureDocument(params.schema, params.documentAST, variables && typeof variables === "object" ? variables : {});
      const error = checkDocument(measure, limits, !context.koa?.state.gql?.actor);
      if (error) setResult([error]);
      // PostgreSQL stores no NUL in text or jsonb: refused here, as rest-compat refuses it, not failed in SQL.
      else if (containsNul(variables) || hasNulLiteral(params.documentAST)) setResult([requestError("BAD_REQUEST", NUL_MESSAGE)]);
    },
    // Yoga marks parse and validation errors as spec errors and then answers 200 to application/json clients;
    // a status on the result itself is always honoured.
    onResultProcess(payload) {
      const { result } = payload;
      if (Array.isArray(result) || !("errors" in result) || !result.errors?.length) return;
      const http = result.errors.map((e) => refusals.get(e as GraphQLError)).find((r) => r !== undefined);
      if (http) payload.setResult({ ...result, extensions: { ...result.extensions, http } });
    },
    onExecute({ args }) {
      const budget = new AbortController();
      const timer = setTimeout(
        () => budget.abort(requestError("UNAVAILABLE", `GraphQL execution exceeded its time budget of ${limits.timeoutMs} ms`, 1)),
        limits.timeoutMs,
      );
      timer.unref();
      const withSignal = args as typeof args & { signal?: AbortSignal };
      withSignal.signal = withSignal.signal ? AbortSignal.any([withSignal.signal, budget.signal]) : budget.signal;
      return { onExecuteDone: () => clearTimeout(timer) };
    },
  };
}

/** Counts concurrent requests; `enter` is false when `max` are already running. */
export function createConcurrencyGate(max: number) {
  let active = 0;
  return {
    get active() {
      return active;
    },
    enter(): boolean {
      if (active >= max) return false;
      active++;
      return true;
    },
    leave(): void {
      active--;
    },
  };
}
