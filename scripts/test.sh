#!/bin/bash
# Installs what the tests need (Debian packages, the fixtures from ../shared via prepare.sh),
# builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ -f ../shared/fixtures/prepare.sh ]; then
  CRASHSH_FIXTURES=$(sh ../shared/fixtures/prepare.sh)
  export CRASHSH_FIXTURES
fi
# The executable first: the end-to-end tests run the built crashsh, and building the tests
# alone does not relink it in an existing build folder.
swift build
swift build --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test --skip-build 2>&1 | tee "$log" || status=$?
# One plain closing line for readers that do not know Swift Testing's summary.
summary=$(grep -E '^. Test run with [0-9]+ tests? ' "$log" | tail -1 || true)
total=$(printf '%s\n' "$summary" | sed -nE 's/.*Test run with ([0-9]+) tests?.*/\1/p')
failed=$(printf '%s\n' "$summary" | sed -nE 's/.* with ([0-9]+) issues?.*/\1/p')
if [ -n "$total" ]; then
  if [ "$status" = 0 ]; then echo "tests: $total passed, 0 failed"
  else echo "tests: run failed with ${failed:-some} issues in $total tests"; fi
fi
exit "$status"
