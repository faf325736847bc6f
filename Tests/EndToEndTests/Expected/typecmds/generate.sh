#!/bin/sh
# Regenerates the crash 8.0.6 references for TypeCommandTests: runs crash on one dump of each
# crash (dump.kdump for the kdump crash, qemu.elf for the QEMU boot, which has other KASLR
# offsets) with commands.txt in one session, and stores one file per command in <dump>/,
# named like refs/crash-8.0.6 (spaces and punctuation as _). What crash prints outside the
# redirections (its error lines) is kept in <dump>/_session.txt, so error lines can be compared.
#   usage: generate.sh   (from anywhere; needs ../shared/fixtures and install-crash-8.0.6.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
for dump in dump.kdump qemu.elf; do
    rm -rf "$here/$dump"
    "$here/../run-crash-session.sh" "$here/commands.txt" "$dump" "$here/$dump" "$here/$dump/_session.txt"
done
