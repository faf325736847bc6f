#!/bin/sh
# Installs what the tests need (Debian packages, the fixtures from ../shared via prepare.sh),
# builds, and runs the whole test suite.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ -x ../shared/fixtures/prepare.sh ] || [ -f ../shared/fixtures/prepare.sh ]; then
  CRASHSH_FIXTURES=$(sh ../shared/fixtures/prepare.sh)
  export CRASHSH_FIXTURES
fi
swift build
swift build --build-tests
swift test --skip-build
