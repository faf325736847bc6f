#!/bin/sh
# Regenerates the crash 8.0.6 references for BtTests: `bt -F` (the frames' stack words shown
# symbolically) for the current task, the NMI-stopped CPU 1 (md5sum, pid 116) and a sleeping
# task, `foreach bt -F`/`-f`, and `bt -e`/`-E`, on dump.kdump (kdump-commands.txt) and on the
# QEMU boot's qemu.elf (qemu-commands.txt); one file per command in <dump>/, named like
# refs/crash-8.0.6 (spaces and punctuation as _).
#   usage: generate.sh   (from anywhere; needs ../shared/fixtures and install-crash-8.0.6.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
"$here/../run-crash-session.sh" "$here/kdump-commands.txt" dump.kdump "$here/dump.kdump"
"$here/../run-crash-session.sh" "$here/qemu-commands.txt" qemu.elf "$here/qemu.elf"
