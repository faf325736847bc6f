#!/bin/bash
# Installs what the tests need (Debian packages, the fixtures from ../shared via prepare.sh),
# builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ -f ../shared/fixtures/prepare.sh ]; then
  CRASHSH_FIXTURES=$(sh ../shared/fixtures/prepare.sh)
  export CRASHSH_FIXTURES
elif [ -z "${CRASHSH_FIXTURES:-}" ]; then
  # A clone on its own: the tests that need only Samples/dump.kdump run with its vmlinux,
  # fetched once like setup.sh does; without it they are reported as skipped.
  scripts/fetch-debuginfo.sh 6.1.0-56-cloud-amd64 linux-image-6.1.0-56-cloud-amd64-dbg 6.1.192-2 >/dev/null \
    || echo "test: no vmlinux for Samples/dump.kdump; the tests that need it are skipped" >&2
fi
# The fleet driver's engine (scripts/fleet-triage.py, TriageTests): Dask from PyPI, a quick
# install; without it that one test is reported as skipped.
python3 -c 'import dask.distributed' 2>/dev/null || python3 -m pip install -q 'dask[distributed]' >&2 \
  || echo "test: dask[distributed] not installed; the fleet driver test is skipped" >&2
# The executable first: the end-to-end tests run the built crashsh, and building the tests
# alone does not relink it in an existing build folder.
swift build
swift build --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test --skip-build 2>&1 | tee "$log" || status=$?
# One plain closing line for readers that do not know Swift Testing's summary, counted from
# its per-test lines: "✔ Test NAME passed after", "✘ Test NAME failed after", "➜ Test NAME
# skipped: REASON" (a skipped suite is one line "➜ Suite NAME skipped" and counts as one).
count() { grep -cE "$1" "$log" || true; }
passed=$(count '^✔ Test .* passed after ')
failed=$(count '^✘ Test .* failed after ')
skipped=$(count '^➜ (Test|Suite) .* skipped')
passed=$((passed - $(count '^✔ Test run with ')))
failed=$((failed - $(count '^✘ Test run with ')))
if [ "$skipped" -gt 0 ]; then
  echo "skipped:"
  grep -E '^➜ (Test|Suite) .* skipped' "$log" | sed -E 's/^➜ /  /'
fi
if [ "$status" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi   # the run itself failed (build, crash)
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
