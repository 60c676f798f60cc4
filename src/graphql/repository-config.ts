// Typed GraphQL views of the repository config schemas (src/formats/kit/config.ts): for each built
// format, `<Name>RepositoryConfig` (what `Repository.settings` returns) and
// `<Name>RepositoryConfigInput` (what `putRepository(settings:)` takes), printed from the same
// fields `PUT /repositories` validates with. Field names are the config keys in camelCase.
import type { ConfigField, ConfigFields, ConfigSchema } from "../formats/kit/config.js";
import { formatConfigs } from "../formats/plugins.js";
import type { RepositoryKind, RepositoryRecord } from "../repositories/types.js";
import { builder } from "./builder.js";

const article = (word: string) => (/^[aeiou]/i.test(word) ? "an" : "a");
const camel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function describe(f: ConfigField): string | undefined {
  const parts = [f.description];
  if (f.type === "duration") parts.push(`A number of ${f.unit === "s" ? "seconds" : "milliseconds"} or a duration such as "30s", "5m", "1h", "PT1H".`);
  if (f.type === "enum") parts.push(`One of: ${f.values.join(", ")}.`);
  if (f.type === "url") parts.push("An absolute http(s) URL.");
  if (Array.isArray(f.required)) parts.push(`Required for ${f.required.join(", ")} repositories.`);
  if (f.only) parts.push(`Only for ${f.only.join(", ")} repositories.`);
  const text = parts
    .filter((p): p is string => !!p)
    .map((p) => (p.endsWith(".") ? p : p + "."))
    .join(" ");
  return text || undefined;
}

// ---- output types ---------------------------------------------------------------------------

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const outputObjects = new Map<string, unknown>();

/** The GraphQL type of a field: a scalar name, a nested object's ref (made by `object`), or a list of either. */
function graphqlType(f: ConfigField, object: (name: string, fields: ConfigFields) => unknown): unknown {
  switch (f.type) {
    case "number":
      return f.integer ? "Int" : "Float";
    case "boolean":
      return "Boolean";
    case "list":
      return [graphqlType(f.of, object)];
    case "object":
      return object(f.name, f.fields);
    default:
      return "String";
  }
}

/**
 * A stored value as the field's GraphQL type, or null. Stored rows may predate the schema (or be
 * written by Indy), so a value of the wrong shape reads as null instead of failing the query.
 */
function outputValue(f: ConfigField, v: unknown): unknown {
  if (v === undefined || v === null) return null;
  switch (f.type) {
    case "number":
      return typeof v === "number" && Number.isFinite(v) && (!f.integer || Number.isInteger(v)) ? v : null;
    case "boolean":
      return typeof v === "boolean" ? v : null;
    case "list":
      return Array.isArray(v) ? v.map((item) => outputValue(f.of, item)).filter((item) => item !== null) : null;
    case "object":
      return isRecord(v) ? v : null;
    case "duration":
      return typeof v === "number" || typeof v === "string" ? String(v) : null;
    default:
      return typeof v === "string" ? v : null;
  }
}

function outputFields(fields: ConfigFields) {
  return (t: any) =>
    Object.fromEntries(
      Object.entries(fields).map(([key, f]) => [
        camel(key),
        t.field({
          type: graphqlType(f, outputObject),
          nullable: f.type === "list" ? { list: true, items: false } : true,
          description: describe(f),
          resolve: (c: Record<string, unknown>) => outputValue(f, c[key]),
        }),
      ]),
    );
}

function outputObject(name: string, fields: ConfigFields): unknown {
  let ref = outputObjects.get(name);
  if (!ref) {
    ref = builder.objectRef<Record<string, unknown>>(name).implement({ fields: outputFields(fields) as never });
    outputObjects.set(name, ref);
  }
  return ref;
}

// ---- input types ----------------------------------------------------------------------------

const inputObjects = new Map<string, unknown>();

function inputFields(fields: ConfigFields) {
  return (t: any) =>
    Object.fromEntries(
      Object.entries(fields).map(([key, f]) => [
        camel(key),
        t.field({ type: graphqlType(f, (name, nested) => inputObject(`${name}Input`, nested)), required: f.required === true, description: describe(f) }),
      ]),
    );
}

function inputObject(name: string, fields: ConfigFields): unknown {
  let ref = inputObjects.get(name);
  if (!ref) {
    ref = builder.inputType(name, { fields: inputFields(fields) as never });
    inputObjects.set(name, ref);
  }
  return ref;
}

/** A typed input back to the config's JSON: config keys, no nulls (null means "not set"). */
function fromInput(fields: ConfigFields, input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(fields)) {
    const v = input[camel(key)];
    if (v !== undefined && v !== null) out[key] = inputValue(f, v);
  }
  return out;
}

function inputValue(f: ConfigField, v: unknown): unknown {
  if (f.type === "list" && Array.isArray(v)) return v.map((item) => inputValue(f.of, item));
  if (f.type === "object" && isRecord(v)) return fromInput(f.fields, v);
  if (f.type === "duration" && typeof v === "string" && /^\d+$/.test(v)) return Number(v);
  return v;
}

// ---- per format ------------------------------------------------------------------------------

export const RepositoryKindEnum = builder.enumType("RepositoryKind", {
  values: { hosted: { value: "hosted" }, proxy: { value: "proxy" }, group: { value: "group" } } as const,
});

const KIND_SUFFIX: Record<RepositoryKind, string> = { hosted: "", proxy: "-proxy", group: "-group" };

interface FormatTypes {
  schema: ConfigSchema;
  output: unknown;
  input: unknown;
}

const byName = new Map<string, FormatTypes>();
for (const schema of new Set(Object.values(formatConfigs))) {
  const output = builder.objectRef<Record<string, unknown>>(`${schema.name}RepositoryConfig`).implement({
    description: `The typed config of ${article(schema.name)} ${schema.name.toLowerCase()} repository (the same fields PUT /repositories validates; other fields stay in Repository.config)`,
    fields: (t) => ({
      type: t.string({ resolve: (c) => String(c.type) }),
      kind: t.field({ type: RepositoryKindEnum, resolve: (c) => String(c.kind) as RepositoryKind }),
      ...(outputFields(schema.fields)(t) as object),
    }),
  });
  const input = builder.inputType(`${schema.name}RepositoryConfigInput`, {
    description: `${article(schema.name).replace(/^a/, "A")} ${schema.name.toLowerCase()} repository's config, typed (validated as the JSON form is)`,
    fields: (t) => ({
      kind: t.field({ type: RepositoryKindEnum, required: true }),
      ...(inputFields(schema.fields)(t) as object),
    }),
  });
  byName.set(schema.name, { schema, output, input });
}

/** Every format's typed config: `Repository.settings`. */
export const RepositorySettingsUnion = builder.unionType("RepositorySettings", {
  description: "A repository's config typed by its format; null for a repository of a format this build does not serve",
  types: [...byName.values()].map((t) => t.output) as never,
  resolveType: (c: Record<string, unknown>) => `${formatConfigs[String(c.format)]?.name}RepositoryConfig`,
});

/** The typed settings of a repository, or null when its format has no schema in this build. */
export function repositorySettings(rec: RepositoryRecord): Record<string, unknown> | null {
  if (!formatConfigs[rec.format]) return null;
  return { ...rec.config, type: rec.type, kind: rec.kind, format: rec.format };
}

/** `putRepository(settings: {maven: {...}})`: exactly one format field, named by the format (aliases included). */
export const RepositorySettingsInput = builder.inputType("RepositorySettingsInput", {
  description: "A repository's config typed by format: set exactly one field, the repository's format",
  fields: (t) =>
    Object.fromEntries(
      Object.entries(formatConfigs).map(([format, schema]) => [format, t.field({ type: byName.get(schema.name)!.input as never, required: false })]),
    ) as never,
});

/** The `repo` JSON of a typed settings input; throws a message for the caller when not exactly one format is set. */
export function settingsToRepo(input: Record<string, unknown>): { repo: Record<string, unknown> } | { error: string } {
  const set = Object.entries(input).filter(([, v]) => v !== undefined && v !== null);
  if (set.length !== 1) return { error: `'settings' must set exactly one format field (one of ${Object.keys(formatConfigs).join(", ")}); got ${set.length}` };
  const [format, value] = set[0] as [string, Record<string, unknown>];
  const schema = formatConfigs[format];
  const kind = value.kind as RepositoryKind;
  return { repo: { type: format + KIND_SUFFIX[kind], ...fromInput(schema.fields, value) } };
}
