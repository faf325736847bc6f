#!/bin/sh
# Regenerates the crash 8.0.6 references for SymRdTests: runs crash on every fixture dump with the
# command list of its crash (kdump-commands.txt for the kdump crash, qemu-commands.txt for the
# QEMU boot, which has other KASLR offsets) and stores one file per command in <dump>/, named
# like refs/crash-8.0.6 (spaces and punctuation as _).
#   usage: generate.sh   (from anywhere; needs ../shared/fixtures and install-crash-8.0.6.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
F=$("$root/../shared/fixtures/prepare.sh")/debian-6.1-cloud
CRASH=$("$root/../shared/tools/install-crash-8.0.6.sh" | tail -1)
for dump in vmcore dump.kdump dump-lzo.kdump dump-zstd.kdump dump.flat dump.elf qemu.elf qemu.kdump; do
    case $dump in qemu.*) list=$here/qemu-commands.txt ;; *) list=$here/kdump-commands.txt ;; esac
    out=$here/$dump
    mkdir -p "$out"
    script=$(mktemp)
    while IFS= read -r cmd; do
        [ -n "$cmd" ] || continue
        name=$(printf '%s' "$cmd" | sed 's/[^A-Za-z0-9.-]/_/g')
        printf '%s > %s/%s.txt\n' "$cmd" "$out" "$name" >> "$script"
    done < "$list"
    printf 'q\n' >> "$script"
    "$CRASH" -s "$F/vmlinux-6.1.0-56-cloud-amd64" "$F/$dump" < "$script" > /dev/null 2>&1
    rm -f "$script"
done
