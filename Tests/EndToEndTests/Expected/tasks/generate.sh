#!/bin/sh
# Regenerates the crash 8.0.6 references for KernelViewTests that refs/crash-8.0.6 lacks (task,
# foreach, ps options, runq -t, set): runs crash on one dump of each crash (dump.kdump for the
# kdump crash, qemu.elf for the QEMU boot) with commands.txt in one session, one file per
# command in <dump>/; crash's error lines go to <dump>/_session.txt.
#   usage: generate.sh   (from anywhere; needs ../shared/fixtures and install-crash-8.0.6.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
for dump in dump.kdump qemu.elf; do
    rm -rf "$here/$dump"
    "$here/../run-crash-session.sh" "$here/commands.txt" "$dump" "$here/$dump" "$here/$dump/_session.txt"
done
