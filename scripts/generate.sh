#!/usr/bin/env bash
# Regenerates every generated artefact: Prisma client + Pothos types, the printed
# GraphQL schema, and the typed documents rest-compat runs. Deterministic; safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Prisma CLI needs a database handle even to generate; give it a throw-away PGlite dir.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
PANTERA_DATA_DIR="$scratch" npx --no-install prisma generate > /dev/null
npx --no-install tsx scripts/print-schema.ts "$@"
npx --no-install graphql-codegen --config codegen.ts
