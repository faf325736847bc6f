#!/bin/sh
# Regenerates the crash 8.0.6 references for ModuleDebugInfoTests: module debuginfo loaded with
# `mod -s`/`mod -S` from the .ko files of Debian's linux-image-6.1.0-56-cloud-amd64-dbg, which
# scripts/fetch-debuginfo.sh --modules unpacks. commands.txt names that folder MODULES; the
# references name it MODULES too (the test puts its own folder back). One file per command in
# dump.kdump/, named like refs/crash-8.0.6 (spaces and punctuation as _).
#   usage: generate.sh   (needs ../shared/fixtures and install-crash-8.0.6.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
modules=$(sh "$root/scripts/fetch-debuginfo.sh" --modules 6.1.0-56-cloud-amd64 | tail -1)
MODULES_DIR=$modules "$here/../run-crash-session.sh" "$here/commands.txt" dump.kdump "$here/dump.kdump"
