#!/bin/sh
# Regenerates the crash 8.0.6 references for TypeCommandTests: runs crash on one dump of each
# crash (dump.kdump for the kdump crash, qemu.elf for the QEMU boot, which has other KASLR
# offsets) with commands.txt in one session, and stores one file per command in <dump>/,
# named like refs/crash-8.0.6 (spaces and punctuation as _). Failures go to crash's stderr,
# which is kept per command too (<name>.err), so error lines can be compared.
#   usage: generate.sh   (from anywhere; needs ../shared/fixtures and install-crash-8.0.6.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
F=$("$root/../shared/fixtures/prepare.sh")/debian-6.1-cloud
CRASH=$("$root/../shared/tools/install-crash-8.0.6.sh" | tail -1)
for dump in dump.kdump qemu.elf; do
    out=$here/$dump
    rm -rf "$out"
    mkdir -p "$out"
    script=$(mktemp)
    while IFS= read -r cmd; do
        [ -n "$cmd" ] || continue
        name=$(printf '%s' "$cmd" | sed 's/[^A-Za-z0-9.-]/_/g')
        printf '%s > %s/%s.txt\n' "$cmd" "$out" "$name" >> "$script"
    done < "$here/commands.txt"
    printf 'q\n' >> "$script"
    "$CRASH" -s "$F/vmlinux-6.1.0-56-cloud-amd64" "$F/$dump" < "$script" > "$out/_session.txt" 2>&1
    rm -f "$script"
done
