#!/bin/sh
# Sets up crashsh on a fresh Debian machine: build dependencies, a release build, and the
# debuginfo (vmlinux) of the kernel of the bundled sample dump in Samples/.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product crashsh >&2
scripts/fetch-debuginfo.sh 6.1.0-56-cloud-amd64 linux-image-6.1.0-56-cloud-amd64-dbg 6.1.192-2 >/dev/null
echo "setup: done; run .build/release/crashsh Samples/dump.kdump" >&2
