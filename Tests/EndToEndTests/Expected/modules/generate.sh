#!/bin/sh
# Regenerates the crash 8.0.6 references for ModuleTests: runs crash on every fixture dump with the
# command list of its crash (kdump-commands.txt for the kdump crash, qemu-commands.txt for the
# QEMU boot, whose modules sit at other addresses) and stores one file per command in <dump>/,
# named like refs/crash-8.0.6 (spaces and punctuation as _).
# The module part of `sym -l` (from crash's first "MODULE START" line to the end) is kept whole as
# sym-l/<dump>.txt for one dump of each crash.
#   usage: generate.sh   (from anywhere; needs ../shared/fixtures and install-crash-8.0.6.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
F=$("$root/../shared/fixtures/prepare.sh")/debian-6.1-cloud
CRASH=$("$root/../shared/tools/install-crash-8.0.6.sh" | tail -1)
for dump in vmcore dump.kdump dump-lzo.kdump dump-zstd.kdump dump.flat dump.elf qemu.elf qemu.kdump; do
    case $dump in qemu.*) list=$here/qemu-commands.txt ;; *) list=$here/kdump-commands.txt ;; esac
    "$here/../run-crash-session.sh" "$list" "$dump" "$here/$dump"
done
mkdir -p "$here/sym-l"
for dump in dump.kdump qemu.elf; do
    full=$(mktemp)
    printf 'sym -l > %s\nq\n' "$full" | "$CRASH" -s "$F/vmlinux-6.1.0-56-cloud-amd64" "$F/$dump" > /dev/null 2>&1
    awk '/ MODULE START: / { found = 1 } found { print }' "$full" > "$here/sym-l/$dump.txt"
    rm -f "$full"
done
