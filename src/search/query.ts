// The search query language (REST section 9): field filters (name:, version:, repo:, type:),
// AND / OR (AND binds tighter; juxtaposition is AND), parentheses, quoted values and plain text.
// A tokenizer and a recursive-descent parser build a typed AST; `compileQuery` turns the AST into
// a parameterised SQL condition over the artifacts table. Errors are 400s that say where.
import { badRequest } from "../errors.js";

export const FIELDS = ["name", "version", "repo", "type"] as const;
export type Field = (typeof FIELDS)[number];

export type QueryNode =
  | { kind: "and"; children: QueryNode[] }
  | { kind: "or"; children: QueryNode[] }
  | { kind: "field"; field: Field; value: string; quoted: boolean; pos: number }
  | { kind: "text"; value: string; quoted: boolean; pos: number };

export type Token =
  | { t: "lparen"; pos: number }
  | { t: "rparen"; pos: number }
  | { t: "and"; pos: number }
  | { t: "or"; pos: number }
  | { t: "field"; field: Field; value: string; quoted: boolean; pos: number }
  | { t: "text"; value: string; quoted: boolean; pos: number }
  | { t: "eof"; pos: number };

export const MAX_QUERY_LENGTH = 1000;
export const MAX_TERMS = 32;

const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v";
const FIELD_PREFIX = /^(name|version|repo|type):/i;

/** Query syntax error: 400 with a 1-based character position. */
function syntaxError(message: string, pos: number) {
  return badRequest(`Invalid search query: ${message} at position ${pos + 1}`);
}

export function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const readQuoted = (): string => {
    const start = i;
    i++; // opening quote
    let out = "";
    while (i < input.length) {
      const c = input[i];
      if (c === "\\" && i + 1 < input.length && (input[i + 1] === '"' || input[i + 1] === "\\")) {
        out += input[i + 1];
        i += 2;
      } else if (c === '"') {
        i++;
        return out;
      } else {
        out += c;
        i++;
      }
    }
    throw syntaxError("unterminated quoted string starting", start);
  };
  while (i < input.length) {
    const c = input[i];
    if (isSpace(c)) {
      i++;
    } else if (c === "(") {
      tokens.push({ t: "lparen", pos: i++ });
    } else if (c === ")") {
      tokens.push({ t: "rparen", pos: i++ });
    } else if (c === '"') {
      const pos = i;
      const value = readQuoted();
      if (!value.trim()) throw syntaxError("empty quoted string", pos);
      tokens.push({ t: "text", value, quoted: true, pos });
    } else {
      const pos = i;
      let word = "";
      while (i < input.length && !isSpace(input[i]) && input[i] !== "(" && input[i] !== ")" && input[i] !== '"') word += input[i++];
      const prefix = FIELD_PREFIX.exec(word);
      if (prefix) {
        const field = prefix[1].toLowerCase() as Field;
        let value = word.slice(prefix[0].length);
        let quoted = false;
        if (!value && input[i] === '"') {
          value = readQuoted();
          quoted = true;
        }
        if (!value.trim()) throw syntaxError(`missing value after '${field}:'`, pos);
        tokens.push({ t: "field", field, value, quoted, pos });
      } else if (word === "AND" || word === "&&") {
        tokens.push({ t: "and", pos });
      } else if (word === "OR" || word === "||") {
        tokens.push({ t: "or", pos });
      } else {
        tokens.push({ t: "text", value: word, quoted: false, pos });
      }
    }
  }
  tokens.push({ t: "eof", pos: input.length });
  return tokens;
}

const describe = (tok: Token): string =>
  tok.t === "eof" ? "end of query" : tok.t === "lparen" ? "'('" : tok.t === "rparen" ? "')'" : tok.t === "and" ? "'AND'" : tok.t === "or" ? "'OR'" : "a term";

/** Parses a query into its AST. Throws BAD_REQUEST naming the position of the problem. */
export function parseQuery(input: string): QueryNode {
  if (input.length > MAX_QUERY_LENGTH) throw badRequest(`Invalid search query: longer than ${MAX_QUERY_LENGTH} characters`);
  const tokens = tokenize(input);
  if (tokens.length === 1) throw badRequest("Invalid search query: the query is empty");
  const leaves = tokens.filter((t) => t.t === "field" || t.t === "text").length;
  if (leaves > MAX_TERMS) throw badRequest(`Invalid search query: more than ${MAX_TERMS} terms`);
  let k = 0;
  const peek = () => tokens[k];
  const startsTerm = (tok: Token) => tok.t === "field" || tok.t === "text" || tok.t === "lparen";

  const parseOr = (): QueryNode => {
    const children = [parseAnd()];
    while (peek().t === "or") {
      const op = tokens[k++];
      if (!startsTerm(peek())) throw syntaxError(`expected a term after 'OR' (at position ${op.pos + 1}) but found ${describe(peek())}`, peek().pos);
      children.push(parseAnd());
    }
    return flatten("or", children);
  };

  const parseAnd = (): QueryNode => {
    const children = [parsePrimary()];
    for (;;) {
      const tok = peek();
      if (tok.t === "and") {
        k++;
        if (!startsTerm(peek())) throw syntaxError(`expected a term after 'AND' (at position ${tok.pos + 1}) but found ${describe(peek())}`, peek().pos);
        children.push(parsePrimary());
      } else if (startsTerm(tok)) {
        children.push(parsePrimary()); // implicit AND
      } else {
        break;
      }
    }
    return flatten("and", children);
  };

  const parsePrimary = (): QueryNode => {
    const tok = tokens[k];
    switch (tok.t) {
      case "lparen": {
        k++;
        if (peek().t === "rparen") throw syntaxError("empty parentheses", tok.pos);
        const inner = parseOr();
        if (peek().t !== "rparen") throw syntaxError(`missing ')' to close '(' at position ${tok.pos + 1}; found ${describe(peek())}`, peek().pos);
        k++;
        return inner;
      }
      case "field":
        k++;
        return { kind: "field", field: tok.field, value: tok.value, quoted: tok.quoted, pos: tok.pos };
      case "text":
        k++;
        return { kind: "text", value: tok.value, quoted: tok.quoted, pos: tok.pos };
      case "eof":
        throw syntaxError("unexpected end of query, expected a term", tok.pos);
      default:
        throw syntaxError(`unexpected ${describe(tok)}, expected a term`, tok.pos);
    }
  };

  const ast = parseOr();
  if (peek().t !== "eof") {
    const tok = peek();
    throw syntaxError(tok.t === "rparen" ? "unmatched ')'" : `unexpected ${describe(tok)}`, tok.pos);
  }
  return ast;
}

function flatten(kind: "and" | "or", children: QueryNode[]): QueryNode {
  if (children.length === 1) return children[0];
  const out: QueryNode[] = [];
  for (const c of children) {
    if (c.kind === kind) out.push(...c.children);
    else out.push(c);
  }
  return { kind, children: out };
}

/** A compact, unambiguous rendering of the AST (tests, logs). */
export function formatQuery(node: QueryNode): string {
  switch (node.kind) {
    case "and":
    case "or":
      return `(${node.kind.toUpperCase()} ${node.children.map(formatQuery).join(" ")})`;
    case "field":
      return `${node.field}:${JSON.stringify(node.value)}`;
    case "text":
      return node.quoted ? `text:${JSON.stringify(node.value)}` : `text:${node.value}`;
  }
}

// ---------------------------------------------------------------- SQL

/** Positional parameters ($1, $2, ...) collected while compiling. */
export class SqlParams {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => "\\" + c);
}

/** Lower-case words of letters and digits: the only characters that reach a tsquery. */
export function lexemes(s: string): string[] {
  return s
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .slice(0, 16);
}

/** `type:` strips -proxy / -group and matches the start of the repository type. */
export function typePrefix(value: string): string {
  return value
    .trim()
    .toLowerCase()
    .replace(/-(proxy|group)$/, "");
}

export interface CompiledQuery {
  /** SQL boolean expression over "artifacts" columns. */
  where: string;
  /** Plain-text terms, for ranking. */
  textTerms: string[];
}

/**
 * The column for a substring match. Trigram indexes cannot narrow values shorter than three
 * characters (they would return every row), so those match on an expression the index does not
 * cover and the planner filters the rows the other conditions found.
 */
function substringColumn(column: "name" | "version", value: string): string {
  return [...value].length >= 3 ? `"${column}"` : `("${column}" || '')`;
}

function compileField(field: Field, v: string, params: SqlParams, knownTypes: readonly string[] | undefined): string {
  switch (field) {
    case "name":
    case "version":
      return `${substringColumn(field, v)} ILIKE ${params.add("%" + escapeLike(v) + "%")}`;
    case "repo":
      return `"repo_name" = ${params.add(v)}`;
    case "type": {
      // A prefix of the known type strings, expanded here so the btree index on repo_type serves it.
      // Without the list of supported types, the exact format's three types.
      const prefix = typePrefix(v);
      const types = knownTypes ? knownTypes.filter((t) => t.startsWith(prefix)) : [prefix, `${prefix}-proxy`, `${prefix}-group`];
      return `"repo_type" = ANY(${params.add(types)}::text[])`;
    }
  }
}

/** Compiles the AST into a parameterised condition. Values never enter the SQL text. */
/** `knownTypes`: the supported repository types (RepositoryTypes.types()), which `type:` prefixes expand to. */
export function compileQuery(node: QueryNode, params: SqlParams, knownTypes?: readonly string[]): CompiledQuery {
  const textTerms: string[] = [];
  const walk = (n: QueryNode): string => {
    switch (n.kind) {
      case "and":
        return "(" + n.children.map(walk).join(" AND ") + ")";
      case "or":
        return "(" + n.children.map(walk).join(" OR ") + ")";
      case "field":
        return compileField(n.field, n.value.trim(), params, knownTypes);
      case "text": {
        const value = n.value.trim();
        textTerms.push(value);
        const words = lexemes(value);
        const like = `${substringColumn("name", value)} ILIKE ${params.add("%" + escapeLike(value) + "%")}`;
        if (!words.length) return `(${like})`;
        const fts = n.quoted
          ? `"search_tsv" @@ phraseto_tsquery('simple', ${params.add(words.join(" "))})`
          : `"search_tsv" @@ to_tsquery('simple', ${params.add(words.map((w) => w + ":*").join(" & "))})`;
        return `(${fts} OR ${like})`;
      }
    }
  };
  return { where: walk(node), textTerms };
}
