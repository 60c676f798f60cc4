// Runs pre-parsed typed GraphQL documents in-process and maps errors to REST status codes.
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { execute, validate, type DocumentNode, type GraphQLError, type GraphQLSchema } from "graphql";
import type Koa from "koa";
import { DomainError, isErrorCode } from "../src/errors.js";
import { databaseUnavailable, isDatabaseUnavailable } from "../src/db/errors.js";
import { containsNul, NUL_MESSAGE } from "../src/json.js";
import type { RequestContext } from "../src/graphql/context.js";

/** Checks every document against the schema once, at start-up. */
export function validateDocuments(schema: GraphQLSchema, docs: Record<string, unknown>): void {
  for (const [name, doc] of Object.entries(docs)) {
    if (!name.endsWith("Document")) continue;
    const errors = validate(schema, doc as DocumentNode);
    if (errors.length) throw new Error(`rest-compat document ${name} is invalid: ${errors.map((e) => e.message).join("; ")}`);
  }
}

/** Rewrites GraphQL's variable-coercion wording in terms of the REST body's fields. */
const snake = (s: string) => s.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());

function describeInputError(message: string): string {
  const nested = /^Variable "\$\w+" got invalid value (.*) at "\w+\.([\w.]+)"; (.*)$/s.exec(message);
  if (nested) return `Invalid value ${nested[1]} for '${snake(nested[2])}': ${nested[3]}`;
  const top = /^Variable "\$(\w+)" (?:got invalid value (.*?); )?(.*)$/s.exec(message);
  if (top) return top[2] ? `Invalid value ${top[2]} for '${snake(top[1])}': ${top[3]}` : `'${snake(top[1])}': ${top[3]}`;
  return message;
}

/** GraphQL's own input errors (variable coercion) carry no code: they are the caller's fault. */
function toDomainError(err: GraphQLError): DomainError {
  const code = err.extensions?.code;
  if (isErrorCode(code)) {
    if (err instanceof DomainError) return err;
    const retryAfter = err.extensions?.retryAfter;
    return new DomainError(code, err.message, { retryAfter: typeof retryAfter === "number" ? retryAfter : undefined });
  }
  if (!err.path) return new DomainError("BAD_REQUEST", describeInputError(err.message));
  if (isDatabaseUnavailable(err.originalError)) return databaseUnavailable();
  return Object.assign(new DomainError("INTERNAL_ERROR", "Internal server error"), { cause: err.originalError ?? err });
}

export async function run<TResult, TVars>(ctx: Koa.Context, doc: TypedDocumentNode<TResult, TVars>, variables?: TVars): Promise<TResult> {
  const gql = ctx.state.gql as RequestContext;
  if (containsNul(variables)) throw new DomainError("BAD_REQUEST", NUL_MESSAGE);
  const result = await execute({
    schema: ctx.state.schema as GraphQLSchema,
    document: doc as DocumentNode,
    variableValues: variables as Record<string, unknown> | undefined,
    contextValue: gql,
  });
  if (result.errors?.length) throw toDomainError(result.errors[0]);
  return result.data as TResult;
}
