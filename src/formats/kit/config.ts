// A format's repository configuration schema: a small DSL describing the fields of the `repo`
// JSON of PUT /repositories. One description serves two purposes: `parse` validates a config on
// create/update (400 naming the field), and src/graphql/repository-config.ts prints the format's
// GraphQL input and output types from the same fields.
//
// The fields every format shares (storage, remotes, members, cache TTLs) are defined once below;
// a format's schema is `configSchema("Maven", { ...its own fields })`. Fields no schema names are
// kept as given (Indy extras, settings of older releases): a schema narrows what it knows only.
import { badRequest } from "../../errors.js";
import type { RepositoryKind } from "../../repositories/types.js";
import { durationMs } from "./upstream.js";

export type Kinds = readonly RepositoryKind[];

interface FieldCommon {
  description?: string;
  /** Required for every kind (true) or for the listed kinds; null counts as absent. */
  required?: boolean | Kinds;
  /** Only repositories of these kinds may set a non-empty value (members: groups). */
  only?: Kinds;
  /** Stored when absent, per kind (a group's `members` is [] when not given). */
  default?: Partial<Record<RepositoryKind, unknown>>;
}

export type ConfigField =
  | (FieldCommon & { type: "string"; nonEmpty?: boolean })
  | (FieldCommon & { type: "number"; integer?: boolean; min?: number; max?: number })
  /** A number (in `unit`) or a "30s"/"5m"/"1h"/"2d" string or an ISO-8601 duration, as durationMs reads it. */
  | (FieldCommon & { type: "duration"; unit: "ms" | "s" })
  | (FieldCommon & { type: "boolean" })
  /** An absolute http(s) URL. */
  | (FieldCommon & { type: "url" })
  | (FieldCommon & { type: "enum"; values: readonly string[] })
  | (FieldCommon & { type: "list"; of: ConfigField; min?: Partial<Record<RepositoryKind, number>>; itemName?: string; unique?: boolean })
  /** A nested object; `name` names its GraphQL types (`<name>`, `<name>Input`). Unknown keys are kept. */
  | (FieldCommon & { type: "object"; name: string; fields: Readonly<Record<string, ConfigField>> });

export type ConfigFields = Readonly<Record<string, ConfigField>>;

type Opts<T extends ConfigField["type"]> = Omit<Extract<ConfigField, { type: T }>, "type">;

/** Field builders: `field.url({ required: true })`, `field.list(field.string(), { only: ["group"] })`. */
export const field = {
  string: (o: Opts<"string"> = {}): ConfigField => ({ type: "string", ...o }),
  number: (o: Opts<"number"> = {}): ConfigField => ({ type: "number", ...o }),
  duration: (unit: "ms" | "s", o: Omit<Opts<"duration">, "unit"> = {}): ConfigField => ({ type: "duration", unit, ...o }),
  boolean: (o: Opts<"boolean"> = {}): ConfigField => ({ type: "boolean", ...o }),
  url: (o: Opts<"url"> = {}): ConfigField => ({ type: "url", ...o }),
  enum: (values: readonly string[], o: Omit<Opts<"enum">, "values"> = {}): ConfigField => ({ type: "enum", values, ...o }),
  list: (of: ConfigField, o: Omit<Opts<"list">, "of"> = {}): ConfigField => ({ type: "list", of, ...o }),
  object: (name: string, fields: ConfigFields, o: Omit<Opts<"object">, "name" | "fields"> = {}): ConfigField => ({ type: "object", name, fields, ...o }),
};

export interface ConfigSchema {
  /** Prefix of the format's GraphQL types: `Maven` → MavenRepositoryConfig / MavenRepositoryConfigInput. */
  readonly name: string;
  /** Every field the schema knows: the common ones, then the format's own. */
  readonly fields: ConfigFields;
  /**
   * Validates the config of a repository of `kind` (its `type`, when a string, names the type in
   * messages); returns it with defaults applied and unknown fields kept. Throws badRequest naming
   * the offending field, e.g. "'repo.remotes[0].url' must be an absolute http(s) URL".
   */
  parse(raw: Record<string, unknown>, kind: RepositoryKind): Record<string, unknown>;
}

/** A proxy remote: where the kit fetches from and how it authenticates (src/formats/kit/upstream.ts). */
export const remoteFields: ConfigFields = {
  url: field.url({ required: true, description: "Base URL of the upstream repository" }),
  username: field.string({ description: "Basic auth user sent to the remote's own origin" }),
  password: field.string({ description: "Basic auth password (masked on reads, as every key naming a secret is)" }),
  token: field.string({ description: "Bearer token, used when no username is set (masked on reads)" }),
  auth_token: field.string({ description: "Alias of token (masked on reads)" }),
  timeout: field.duration("ms", { description: "Response timeout (default: http_client.proxy_timeout)" }),
  proxy_timeout: field.duration("ms", { description: "Alias of timeout" }),
  idle_timeout: field.duration("ms", { description: "No body bytes for this long aborts the transfer (default: http_client.idle_timeout)" }),
  negative_cache_ttl: field.duration("s", { description: "How long this remote's misses are remembered (overrides the repository's)" }),
};

/** Cache TTLs in the nested `cache` form some configs use (read as fallbacks of the top-level ones). */
const cacheFields: ConfigFields = {
  negative_ttl: field.duration("s"),
  negative_cache_ttl: field.duration("s"),
  metadata_ttl: field.duration("s"),
};

/** The fields every format shares. */
export const commonConfigFields: ConfigFields = {
  storage: field.string({ required: true, nonEmpty: true, description: "Storage alias name" }),
  remotes: field.list(field.object("RepositoryRemote", remoteFields), {
    required: ["proxy"],
    min: { proxy: 1 },
    itemName: "remote",
    description: "Upstream repositories of a proxy, tried in order",
  }),
  members: field.list(field.string({ nonEmpty: true }), {
    only: ["group"],
    default: { group: [] },
    unique: true,
    itemName: "member",
    description: "Member repository names of a group, in order",
  }),
  negative_cache_ttl: field.duration("s", { description: "How long a proxy remembers an upstream miss (default 5 minutes)" }),
  metadata_ttl: field.duration("s", { description: "How long a proxy serves cached metadata before re-checking the upstream" }),
  cache: field.object("RepositoryCache", cacheFields, { description: "Cache TTLs, nested form" }),
};

/** A format's schema: the common fields plus its own (an own field of a common name replaces it). */
export function configSchema(name: string, own: ConfigFields = {}): ConfigSchema {
  const fields: ConfigFields = { ...commonConfigFields, ...own };
  return {
    name,
    fields,
    parse(raw, kind) {
      const ctx: ParseContext = { kind, type: typeof raw.type === "string" && raw.type ? raw.type : kind };
      return parseObject(fields, raw, "repo", ctx);
    },
  };
}

// ---- validation ------------------------------------------------------------------------------

interface ParseContext {
  kind: RepositoryKind;
  /** The repository type, for messages ("a maven-proxy repository"). */
  type: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const requiredFor = (f: ConfigField, kind: RepositoryKind) => f.required === true || (Array.isArray(f.required) && f.required.includes(kind));
const isEmpty = (v: unknown) => v === undefined || v === null || (Array.isArray(v) && v.length === 0);
const article = (word: string) => (/^[aeiou]/i.test(word) ? "an" : "a");

/** Whether durationMs reads `v` as a duration (rather than falling back). */
export function isDuration(v: unknown): boolean {
  return !Number.isNaN(durationMs(v, Number.NaN));
}

function parseObject(fields: ConfigFields, raw: Record<string, unknown>, path: string, ctx: ParseContext): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  for (const [key, f] of Object.entries(fields)) {
    const at = `${path}.${key}`;
    const value = raw[key];
    if (value === undefined || value === null) {
      if (requiredFor(f, ctx.kind))
        throw badRequest(`'${at}' is required for ${article(ctx.type)} ${ctx.type} repository${f.type === "list" ? `: a list of ${describeField(f.of)}` : ""}`);
      const def = f.default?.[ctx.kind];
      if (def !== undefined && value === undefined) out[key] = structuredClone(def);
      continue;
    }
    if (f.only && !f.only.includes(ctx.kind) && !isEmpty(value)) {
      const kinds = f.only.join(" or ");
      throw badRequest(`Only ${kinds} repositories have '${at}'; '${ctx.type}' is not ${article(kinds)} ${kinds} type`);
    }
    out[key] = parseValue(f, value, at, ctx);
  }
  return out;
}

/** The fields required for every kind, quoted: "'url'". */
function alwaysRequired(fields: ConfigFields): string {
  return Object.entries(fields)
    .filter(([, f]) => f.required === true)
    .map(([k]) => `'${k}'`)
    .join(", ");
}

function describeField(f: ConfigField): string {
  switch (f.type) {
    case "object":
      return `objects with ${alwaysRequired(f.fields) || "fields"}`;
    case "string":
      return f.nonEmpty ? "non-empty strings" : "strings";
    default:
      return `${f.type} values`;
  }
}

function parseValue(f: ConfigField, value: unknown, at: string, ctx: ParseContext): unknown {
  switch (f.type) {
    case "string":
      if (typeof value !== "string") throw badRequest(`'${at}' must be a string`);
      if (f.nonEmpty && !value) throw badRequest(`'${at}' must not be empty`);
      return value;
    case "number": {
      if (typeof value !== "number" || !Number.isFinite(value)) throw badRequest(`'${at}' must be a number`);
      if (f.integer && !Number.isInteger(value)) throw badRequest(`'${at}' must be an integer`);
      if (f.min !== undefined && value < f.min) throw badRequest(`'${at}' must be at least ${f.min}`);
      if (f.max !== undefined && value > f.max) throw badRequest(`'${at}' must be at most ${f.max}`);
      return value;
    }
    case "duration":
      if (!isDuration(value)) {
        const unit = f.unit === "s" ? "seconds" : "milliseconds";
        throw badRequest(
          `'${at}' must be a duration: a number of ${unit} or a string such as "30s", "5m", "1h", "2d" or "PT1H" (got ${JSON.stringify(value)})`,
        );
      }
      return value;
    case "boolean":
      if (typeof value !== "boolean") throw badRequest(`'${at}' must be true or false`);
      return value;
    case "url": {
      if (typeof value !== "string") throw badRequest(`'${at}' must be a string: an absolute http(s) URL`);
      let u: URL;
      try {
        u = new URL(value);
      } catch {
        throw badRequest(`'${at}' is not a valid URL: ${value}`);
      }
      if (u.protocol !== "http:" && u.protocol !== "https:") throw badRequest(`'${at}' must be an absolute http(s) URL`);
      return value;
    }
    case "enum":
      if (typeof value !== "string" || !f.values.includes(value)) throw badRequest(`'${at}' must be one of ${f.values.join(", ")}`);
      return value;
    case "list": {
      if (!Array.isArray(value)) throw badRequest(`'${at}' must be a list of ${describeField(f.of)}`);
      const min = f.min?.[ctx.kind] ?? 0;
      if (value.length < min) {
        const what = f.itemName ?? "entry";
        throw badRequest(
          `${article(ctx.type).replace(/^a/, "A")} ${ctx.type} repository needs at least ${min === 1 ? "one" : min} ${what}${min === 1 ? "" : "s"} in '${at}'`,
        );
      }
      const items = value.map((item, i) => parseValue(f.of, item, `${at}[${i}]`, ctx));
      if (f.unique) {
        const seen = new Set<string>();
        for (const item of items) {
          const key = JSON.stringify(item);
          if (seen.has(key)) throw badRequest(`'${at}' lists ${typeof item === "string" ? `'${item}'` : key} twice`);
          seen.add(key);
        }
      }
      return items;
    }
    case "object":
      if (!isRecord(value)) {
        const required = alwaysRequired(f.fields);
        throw badRequest(`'${at}' must be an object${required ? ` with ${required}` : ""}`);
      }
      return parseObject(f.fields, value, at, ctx);
  }
}
