// GraphQL Code Generator: typed documents for the operations rest-compat runs.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "schema/schema.graphql",
  documents: ["rest-compat/operations/**/*.graphql"],
  generates: {
    "rest-compat/generated/graphql.ts": {
      plugins: ["typescript-operations", "typed-document-node"],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false },
        scalars: { JSON: "unknown", DateTime: "string" },
        skipTypename: true,
      },
    },
  },
  silent: true,
};

export default config;
