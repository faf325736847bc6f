#!/bin/sh
# Runs crash 8.0.6 once on a fixture dump with every command of COMMANDS (one a line), each
# redirected to OUT/<name>.txt, named like refs/crash-8.0.6 (spaces and punctuation as _).
# What crash prints outside the redirections (its error lines) goes to LOG, else nowhere.
# The generate.sh scripts beside this file use it to make the tests' references.
# With MODULES_DIR set, the word MODULES in a command stands for that folder (module .ko files
# for mod -s/-S), and the outputs name it MODULES again, so references do not hold the path.
#   usage: [MODULES_DIR=DIR] run-crash-session.sh COMMANDS DUMP OUT [LOG]    (DUMP: a fixture file name)
set -eu
commands=$1; dump=$2; out=$3; log=${4:-/dev/null}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
F=$("$root/../shared/fixtures/prepare.sh")/debian-6.1-cloud
CRASH=$("$root/../shared/tools/install-crash-8.0.6.sh" | tail -1)
mkdir -p "$out"
script=$(mktemp)
trap 'rm -f "$script"' EXIT
while IFS= read -r cmd; do
    [ -n "$cmd" ] || continue
    name=$(printf '%s' "$cmd" | sed 's/[^A-Za-z0-9.-]/_/g')
    [ -z "${MODULES_DIR:-}" ] || cmd=$(printf '%s' "$cmd" | sed "s|MODULES|$MODULES_DIR|g")
    printf '%s > %s/%s.txt\n' "$cmd" "$out" "$name" >> "$script"
done < "$commands"
printf 'q\n' >> "$script"
"$CRASH" -s "$F/vmlinux-6.1.0-56-cloud-amd64" "$F/$dump" < "$script" > "$log" 2>&1
if [ -n "${MODULES_DIR:-}" ]; then
    for f in "$out"/*.txt; do sed -i "s|$MODULES_DIR|MODULES|g" "$f"; done
fi
