#!/bin/sh
# Regenerates the crash 8.0.6 reference for ExpressionTests: writes commands.txt with
# generate_commands.py (fixed seed), runs crash once on dump.kdump with every command, each
# preceded by "echo @@@ N" so the output can be split per command, and keeps what crash printed
# (standard output and error together, as a terminal shows them) in crash-8.0.6.txt.
#   usage: generate.sh   (from anywhere; needs ../shared/fixtures and install-crash-8.0.6.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
F=$("$root/../shared/fixtures/prepare.sh")/debian-6.1-cloud
CRASH=$("$root/../shared/tools/install-crash-8.0.6.sh" | tail -1)
cd "$here"
python3 generate_commands.py
script=$(mktemp)
trap 'rm -f "$script"' EXIT
n=0
while IFS= read -r cmd; do
    [ -n "$cmd" ] || continue
    printf 'echo @@@ %d\n%s\n' "$n" "$cmd" >> "$script"
    n=$((n + 1))
done < commands.txt
printf 'echo @@@ end\nq\n' >> "$script"
"$CRASH" -s "$F/vmlinux-6.1.0-56-cloud-amd64" "$F/dump.kdump" < "$script" > crash-8.0.6.txt 2>&1
