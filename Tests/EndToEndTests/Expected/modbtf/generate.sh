#!/bin/sh
# Regenerates the crash 8.0.6 references for ModuleBTFEndToEndTests: types defined only in
# modules. crash knows them from the modules' debuginfo (`mod -S` on the .ko files of Debian's
# linux-image-6.1.0-56-cloud-amd64-dbg, which scripts/fetch-debuginfo.sh --modules unpacks;
# commands.txt names that folder MODULES); crashsh reads them from the modules' BTF in the dump.
# One file per command in dump.kdump/, named like refs/crash-8.0.6 (spaces and punctuation as _).
#   usage: generate.sh   (needs ../shared/fixtures and install-crash-8.0.6.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
F=$("$root/../shared/fixtures/prepare.sh")/debian-6.1-cloud
CRASH=$("$root/../shared/tools/install-crash-8.0.6.sh" | tail -1)
modules=$(sh "$root/scripts/fetch-debuginfo.sh" --modules 6.1.0-56-cloud-amd64 | tail -1)
out=$here/dump.kdump
mkdir -p "$out"
script=$(mktemp)
trap 'rm -f "$script"' EXIT
while IFS= read -r cmd; do
    [ -n "$cmd" ] || continue
    name=$(printf '%s' "$cmd" | sed 's/[^A-Za-z0-9.-]/_/g')
    printf '%s > %s/%s.txt\n' "$(printf '%s' "$cmd" | sed "s|MODULES|$modules|g")" "$out" "$name" >> "$script"
done < "$here/commands.txt"
printf 'q\n' >> "$script"
"$CRASH" -s "$F/vmlinux-6.1.0-56-cloud-amd64" "$F/dump.kdump" < "$script" > /dev/null 2>&1
for f in "$out"/*.txt; do sed -i "s|$modules|MODULES|g" "$f"; done
# The first command only loads the modules' debuginfo; crashsh reads module BTF instead.
rm -f "$out/mod_-S_MODULES.txt"
