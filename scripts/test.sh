#!/usr/bin/env bash
# Runs every test file under test/ (node's test runner, TypeScript through tsx).
# Extra arguments narrow the run: `npm test -- test/api/users.test.ts`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=600000 "${files[@]}"
