#!/bin/sh
# Regenerates crash 8.0.6's `sym` output for the link-time text addresses in addresses.txt (one
# hex address a line), as DwarfTests.sourceLinesMatchCrash reads it: crash-sym.txt, one line per
# address, from dump.kdump (its KASLR slide is added to each address first).
# The addresses were picked from 40 random units' line tables: mostly addresses that carry
# several rows (inlined code starting where its caller's line does, file switches), plus single
# rows and addresses between rows, where the choice among rows matters.
#   usage: generate.sh   (from anywhere; needs ../shared/fixtures and install-crash-8.0.6.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
F=$("$root/../shared/fixtures/prepare.sh")/debian-6.1-cloud
CRASH=$("$root/../shared/tools/install-crash-8.0.6.sh" | tail -1)
V=$F/vmlinux-6.1.0-56-cloud-amd64
# The slide: schedule's run-time address in crash minus its link-time address in the vmlinux.
runtime=$(printf 'sym schedule\nq\n' | "$CRASH" -s "$V" "$F/dump.kdump" | awk '{print $1}')
link=$(nm "$V" | awk '$3 == "schedule" {print $1}')
script=$(mktemp)
# 64-bit unsigned arithmetic, which sh does not have.
python3 -c '
import sys
slide = int(sys.argv[1], 16) - int(sys.argv[2], 16)
for a in open(sys.argv[3]).read().split():
    print("sym %x" % ((int(a, 16) + slide) % (1 << 64)))
' "$runtime" "$link" "$here/addresses.txt" >> "$script"
printf 'q\n' >> "$script"
"$CRASH" -s "$V" "$F/dump.kdump" < "$script" > "$here/crash-sym.txt" 2>&1
rm -f "$script"
