#!/bin/sh
# Regenerates the crash 8.0.6 references for SymRdTests: runs crash on every fixture dump with the
# command list of its crash (kdump-commands.txt for the kdump crash, qemu-commands.txt for the
# QEMU boot, which has other KASLR offsets) and stores one file per command in <dump>/, named
# like refs/crash-8.0.6 (spaces and punctuation as _).
# `sym -l` (117,000 lines) is kept as sym-l/<dump>.txt for one dump of each crash: the line count
# and SHA-256 of the kernel part (up to crash's first "MODULE START" line; crashsh does not load
# module symbols yet), then a sample of numbered lines: the first 400 (per-cpu symbols, the start
# of text), every 97th, and the section symbols and clone names crash keeps (".part." left after
# ".isra." was cut).
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
    kernel=$(mktemp)
    awk '/MODULE START/ { exit } { print }' "$full" > "$kernel"
    {
        printf 'count %s sha256 %s\n' "$(wc -l < "$kernel" | tr -d ' ')" "$(sha256sum < "$kernel" | cut -d' ' -f1)"
        awk 'NR <= 400 || NR % 97 == 0 || $3 ~ /^\./ || $3 ~ /\.part\./ { print NR " " $0 }' "$kernel"
    } > "$here/sym-l/$dump.txt"
    rm -f "$full" "$kernel"
done
