// Prints the GraphQL schema to schema/schema.graphql (or checks it with --check).
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { printSchema } from "graphql";
import { schema } from "../src/graphql/schema.js";

const target = new URL("../schema/schema.graphql", import.meta.url);
const printed = printSchema(schema) + "\n";
if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(target, "utf8");
  } catch {}
  if (current !== printed) {
    console.error("schema/schema.graphql is stale: run `npm run generate` and commit the result");
    process.exit(1);
  }
  console.log("schema/schema.graphql is up to date");
} else {
  mkdirSync(new URL("../schema/", import.meta.url), { recursive: true });
  writeFileSync(target, printed);
  console.log("wrote schema/schema.graphql");
}
