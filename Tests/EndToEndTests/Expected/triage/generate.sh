#!/bin/sh
# Makes the triage tests' references: crash 8.0.6's `ps -m` (how long each task has been in its
# state) on the kdump and the QEMU fixtures, into <dump>/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
for dump in dump.kdump qemu.elf; do
    "$here/../run-crash-session.sh" "$here/commands.txt" "$dump" "$here/$dump"
done
